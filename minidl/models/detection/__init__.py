"""Object detection: SSD-lite on a backbone of the zoo (the course's third kind of fine-tuning).

    from minidl.models.detection import match_defaults, multibox_loss, ssd_lite
    model = ssd_lite(pretrained_mobilenet, num_classes=10, image_size=96)
    locations, scores = model(images)                                   # (N, A, 4), (N, A, 11)
    classes, offsets = match_defaults(model.default_boxes, boxes, labels, model.coder)
    loc_loss, conf_loss = multibox_loss(locations, scores, classes, offsets)
    detections = model.detect(images)                                   # per image: boxes, scores, labels

Modules: ``ssd`` (the model and ``ssd_lite``), ``matching`` (training targets), ``loss`` (``smooth_l1_loss``,
``multibox_loss`` with 3:1 hard-negative mining), ``postprocess`` (decode + per-class NMS + top-k).
"""

from minidl.models.detection.loss import hard_negatives, multibox_loss, smooth_l1_loss
from minidl.models.detection.matching import match_defaults
from minidl.models.detection.postprocess import postprocess
from minidl.models.detection.ssd import SSDLite, feature_taps, separable_head, ssd_lite

__all__ = [
    "SSDLite", "feature_taps", "hard_negatives", "match_defaults", "multibox_loss", "postprocess", "separable_head",
    "smooth_l1_loss", "ssd_lite",
]  # fmt: skip
