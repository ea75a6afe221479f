"""Shape ops against PyTorch 2.13 (CPU, float32): reshape/view/flatten, transpose/permute, squeeze/unsqueeze,
expand/broadcast_to, indexing (basic keys, integer arrays with repeats, bool masks), cat/stack/split/chunk, and
pad in every mode, over drawn shapes and memory layouts."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.ops.test_shape import basic_keys
from tests.support import arrays, cat_parts, regrouped, shapes
from tests.support import compare_with_torch as compare

F32 = np.float32


@given(data=st.data())
def test_reshape_matches_torch(data):
    x = data.draw(arrays(shapes(), dtype=F32))
    shape = data.draw(regrouped(x.shape))
    compare(lambda t: t.reshape(shape), lambda t: t.reshape(shape), x)
    compare(lambda t: minidl.reshape(t, shape), lambda t: torch.reshape(t, shape), x)


@given(data=st.data())
def test_view_matches_torch(data):
    # view never copies: minidl gets a contiguous layout, like the copy PyTorch gets.
    x = data.draw(arrays(shapes(), dtype=F32, layouts=("contiguous",)))
    shape = data.draw(regrouped(x.shape))
    compare(lambda t: t.view(shape), lambda t: t.view(shape), x)
    compare(lambda t: t.view(*shape), lambda t: t.view(*shape), x)


@given(x=arrays(shapes(min_dims=1), dtype=F32), data=st.data())
def test_flatten_matches_torch(x, data):
    start = data.draw(st.integers(-x.ndim, x.ndim - 1))
    end = data.draw(st.integers(start % x.ndim, x.ndim - 1)) - (x.ndim if data.draw(st.booleans()) else 0)
    compare(lambda t: t.flatten(start, end), lambda t: t.flatten(start, end), x)
    compare(lambda t: minidl.flatten(t), lambda t: torch.flatten(t), x)


@given(x=arrays(shapes(), dtype=F32), data=st.data())
def test_permute_transpose_matches_torch(x, data):
    span = max(x.ndim, 1)
    perm = tuple(data.draw(st.permutations(range(x.ndim))))
    d0, d1 = data.draw(st.integers(-span, span - 1)), data.draw(st.integers(-span, span - 1))
    compare(lambda t: t.permute(*perm), lambda t: t.permute(perm), x)  # torch's permute() needs a tuple for 0-d
    compare(lambda t: minidl.permute(t, perm), lambda t: torch.permute(t, perm), x)
    compare(lambda t: t.transpose(d0, d1), lambda t: t.transpose(d0, d1), x)
    # torch's .T is deprecated beyond 2 dims; reversing the dims is what it means.
    compare(lambda t: t.T, lambda t: t.permute(tuple(reversed(range(t.ndim)))), x)


@given(x=arrays(shapes(max_side=2, max_dims=4), dtype=F32), data=st.data())
def test_squeeze_unsqueeze_match_torch(x, data):
    span = max(x.ndim, 1)
    compare(lambda t: t.squeeze(), lambda t: t.squeeze(), x)
    d = data.draw(st.integers(-span, span - 1))  # a size-1 dim goes; any other is kept, in both
    compare(lambda t: t.squeeze(d), lambda t: t.squeeze(d), x)
    if x.ndim:
        dims = tuple(
            data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), max_size=x.ndim, unique_by=lambda i: i % x.ndim))
        )
        compare(lambda t: t.squeeze(dims), lambda t: t.squeeze(dims), x)
    u = data.draw(st.integers(-x.ndim - 1, x.ndim))
    compare(lambda t: t.unsqueeze(u), lambda t: t.unsqueeze(u), x)
    compare(lambda t: minidl.unsqueeze(t, u), lambda t: torch.unsqueeze(t, u), x)


@given(x=arrays(shapes(max_side=3), dtype=F32), data=st.data())
def test_expand_and_broadcast_to_match_torch(x, data):
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    target = lead + tuple(data.draw(st.integers(1, 3)) if n == 1 else n for n in x.shape)
    # -1 keeps a dim's own size, so it may stand only where the target equals it.
    sizes = lead + tuple(
        -1 if n == own and data.draw(st.booleans()) else n for n, own in zip(target[len(lead) :], x.shape)
    )
    # torch's expand() needs a tuple for 0-d.
    compare(lambda t: t.expand(*sizes), lambda t: t.expand(sizes), x)
    compare(lambda t: t.expand(sizes), lambda t: t.expand(sizes), x)
    compare(lambda t: t.broadcast_to(target), lambda t: t.broadcast_to(target), x)
    compare(lambda t: minidl.broadcast_to(t, target), lambda t: torch.broadcast_to(t, target), x)


# ------------------------------------------------------------------------------------------------------ indexing


def torch_key(key: tuple, shape: tuple) -> tuple[list[int], tuple]:
    """PyTorch takes no negative slice steps: (dims to flip first, the key for the flipped tensor) that select the
    same elements in the same order as ``key``. A slice with step -s over a dim of size n reads i0 > i1 > ...;
    in the flipped dim those are n-1-i0 < n-1-i1 < ..., a slice with step s."""
    ndim = len(shape)
    consumed = sum(k is not Ellipsis and k is not None for k in key)
    flips, out, d = [], [], 0
    for k in key:
        if k is None:
            out.append(k)
        elif k is Ellipsis:
            out.append(k)
            d += ndim - consumed
        else:
            if isinstance(k, slice) and k.step is not None and k.step < 0:
                n = shape[d]
                picked = range(n)[k]
                flips.append(d)
                k = slice(n - 1 - picked[0], n - picked[-1], -k.step) if len(picked) else slice(0, 0)
            out.append(k)
            d += 1
    return flips, tuple(out)


def _torch_getitem(key: tuple, shape: tuple):
    flips, tkey = torch_key(key, shape)
    return lambda t: (torch.flip(t, flips) if flips else t)[tkey]


@given(x=arrays(shapes(max_dims=4), dtype=F32), data=st.data())
def test_getitem_basic_matches_torch(x, data):
    key = data.draw(basic_keys(x.shape))  # ints, slices with steps 1, 2, 3, -1, -2, None, Ellipsis
    compare(lambda t: t[key], _torch_getitem(key, x.shape), x)


def test_torch_key_flips_negative_steps():
    x = np.arange(24, dtype=F32).reshape(2, 3, 4)
    for key in [
        (slice(None, None, -1),),
        (0, slice(None, None, -2), None, slice(3, 0, -2)),
        (Ellipsis, slice(-1, -5, -3)),
        (slice(1, None, -1), Ellipsis, slice(0, 3, -1)),
        (None, 1, Ellipsis, slice(2, 2, -1)),
    ]:
        np.testing.assert_array_equal(_torch_getitem(key, x.shape)(torch.from_numpy(x)).numpy(), x[key])


@given(x=arrays(shapes(min_dims=1), dtype=F32), data=st.data())
def test_getitem_integer_arrays_with_repeats_match_torch(x, data):
    n = x.shape[0]
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=8)), dtype=np.int64)
    compare(lambda t: t[minidl.tensor(idx)], lambda t: t[torch.tensor(idx)], x)
    compare(lambda t: t[idx.tolist()], lambda t: t[idx.tolist()], x)
    if x.ndim >= 2:
        m = x.shape[-1]
        cols = np.array(data.draw(st.lists(st.integers(-m, m - 1), min_size=len(idx), max_size=len(idx))))
        compare(
            lambda t: t[minidl.tensor(idx), ..., minidl.tensor(cols)],
            lambda t: t[torch.tensor(idx), ..., torch.tensor(cols)],
            x,
        )
        compare(lambda t: t[:, [0, 0]], lambda t: t[:, [0, 0]], x)
        grid = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=4, max_size=4))).reshape(2, 2)
        compare(lambda t: t[minidl.tensor(grid), 1:], lambda t: t[torch.tensor(grid), 1:], x)


@given(x=arrays(shapes(min_dims=1), dtype=F32), data=st.data())
def test_getitem_bool_mask_matches_torch(x, data):
    mask = x > 0
    compare(lambda t: t[minidl.tensor(mask)], lambda t: t[torch.tensor(mask)], x)
    k = data.draw(st.integers(1, x.ndim))  # a mask over the leading k dims
    lead = data.draw(arrays(x.shape[:k], dtype=F32)) > 0
    compare(lambda t: t[minidl.tensor(lead)], lambda t: t[torch.tensor(lead)], x)


# ------------------------------------------------------------------------------------------- cat, stack, split


@given(data=st.data())
def test_cat_and_stack_match_torch(data):
    parts, dim = data.draw(cat_parts(F32))
    base = parts[0].shape
    compare(lambda *ts: minidl.cat(ts, dim), lambda *ts: torch.cat(ts, dim), *parts)
    same = [data.draw(arrays(base, dtype=F32)) for _ in parts]
    sdim = data.draw(st.integers(-len(base) - 1, len(base)))
    compare(lambda *ts: minidl.stack(ts, sdim), lambda *ts: torch.stack(ts, sdim), *same)


def compare_pieces(ours, theirs, x: np.ndarray, dim: int) -> None:
    """Compare two ways of cutting ``x`` into pieces: their number and shapes, then their values and gradients
    through the pieces weighted 1, 2, 3... and joined again (so a piece in the wrong place shows)."""
    ours_pieces, theirs_pieces = ours(minidl.from_numpy(x)), theirs(torch.tensor(np.array(x)))
    assert [p.shape for p in ours_pieces] == [tuple(p.shape) for p in theirs_pieces]
    compare(
        lambda t: minidl.cat([p * (i + 1) for i, p in enumerate(ours(t))], dim),
        lambda t: torch.cat([p * (i + 1) for i, p in enumerate(theirs(t))], dim),
        x,
    )


@given(x=arrays(shapes(min_dims=1, max_side=5), dtype=F32), data=st.data())
def test_split_and_chunk_match_torch(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[dim]
    size = data.draw(st.integers(1, n + 1))
    compare_pieces(lambda t: t.split(size, dim), lambda t: t.split(size, dim), x, dim)
    compare_pieces(lambda t: minidl.split(t, size, dim), lambda t: torch.split(t, size, dim), x, dim)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    sections = [b - a for a, b in zip([0, *cuts], [*cuts, n])]  # zeros too
    compare_pieces(lambda t: t.split(sections, dim), lambda t: t.split(sections, dim), x, dim)
    chunks = data.draw(st.integers(1, 6))
    compare_pieces(lambda t: t.chunk(chunks, dim), lambda t: t.chunk(chunks, dim), x, dim)
    compare_pieces(lambda t: minidl.chunk(t, chunks, dim), lambda t: torch.chunk(t, chunks, dim), x, dim)


# ---------------------------------------------------------------------------------------------------------- pad


@given(x=arrays(shapes(min_dims=1, max_dims=4), dtype=F32), data=st.data())
def test_constant_pad_matches_torch(x, data):
    k = data.draw(st.integers(1, x.ndim))
    widths = []
    for d in reversed(range(x.ndim - k, x.ndim)):  # (left, right) of the last dim first
        low = -(x.shape[d] // 2)  # negative widths crop
        widths += [data.draw(st.integers(low, 3)), data.draw(st.integers(low, 3))]
    widths = tuple(widths)
    compare(lambda t: F.pad(t, widths), lambda t: TF.pad(t, widths), x)
    compare(lambda t: F.pad(t, widths, value=0.5), lambda t: TF.pad(t, widths, value=0.5), x)
    compare(
        lambda t: F.pad(t, widths, mode="constant", value=-2.0),
        lambda t: TF.pad(t, widths, mode="constant", value=-2.0),
        x,
    )


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@given(data=st.data())
def test_pad_modes_match_torch(mode, data):
    # PyTorch pads the last k = 1, 2 or 3 dims in these modes, of a (C, *spatial) or (N, C, *spatial) input.
    k = data.draw(st.integers(1, 3))
    lead = tuple(data.draw(st.lists(st.integers(1, 2), min_size=1, max_size=2)))
    spatial = tuple(data.draw(st.lists(st.integers(1, 4 if k < 3 else 3), min_size=k, max_size=k)))
    x = data.draw(arrays(lead + spatial, dtype=F32))
    widths = []
    for n in reversed(spatial):
        limit = {"reflect": n - 1, "replicate": 3, "circular": n}[mode]
        widths += [data.draw(st.integers(0, limit)), data.draw(st.integers(0, limit))]
    widths = tuple(widths)
    compare(lambda t: F.pad(t, widths, mode=mode), lambda t: TF.pad(t, widths, mode=mode), x)
