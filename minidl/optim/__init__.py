"""Optimizers (``SGD``, ``Adam``, ``AdamW``, ``RMSprop``) and learning-rate schedules (``optim.lr_scheduler``).

They follow PyTorch's ``torch.optim``: same names, arguments, defaults, update formulas, parameter groups and
state-dict layout::

    optimizer = minidl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

A new optimizer subclasses ``Optimizer`` and defines ``_update(p, grad, state, group)`` (one parameter, one step).
"""

from minidl.optim import lr_scheduler
from minidl.optim.adam import Adam
from minidl.optim.adamw import AdamW
from minidl.optim.optimizer import Optimizer
from minidl.optim.rmsprop import RMSprop
from minidl.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
