"""matmul against PyTorch 2.13 (CPU, float32): vectors, matrices and broadcast batches, in every memory layout."""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import minidl
from tests.ops.test_matmul import matmul_shapes
from tests.support import arrays
from tests.support import compare_with_torch as compare

F32 = np.float32


@given(shapes=matmul_shapes(), data=st.data())
def test_matmul_matches_torch(shapes, data):
    a = data.draw(arrays(shapes[0], dtype=F32))
    b = data.draw(arrays(shapes[1], dtype=F32))
    compare(lambda x, y: x @ y, lambda x, y: x @ y, a, b)
    compare(minidl.matmul, torch.matmul, a, b)
    compare(lambda x, y: x.matmul(y), lambda x, y: x.matmul(y), a, b)


@given(shapes=matmul_shapes(), data=st.data())
def test_matmul_with_a_constant_operand_matches_torch(shapes, data):
    """Only one side requires grad (the other is data, e.g. an input batch), in both orders."""
    a = data.draw(arrays(shapes[0], dtype=F32))
    b = data.draw(arrays(shapes[1], dtype=F32))
    compare(lambda x: x @ minidl.from_numpy(b), lambda x: x @ torch.from_numpy(np.array(b)).to(x.dtype), a)
    compare(lambda y: minidl.from_numpy(a) @ y, lambda y: torch.from_numpy(np.array(a)).to(y.dtype) @ y, b)
