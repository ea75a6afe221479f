"""SSD-lite: a single-shot detector on a classic backbone (fine-tuning of the third kind: a classifier becomes the
feature extractor of a bigger model).

The backbone's ``features`` (MobileNet v1 / v2, VGG... from ``minidl.models``) run up to their last layer used;
the last layer at each of the ``num_feature_maps`` coarsest resolutions feeds a pair of heads, SSDLite's
depthwise-separable convolutions (3×3 depthwise + BN + ReLU6, then a 1×1 convolution): one predicts, for each of
the map's default boxes per cell, 4 offsets (``SSDBoxCoder``), the other C + 1 class logits (0: background).
``forward`` returns both for all default boxes; ``detect`` turns them into boxes (``postprocess``); training uses
``match_defaults`` and ``multibox_loss``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minidl.autograd import no_grad
from minidl.models import get_model
from minidl.models.base import ImageClassifier
from minidl.models.detection.postprocess import postprocess
from minidl.nn.containers import ModuleList, Sequential
from minidl.nn.layers.activation import ReLU6
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.normalization import BatchNorm2d
from minidl.nn.module import Module
from minidl.ops import cat
from minidl.tensor import Tensor, zeros
from minidl.vision.anchors import boxes_per_cell, default_boxes
from minidl.vision.box_coder import SSDBoxCoder


def separable_head(in_channels: int, out_channels: int) -> Sequential:
    """SSDLite's prediction layer: 3×3 depthwise conv + BN + ReLU6, then a 1×1 conv with bias (keys 0-3)."""
    return Sequential(
        Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
        BatchNorm2d(in_channels),
        ReLU6(inplace=True),
        Conv2d(in_channels, out_channels, 1),
    )


def feature_taps(features: Sequential, in_channels: int, image_size: int, count: int) -> list[tuple[int, int, int]]:
    """(layer index, channels, map size) of the last layer at each of the ``count`` coarsest resolutions of
    ``features`` for a square image of ``image_size`` (found by running a blank image through it in eval mode)."""
    was_training = features.training
    features.eval()
    last_at: dict[tuple[int, int], tuple[int, int]] = {}
    try:
        with no_grad():
            x = zeros(1, in_channels, image_size, image_size)
            for i, layer in enumerate(features):
                x = layer(x)
                last_at[tuple(x.shape[2:])] = (i, x.shape[1])
    finally:
        features.train(was_training)
    taps = sorted(((i, c, size[0]) for size, (i, c) in last_at.items()), key=lambda t: t[0])
    if len(taps) < count:
        raise ValueError(f"ssd_lite: the backbone has {len(taps)} resolutions at image_size {image_size}, fewer than "
                         f"num_feature_maps={count}")  # fmt: skip
    return taps[-count:]


