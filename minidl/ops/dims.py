"""Checking and normalising ``dim`` arguments (ints or tuples, negative allowed) and the NumPy aliases."""

from __future__ import annotations

from typing import Any


def normalize_dim(dim: Any, ndim: int) -> int:
    """``dim`` in [-ndim, ndim) as a non-negative int (a 0-d tensor accepts 0 and -1)."""
    if isinstance(dim, bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"a dimension must be an integer, got {dim!r}")
    dim = dim.__index__()
    span = max(ndim, 1)
    if not -span <= dim < span:
        raise IndexError(f"dimension out of range (expected to be in range of [{-span}, {span - 1}], but got {dim})")
    return dim % span


def normalize_dims(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """``dim`` (None, an int, or a tuple/list of ints) as a sorted tuple of non-negative ints, None for all."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        dims = tuple(normalize_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise ValueError(f"dimension repeated in {tuple(dim)}")
        return tuple(sorted(dims)) if ndim else ()
    return (normalize_dim(dim, ndim),) if ndim else ()


def resolve_aliases(dim: Any, keepdim: bool, aliases: dict[str, Any], op: str) -> tuple[Any, bool]:
    """Accept NumPy's ``axis``/``keepdims`` for PyTorch's ``dim``/``keepdim``; refuse anything else."""
    unknown = set(aliases) - {"axis", "keepdims"}
    if unknown:
        raise TypeError(f"{op}() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    if "axis" in aliases:
        if dim is not None:
            raise TypeError(f"{op}(): give dim or axis, not both")
        dim = aliases["axis"]
    if "keepdims" in aliases:
        keepdim = aliases["keepdims"]
    return dim, bool(keepdim)
