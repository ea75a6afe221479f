"""Winograd's minimal filtering for 3×3 convolutions of stride 1: F(m×m, 3×3), m = 2 or 4 (Lavin & Gray 2016).

A stride-1 3×3 cross-correlation computes each m×m block ("tile") of the output from an α×α block of the padded
input (α = m + 2), and Winograd's identity gives that block with α² multiplications per (input, output) channel
pair instead of 9 m²:

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A          g: the 3×3 filter, d: the α×α input tile, Y: the m×m output tile

Summed over input channels, the ⊙ becomes α² independent matrix products, one per position (ξ, ν) of the α×α
transformed tile: M[ξν] (C_out, T) = U[ξν] (C_out, C_in) @ V[ξν] (C_in, T), with T = N · tiles_h · tiles_w
tiles. F(2×2, 3×3) saves 2.25× the multiplications and F(4×4, 3×3) 4×, at the price of float32 rounding that grows
with m (the transforms' coefficients reach 8 and 1/24; tests bound it against the direct algorithm).

The same transforms give both gradients:
- the input gradient is a stride-1 3×3 convolution of the output gradient with the filters turned 180° and
  C_in/C_out swapped, padded by (2 - padding) on every side: the forward algorithm again;
- the weight gradient is the adjoint of the forward pass with respect to U: dU[ξν] = dM[ξν] @ V[ξν]ᵀ with
  dM = A dY Aᵀ per tile (``winograd_output_transform_adjoint``), then dg = Gᵀ dU G
  (``winograd_filter_transform_adjoint``).

Conventions of every implementation: x, g are NCHW float32/float64; padding is (top, bottom, left, right), each
0, 1 or 2 (the output must keep at least one pixel); tiles_h = ceil(Ho / m), tiles_w = ceil(Wo / m) with
Ho = H + top + bottom - 2 (likewise Wo); tile t = (n · tiles_h + ty) · tiles_w + tx covers output rows
ty·m ... ty·m + m - 1 (the last tiles overhang the output: what falls outside is zero on the way in and dropped on
the way out); transformed arrays are C-contiguous (α², channels, T), position ξν = ξ · α + ν.
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.arguments import float_array_shape, int_tuple, show

TILE_SIZES = (2, 4)


def winograd_matrices(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Bᵀ (α, α), G (α, 3), Aᵀ (m, α)) of F(m×m, 3×3) in float64, with interpolation points 0, ±1 (m = 2) and
    0, ±1, ±2 (m = 4), plus the point at infinity."""
    if m == 2:
        bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        g = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        at = [[1, 1, 1, 0], [0, 1, -1, -1]]
    elif m == 4:
        bt = [
            [4, 0, -5, 0, 1, 0],
            [0, -4, -4, 1, 1, 0],
            [0, 4, -4, -1, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0],
            [0, 4, 0, -5, 0, 1],
        ]
        g = [
            [1 / 4, 0, 0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0, 0, 1],
        ]
        at = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    else:
        raise ValueError(f"winograd: tile size m of {show(TILE_SIZES)} expected, got {m!r}")
    return np.array(bt, dtype=np.float64), np.array(g, dtype=np.float64), np.array(at, dtype=np.float64)


def winograd_tiles(out_hw: tuple[int, int], m: int) -> tuple[int, int]:
    """(tiles_h, tiles_w) = (ceil(Ho / m), ceil(Wo / m))."""
    return -(-out_hw[0] // m), -(-out_hw[1] // m)


# ---- argument checks, shared by every implementation ----


def _tile_size(m, what: str) -> int:
    if isinstance(m, (bool, np.bool_)) or not hasattr(type(m), "__index__") or int(m) not in TILE_SIZES:
        raise ValueError(f"{what}: tile size m of {show(TILE_SIZES)} expected, got {m!r}")
    return int(m)


def _padding(padding, what: str) -> tuple[int, int, int, int]:
    pads = int_tuple(padding, 4, 0, "padding (top, bottom, left, right)", what)
    if max(pads) > 2:
        raise ValueError(f"{what}: padding of at most 2 on each side expected (3×3 filters), got {show(pads)}")
    return pads


def check_winograd_input_args(x, m, padding) -> tuple[int, int, int, int]:
    """(tiles_h, tiles_w, Ho, Wo) for ``winograd_input_transform(x, m, padding)``."""
    what = "winograd_input_transform"
    _, _, h, w = float_array_shape(x, "x", "(N, C, H, W)", what)
    m = _tile_size(m, what)
    pt, pb, pl, pr = _padding(padding, what)
    ho, wo = h + pt + pb - 2, w + pl + pr - 2
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{what}: a padded input of at least 3x3 expected (3×3 filters), got {h + pt + pb}x{w + pl + pr}"
        )
    return (*winograd_tiles((ho, wo), m), ho, wo)


