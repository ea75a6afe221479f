"""Vision building blocks for detection, with torchvision's names and box convention (x1, y1, x2, y2):

- ``ops``: ``box_area``, ``box_iou``, ``box_convert`` (differentiable), ``nms``, ``batched_nms`` (the device's nms
  kernel; indices by decreasing score);
- ``box_coder``: ``SSDBoxCoder``, boxes as variance-scaled offsets from default boxes, and back;
- ``anchors``: ``default_boxes``, SSD's default boxes for a list of feature maps, scales and aspect ratios;
- ``metrics``: VOC-style AP and mAP at an IoU threshold, COCO-style mAP@[.5:.95].

    from minidl.vision import ops
    keep = ops.nms(boxes, scores, iou_threshold=0.45)
"""

from minidl.vision import anchors, box_coder, metrics, ops
from minidl.vision.anchors import default_boxes
from minidl.vision.box_coder import SSDBoxCoder
from minidl.vision.ops import batched_nms, box_area, box_convert, box_iou, nms

__all__ = [
    "SSDBoxCoder", "anchors", "batched_nms", "box_area", "box_coder", "box_convert", "box_iou", "default_boxes",
    "metrics", "nms", "ops",
]  # fmt: skip
