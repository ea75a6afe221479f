"""minidl's benchmark suite: minidl and PyTorch side by side on the same inputs and thread count.

Run ``python -m benchmarks --help``. Results are printed as a Markdown table and written as Markdown and JSON
under ``benchmarks/results/`` (or ``--out``).
"""