def check_winograd_output_args(tiles, m, out_shape) -> tuple[int, int]:
    """(tiles_h, tiles_w) for ``winograd_output_transform(tiles, m, out_shape)``: tiles (α², C, N · th · tw)."""
    what = "winograd_output_transform"
    m = _tile_size(m, what)
    n, c, ho, wo = int_tuple(out_shape, 4, 1, "out_shape (N, C, Ho, Wo)", what)
    th, tw = winograd_tiles((ho, wo), m)
    expected = ((m + 2) ** 2, c, n * th * tw)
    shape = float_array_shape(tiles, "tiles", "(α², C, T)", what)
    if tuple(shape) != expected:
        raise ValueError(f"{what}: tiles of shape {show(expected)} (α², C, N · tiles_h · tiles_w) expected, got "
                         f"{show(shape)}")  # fmt: skip
    return th, tw


def check_winograd_output_adjoint_args(g, m) -> tuple[int, int]:
    """(tiles_h, tiles_w) for ``winograd_output_transform_adjoint(g, m)``: g (N, C, Ho, Wo)."""
    what = "winograd_output_transform_adjoint"
    _, _, ho, wo = float_array_shape(g, "g", "(N, C, Ho, Wo)", what)
    return winograd_tiles((ho, wo), _tile_size(m, what))


def check_winograd_filter_args(w, m) -> int:
    """m for ``winograd_filter_transform(w, m)``: w (C_out, C_in, 3, 3)."""
    what = "winograd_filter_transform"
    shape = float_array_shape(w, "w", "(C_out, C_in, 3, 3)", what)
    if len(shape) != 4 or tuple(shape[2:]) != (3, 3):
        raise ValueError(f"{what}: w of shape (C_out, C_in, 3, 3) expected, got {show(shape)}")
    return _tile_size(m, what)


def check_winograd_filter_adjoint_args(grad_u, m) -> int:
    """m for ``winograd_filter_transform_adjoint(grad_u, m)``: grad_u (α², C_out, C_in)."""
    what = "winograd_filter_transform_adjoint"
    m = _tile_size(m, what)
    shape = float_array_shape(grad_u, "grad_u", "(α², C_out, C_in)", what)
    if len(shape) != 3 or shape[0] != (m + 2) ** 2:
        raise ValueError(f"{what}: grad_u of shape ({(m + 2) ** 2}, C_out, C_in) expected for m={m}, got "
                         f"{show(shape)}")  # fmt: skip
    return m


# ---- the kernels ----


def _filter_matrix(m: int) -> np.ndarray:
    """kron(G, G) (α², 9): row ξ·α + ν, column i·3 + j holds G[ξ, i] · G[ν, j], so that G g Gᵀ of every filter g is
    one product with the filters' 9 taps laid out as columns."""
    _, g, _ = winograd_matrices(m)
    return np.kron(g, g)


def winograd_filter_transform(w: np.ndarray, m: int) -> np.ndarray:
    """U = G w Gᵀ for every filter: w (C_out, C_in, 3, 3) -> (α², C_out, C_in), in w's dtype (computed in float64)."""
    m = check_winograd_filter_args(w, m)
    taps = np.asarray(w, dtype=np.float64).reshape(-1, 9).T  # (9, C_out · C_in)
    u = _filter_matrix(m) @ taps
    return np.ascontiguousarray(u.reshape(-1, w.shape[0], w.shape[1]), dtype=w.dtype)


