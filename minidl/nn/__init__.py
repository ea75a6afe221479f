"""Neural-network building blocks. ``minidl.nn.functional`` holds the ops under PyTorch's names."""

from minidl.nn import functional

__all__ = ["functional"]