class SSDLite(Module):
    """An SSD-style detector: ``backbone`` (a Sequential of feature layers), heads on the layers ``taps`` and the
    default boxes of their maps.

    forward(x): x (N, C_in, S, S) -> (locations (N, A, 4), scores (N, A, num_classes + 1)) for the A default boxes
    (``default_boxes``, (A, 4) xyxy in fractions of the image, a non-persistent buffer).
    """

    def __init__(self, backbone: Sequential, taps: Sequence[tuple[int, int, int]], num_classes: int, image_size: int,
                 scales: Sequence[float], aspect_ratios: Sequence[Sequence[float]],
                 variances: Sequence[float] = (0.1, 0.2)):  # fmt: skip
        super().__init__()
        if len(aspect_ratios) != len(taps):
            raise ValueError(f"SSDLite: one list of aspect ratios per feature map ({len(taps)}) expected, got "
                             f"{len(aspect_ratios)}")  # fmt: skip
        last = max(i for i, _, _ in taps)
        self.backbone = Sequential(*list(backbone)[: last + 1])
        self.taps = [i for i, _, _ in taps]
        self.num_classes, self.image_size = num_classes, image_size
        extra = len(scales) == len(taps) + 1
        per_cell = [boxes_per_cell(r, extra) for r in aspect_ratios]
        self.loc_heads = ModuleList(separable_head(c, k * 4) for (_, c, _), k in zip(taps, per_cell))
        self.conf_heads = ModuleList(separable_head(c, k * (num_classes + 1)) for (_, c, _), k in zip(taps, per_cell))
        self.coder = SSDBoxCoder(variances)
        self.register_buffer("default_boxes", default_boxes([s for _, _, s in taps], scales, aspect_ratios),
                             persistent=False)  # fmt: skip

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (N, C_in, S, S) -> (locations (N, A, 4), scores (N, A, num_classes + 1))."""
        maps, h = [], x
        for i, layer in enumerate(self.backbone):
            h = layer(h)
            if i in self.taps:
                maps.append(h)
        n = x.shape[0]
        locations = [head(m).permute(0, 2, 3, 1).reshape(n, -1, 4) for head, m in zip(self.loc_heads, maps)]
        scores = [
            head(m).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes + 1) for head, m in zip(self.conf_heads, maps)
        ]
        return cat(locations, dim=1), cat(scores, dim=1)

    def detect(self, x: Tensor, score_threshold: float = 0.01, iou_threshold: float = 0.45, top_k: int = 100,
               **kwargs: Any) -> list[dict[str, np.ndarray]]:  # fmt: skip
        """Detections of each image of x (N, C_in, S, S), in eval mode without gradients (the mode is restored):
        ``postprocess``'s dicts, boxes in pixels, labels from 0."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                locations, scores = self(x)
        finally:
            self.train(was_training)
        size = tuple(x.shape[2:])
        return postprocess(locations, scores, self.default_boxes, self.coder, size, score_threshold, iou_threshold,
                           top_k, **kwargs)  # fmt: skip


def ssd_lite(
    backbone: ImageClassifier | str = "mobilenet_v1",
    num_classes: int = 10,
    image_size: int = 96,
    in_channels: int = 1,
    num_feature_maps: int = 2,
    scales: Sequence[float] | None = None,
    aspect_ratios: Sequence[Sequence[float]] | None = None,
    variances: Sequence[float] = (0.1, 0.2),
    **backbone_kwargs: Any,
) -> SSDLite:
    """An SSD-lite detector for ``num_classes`` classes on square images of ``image_size``.

    backbone: a model of the zoo (its ``features`` are reused, weights and all: pass a pre-trained one to
        fine-tune), or its name, built with ``in_channels`` and ``backbone_kwargs`` (e.g. ``alpha=0.25,
        small_input=True`` for MobileNet v1).
    num_feature_maps: how many of the backbone's coarsest resolutions get heads (>= 1; SSD uses several).
    scales: one default-box scale per map (fractions of the image), plus one for SSD's extra square boxes;
        default: evenly from 0.2 to 0.9. aspect_ratios: per map, width / height ratios; default (1, 2, 0.5).
    """
    if isinstance(num_feature_maps, bool) or not isinstance(num_feature_maps, int) or num_feature_maps < 1:
        raise ValueError(f"ssd_lite: num_feature_maps must be a positive integer, got {num_feature_maps!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"ssd_lite: num_classes must be a positive integer, got {num_classes!r}")
    if isinstance(backbone, str):
        backbone = get_model(backbone, in_channels=in_channels, **backbone_kwargs)
    features = getattr(backbone, "features", None)
    if not isinstance(features, Sequential):
        raise TypeError(f"ssd_lite: the backbone needs a Sequential of feature layers as .features (the zoo's "
                        f"MobileNet and VGG have one), got {type(backbone).__name__}")  # fmt: skip
    taps = feature_taps(features, in_channels, image_size, num_feature_maps)
    if scales is None:
        scales = np.linspace(0.2, 0.9, num_feature_maps + 1).tolist()
    if aspect_ratios is None:
        aspect_ratios = [[1.0, 2.0, 0.5]] * num_feature_maps
    return SSDLite(features, taps, num_classes, image_size, scales, aspect_ratios, variances)