def winograd_filter_transform_adjoint(grad_u: np.ndarray, m: int) -> np.ndarray:
    """dw = Gᵀ dU G for every filter: grad_u (α², C_out, C_in) -> (C_out, C_in, 3, 3), in grad_u's dtype."""
    m = check_winograd_filter_adjoint_args(grad_u, m)
    du = np.asarray(grad_u, dtype=np.float64).reshape(grad_u.shape[0], -1)  # (α², C_out · C_in)
    taps = _filter_matrix(m).T @ du  # (9, C_out · C_in)
    return np.ascontiguousarray(taps.T.reshape(*grad_u.shape[1:], 3, 3), dtype=grad_u.dtype)


def _tile_view(padded: np.ndarray, m: int, th: int, tw: int) -> np.ndarray:
    """(N, C, th, tw, α, α) overlapping tiles of a padded (N, C, th·m + 2, tw·m + 2) array."""
    a = m + 2
    n, c = padded.shape[:2]
    s = padded.strides
    return np.lib.stride_tricks.as_strided(
        padded, (n, c, th, tw, a, a), (s[0], s[1], m * s[2], m * s[3], s[2], s[3]), writeable=False
    )


def winograd_input_transform(x: np.ndarray, m: int, padding: tuple[int, int, int, int]) -> np.ndarray:
    """V = Bᵀ d B for every α×α input tile d: x (N, C, H, W) -> (α², C, N · tiles_h · tiles_w)."""
    th, tw, _, _ = check_winograd_input_args(x, m, padding)
    pt, _, pl, _ = padding
    n, c, h, w = x.shape
    bt, _, _ = winograd_matrices(m)
    a = m + 2
    # zeros around x: `padding` before, and after it as far as the last tiles reach (th·m + 2 rows in all)
    padded = np.zeros((n, c, th * m + 2, tw * m + 2), dtype=np.float64)
    rows, cols = min(h, th * m + 2 - pt), min(w, tw * m + 2 - pl)
    padded[:, :, pt : pt + rows, pl : pl + cols] = x[:, :, :rows, :cols]
    v = np.einsum("ai,nctwij,bj->abcntw", bt, _tile_view(padded, m, th, tw), bt)
    return np.ascontiguousarray(v.reshape(a * a, c, n * th * tw), dtype=x.dtype)


def winograd_output_transform(tiles: np.ndarray, m: int, out_shape: tuple[int, int, int, int]) -> np.ndarray:
    """Y = Aᵀ M A for every transformed tile: tiles (α², C, N · tiles_h · tiles_w) -> (N, C, Ho, Wo) =
    ``out_shape``, the overhang of the last tiles dropped."""
    th, tw = check_winograd_output_args(tiles, m, out_shape)
    n, c, ho, wo = out_shape
    _, _, at = winograd_matrices(m)
    a = m + 2
    mt = np.asarray(tiles, dtype=np.float64).reshape(a, a, c, n, th, tw)
    y = np.einsum("ia,abcntw,jb->nctiwj", at, mt, at).reshape(n, c, th * m, tw * m)
    return np.ascontiguousarray(y[:, :, :ho, :wo], dtype=tiles.dtype)


def winograd_output_transform_adjoint(g: np.ndarray, m: int) -> np.ndarray:
    """The adjoint of ``winograd_output_transform``: dM = A dY Aᵀ for every m×m tile of g (zero beyond the output):
    g (N, C, Ho, Wo) -> (α², C, N · tiles_h · tiles_w)."""
    th, tw = check_winograd_output_adjoint_args(g, m)
    n, c, ho, wo = g.shape
    _, _, at = winograd_matrices(m)
    a = m + 2
    full = np.zeros((n, c, th * m, tw * m), dtype=np.float64)
    full[:, :, :ho, :wo] = g
    dy = full.reshape(n, c, th, m, tw, m)
    dm = np.einsum("ia,nctiwj,jb->abcntw", at, dy, at)
    return np.ascontiguousarray(dm.reshape(a * a, c, n * th * tw), dtype=g.dtype)
