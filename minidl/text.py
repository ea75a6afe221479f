"""Wording shared by messages and printed lines."""

from __future__ import annotations


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``n`` with ``noun`` in the number it needs: ``plural(1, "epoch")`` is "1 epoch", ``plural(3, "epoch")``
    "3 epochs" (``plural_form`` for nouns that do not just take an s)."""
    return f"{n} {noun if n == 1 else plural_form or noun + 's'}"
