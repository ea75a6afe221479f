"""Small models built the same way in minidl and in PyTorch, shared by the nn tests. Each builder takes the
library (``minidl`` or ``torch``) and uses only names the two share."""

from __future__ import annotations

from collections import OrderedDict


def small_cnn(lib):
    """Conv-BN-ReLU-pool features, a depthwise conv, global pooling, then a dropout + linear classifier."""
    nn = lib.nn
    return nn.Sequential(
        OrderedDict(
            features=nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1, bias=False),
                nn.BatchNorm2d(8),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 8, 3, padding=1, groups=8),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
            ),
            flatten=nn.Flatten(),
            classifier=nn.Sequential(nn.Dropout(0.5), nn.Linear(8, 10)),
        )
    )


def net(lib):
    """A Module subclass with a parameter of its own, a buffer, children, a ModuleList and a ModuleDict."""
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(lib.ones(1))
            self.conv = nn.Conv2d(1, 2, 3)
            self.bn = nn.BatchNorm2d(2)
            self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4), nn.ReLU()])
            self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 3)})
            self.register_buffer("steps", lib.zeros(3))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x):
            return x

    return Net()
