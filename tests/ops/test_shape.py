"""Shape ops: gradients over drawn shapes and layouts, view semantics, and the errors for bad arguments."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import arrays, cat_parts, check_gradients, regrouped, shapes


@st.composite
def reshape_targets(draw):
    """(array, new shape): the new shape regroups the same number of elements, maybe with one -1."""
    x = draw(arrays(shapes()))
    return x, draw(regrouped(x.shape))


@given(args=reshape_targets())
def test_reshape(args):
    x, shape = args
    out = minidl.from_numpy(x).reshape(shape)
    assert out.shape == x.reshape(shape).shape
    check_gradients(lambda t: t.reshape(shape) * 2, x)


def test_view_shares_memory_and_refuses_incompatible_layouts():
    x = minidl.arange(6, dtype=minidl.float32)
    v = x.view(2, 3)
    with minidl.no_grad():
        v[0, 0] = 100.0
    assert x[0].item() == 100.0
    with pytest.raises(RuntimeError, match="reshape"):
        v.T.view(6)
    assert v.T.reshape(6).tolist() == [100.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) into \(4,\)"):
        v.reshape(4)
    with pytest.raises(ValueError, match="into"):
        v.reshape(-1, -1)


@given(x=arrays(shapes(min_dims=1)), data=st.data())
def test_flatten(x, data):
    start = data.draw(st.integers(-x.ndim, x.ndim - 1))
    end = data.draw(st.integers(start % x.ndim, x.ndim - 1))
    expected = x.shape[: start % x.ndim] + (math.prod(x.shape[start % x.ndim : end + 1]),) + x.shape[end + 1 :]
    assert minidl.from_numpy(x).flatten(start, end).shape == expected
    check_gradients(lambda t: t.flatten(start, end) * 2, x)


@given(x=arrays(shapes(min_dims=1)), data=st.data())
def test_permute_and_transpose(x, data):
    perm = tuple(data.draw(st.permutations(range(x.ndim))))
    d0, d1 = data.draw(st.integers(-x.ndim, x.ndim - 1)), data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert minidl.from_numpy(x).permute(perm).shape == np.transpose(x, perm).shape
    check_gradients(lambda t: t.permute(*perm) * 2, x)
    check_gradients(lambda t: t.transpose(d0, d1) * 2, x)
    check_gradients(lambda t: t.T * 2, x)


@given(x=arrays(shapes(max_side=2)), data=st.data())
def test_squeeze_unsqueeze(x, data):
    dim = data.draw(st.integers(-x.ndim - 1, x.ndim))
    assert minidl.from_numpy(x).unsqueeze(dim).shape == np.expand_dims(x, dim).shape
    check_gradients(lambda t: t.unsqueeze(dim) * 2, x)
    assert minidl.from_numpy(x).squeeze().shape == np.squeeze(x).shape
    check_gradients(lambda t: t.squeeze() * 2, x)
    if x.ndim:
        d = data.draw(st.integers(-x.ndim, x.ndim - 1))
        expected = np.squeeze(x, d).shape if x.shape[d] == 1 else x.shape  # not size 1: kept, as in PyTorch
        assert minidl.from_numpy(x).squeeze(d).shape == expected


@given(x=arrays(shapes(max_side=3)), data=st.data())
def test_expand_and_broadcast_to(x, data):
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    target = lead + tuple(data.draw(st.integers(1, 3)) if n == 1 else n for n in x.shape)
    # -1 keeps a dim's own size, so it may stand only where the target equals it.
    sizes = lead + tuple(
        -1 if n == own and data.draw(st.booleans()) else n for n, own in zip(target[len(lead) :], x.shape)
    )
    out = minidl.from_numpy(x).expand(*sizes)
    assert out.shape == target
    check_gradients(lambda t: t.expand(*sizes) * 2, x)
    check_gradients(lambda t: t.broadcast_to(target) * 2, x)


def test_expand_errors_name_the_shapes():
    x = minidl.ones(2, 3)
    with pytest.raises(ValueError, match=r"\(2, 3\) cannot be broadcast to \(2, 4\)"):
        x.expand(2, 4)
    with pytest.raises(ValueError, match="new leading dim"):
        x.expand(-1, 2, 3)


@st.composite
def basic_keys(draw, shape):
    """A basic index for ``shape``: ints, slices with any step (negative too), None and Ellipsis."""
    key = []
    dims = list(range(len(shape)))
    use_ellipsis = draw(st.booleans()) and len(shape) > 0
    cut = draw(st.integers(0, len(shape))) if use_ellipsis else len(shape)
    for d in dims[:cut]:
        n = shape[d]
        kind = draw(st.sampled_from(["int", "slice", "full"]))
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            step = draw(st.sampled_from([1, 2, -1, -2, 3]))
            key.append(slice(draw(st.none() | st.integers(-n, n)), draw(st.none() | st.integers(-n, n)), step))
        else:
            key.append(slice(None))
        if draw(st.integers(0, 4)) == 0:
            key.append(None)
    if use_ellipsis:
        key.append(Ellipsis)
    return tuple(key)


@given(x=arrays(shapes()), data=st.data())
def test_getitem_basic(x, data):
    key = data.draw(basic_keys(x.shape))
    out = minidl.from_numpy(x)[key]
    np.testing.assert_array_equal(out.numpy(), x[key])
    check_gradients(lambda t: t[key] * 2, x)


@given(x=arrays(shapes(min_dims=1)), data=st.data())
def test_getitem_integer_arrays_with_repeats_accumulate(x, data):
    n = x.shape[0]
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8)), dtype=np.int64)
    as_tensor = data.draw(st.booleans())
    key = minidl.tensor(idx) if as_tensor else idx
    out = minidl.from_numpy(x)[key]
    np.testing.assert_array_equal(out.numpy(), x[idx])
    check_gradients(lambda t: t[key] * 2, x)
    if x.ndim >= 2:
        m = x.shape[-1]
        cols = np.array(data.draw(st.lists(st.integers(0, m - 1), min_size=len(idx), max_size=len(idx))))
        check_gradients(lambda t: t[idx, ..., cols] * 2, x)
        check_gradients(lambda t: t[:, [0, 0]] * 2, x)


def test_repeated_index_gradient_counts_every_read():
    x = minidl.zeros(4, requires_grad=True)
    x[[0, 0, 3, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 0.0, 1.0]


@given(x=arrays(shapes(min_dims=1)))
def test_getitem_bool_mask(x):
    mask = x > 0
    np.testing.assert_array_equal(minidl.from_numpy(x)[minidl.from_numpy(mask)].numpy(), x[mask])
    check_gradients(lambda t: t[mask] * 2, x)


def test_getitem_errors():
    x = minidl.ones(2, 3)
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match="integer or bool, got float32"):
        x[minidl.tensor([0.0])]


@given(data=st.data())
def test_cat_and_stack(data):
    parts, dim = data.draw(cat_parts())
    base = parts[0].shape
    np.testing.assert_array_equal(
        minidl.cat([minidl.from_numpy(p) for p in parts], dim).numpy(), np.concatenate(parts, dim)
    )
    check_gradients(lambda *ts: minidl.cat(ts, dim) * 2, *parts)
    same = [data.draw(arrays(base)) for _ in parts]
    sdim = data.draw(st.integers(-len(base) - 1, len(base)))
    np.testing.assert_array_equal(
        minidl.stack([minidl.from_numpy(p) for p in same], sdim).numpy(), np.stack(same, sdim)
    )
    check_gradients(lambda *ts: minidl.stack(ts, sdim) * 2, *same)


def test_cat_and_stack_errors():
    with pytest.raises(ValueError, match=r"\[\(2, 3\), \(2, 4\)\]"):
        minidl.cat([minidl.ones(2, 3), minidl.ones(2, 4)], 0)
    with pytest.raises(ValueError, match="same shape"):
        minidl.stack([minidl.ones(2), minidl.ones(3)])
    with pytest.raises(ValueError, match="non-empty"):
        minidl.cat([])
    assert minidl.cat([minidl.ones(2, dtype=minidl.int64), minidl.ones(1)]).dtype == minidl.float32


@given(x=arrays(shapes(min_dims=1, max_side=6)), data=st.data())
def test_split_and_chunk(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[dim]
    size = data.draw(st.integers(1, n + 1))
    pieces = minidl.from_numpy(x).split(size, dim)
    expected = np.split(x, range(size, n, size), axis=dim)
    assert [p.shape for p in pieces] == [e.shape for e in expected]
    check_gradients(lambda t: minidl.cat([p * (i + 1) for i, p in enumerate(t.split(size, dim))], dim), x)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=2)))
    sections = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    assert [p.shape[dim] for p in minidl.from_numpy(x).split(sections, dim)] == sections
    chunks = data.draw(st.integers(1, 4))
    assert sum(p.shape[dim] for p in minidl.from_numpy(x).chunk(chunks, dim)) == n


def test_split_errors():
    with pytest.raises(ValueError, match="do not add up"):
        minidl.ones(5).split([2, 2])
    with pytest.raises(ValueError, match="positive integer"):
        minidl.ones(5).split(0)


@st.composite
def pad_args(draw):
    x = draw(arrays(shapes(min_dims=1, max_side=4)))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = draw(st.integers(1, x.ndim))
    widths = []
    for d in reversed(range(x.ndim - k, x.ndim)):
        n = x.shape[d]
        limit = {"constant": 3, "reflect": n - 1, "replicate": 3, "circular": n}[mode]
        low = -(n // 2) if mode == "constant" else 0
        widths += [draw(st.integers(low, limit)), draw(st.integers(low, limit))]
    return x, tuple(widths), mode


@given(args=pad_args())
def test_pad(args):
    x, widths, mode = args
    check_gradients(lambda t: F.pad(t, widths, mode=mode, value=0.5) * 2, x)


def test_pad_matches_numpy_and_errors():
    x = minidl.arange(6, dtype=minidl.float32).reshape(2, 3)
    np.testing.assert_array_equal(F.pad(x, (1, 2)).numpy(), np.pad(x.numpy(), ((0, 0), (1, 2))))
    np.testing.assert_array_equal(
        F.pad(x, (1, 1, 1, 0), mode="replicate").numpy(), np.pad(x.numpy(), ((1, 0), (1, 1)), mode="edge")
    )
    np.testing.assert_array_equal(F.pad(x, (-1, 0), value=9).numpy(), x.numpy()[:, 1:])
    with pytest.raises(ValueError, match="even number"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="smaller than the size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="mode must be"):
        F.pad(x, (1, 1), mode="mirror")
