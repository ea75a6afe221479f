"""accuracy / accuracy_counts: which outputs and targets count as a classification."""

from __future__ import annotations

import math

import numpy as np

import minidl
from minidl.train import accuracy
from minidl.train.metrics import accuracy_counts


def test_argmax_of_logits_against_integer_labels():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [5.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    labels = np.array([0, 2, 1, 1])
    assert accuracy_counts(logits, labels) == (3, 4)
    assert accuracy(minidl.tensor(logits, requires_grad=True), minidl.tensor(labels)) == 0.75


def test_dense_outputs_count_every_position():
    logits = np.zeros((2, 3, 4, 5))
    logits[:, 1] = 1.0
    labels = np.ones((2, 4, 5), dtype=np.int64)
    labels[0, 0, 0] = 2
    assert accuracy_counts(logits, labels) == (39, 40)


def test_non_classification_pairs_have_no_accuracy():
    assert accuracy_counts(np.zeros((4, 1)), np.zeros((4, 1))) is None  # regression
    assert accuracy_counts(np.zeros((4, 3)), np.eye(3)[[0, 1, 2, 0]]) is None  # soft labels
    assert accuracy_counts(np.zeros(4), np.zeros(4, dtype=np.int64)) is None  # one output per sample
    assert accuracy_counts(np.zeros((4, 3)), np.zeros(5, dtype=np.int64)) is None  # batch sizes differ
    assert math.isnan(accuracy(np.zeros((4, 1)), np.zeros((4, 1))))
