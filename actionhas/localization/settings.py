"""How predictions are made from a head's outputs, declared once: ``localize``'s and ``detect``'s
flags, the record a predictions file keeps, and the checks a library call gets too."""
from __future__ import annotations

from dataclasses import dataclass

from actionhas.core import cli, defaults
from actionhas.core.settings import setting

PROPOSAL_METHODS = ("paper", "basnet", "cola", "multi")
NMS_METHODS = ("nms", "soft-nms")
# the settings of ``--proposals multi``, as ``proposals.multi_threshold_instances`` names them
MULTI_FIELDS = ("cas_thresholds", "attention_thresholds", "outer_ratio", "class_weight", "nms", "nms_iou", "soft_sigma")


@dataclass
class LocalizeSettings:
    proposals: str = setting(defaults.PROPOSALS, "paper: one threshold of the CAM; basnet: BaS-Net's official test "
                                                 "path (BaS-Net runs); cola: CoLA's official test path (CoLA runs); "
                                                 "multi: actionhas's own multi-threshold variant (see --help's text "
                                                 "above)",
                             choices=PROPOSAL_METHODS)
    threshold: float = setting(defaults.THRESHOLD, "paper: CAM threshold as a fraction of its max",
                               check=cli.unit_fraction)
    top_k: int = setting(defaults.TOP_K, "without --labels: predicted classes localized per video",
                         check=cli.positive_int)
    min_prob: float | None = setting(None, "without --labels: localize every class at least this probable "
                                           "(the top one when none is)", check=cli.unit_fraction)
    class_threshold: float = setting(defaults.CLASS_THRESHOLD, "basnet and multi, without --labels: localize "
                                     "classes whose video score reaches this (multi: the top one when none does; "
                                     "basnet: none); basnet scores each proposal with 0.2 x [score >= this]",
                                     check=cli.unit_fraction)
    cas_thresholds: tuple[float, ...] = setting(list(defaults.PROPOSAL_CAS_THRESHOLDS), "multi: thresholds of the "
                                                "min-max normalised class activation", check=cli.unit_fraction,
                                                nargs="+")
    attention_thresholds: tuple[float, ...] = setting(list(defaults.PROPOSAL_ATTENTION_THRESHOLDS), "multi: "
                                                      "thresholds of the normalised attention (heads with attention)",
                                                      check=cli.unit_fraction, nargs="*")
    outer_ratio: float = setting(defaults.PROPOSAL_OUTER_RATIO, "multi: outer region on each side of a proposal, "
                                 "as a fraction of its length", check=cli.non_negative_float)
    class_weight: float = setting(defaults.PROPOSAL_CLASS_WEIGHT, "multi: weight of the video-level class score "
                                  "in a proposal's score", check=cli.non_negative_float)
    nms: str = setting(defaults.PROPOSAL_METHOD, "multi: class-wise suppression of overlapping proposals",
                       choices=NMS_METHODS)
    nms_iou: float = setting(defaults.PROPOSAL_NMS_IOU, "multi, nms: drop proposals overlapping a kept one by this "
                             "tIoU (in (0, 1])", check=cli.open_unit_fraction)
    soft_sigma: float = setting(defaults.SOFT_NMS_SIGMA, "multi, soft-nms: Gaussian decay", check=cli.positive_float)

    def multi(self) -> dict:
        """Keyword settings of ``proposals.multi_threshold_instances``."""
        values = {name: getattr(self, name) for name in MULTI_FIELDS}
        values["cas_thresholds"], values["attention_thresholds"] = (tuple(values["cas_thresholds"]),
                                                                    tuple(values["attention_thresholds"]))
        values["method"] = values.pop("nms")
        return values

    def record(self) -> dict:
        """What a predictions file records about how it was made (the report reads ``threshold``)."""
        if self.proposals == "basnet":
            return {"proposals": "basnet", "class_threshold": self.class_threshold}
        if self.proposals == "cola":
            return {"proposals": "cola"}
        if self.proposals == "multi":
            return {"proposals": "multi", "class_threshold": self.class_threshold, **self.multi()}
        return {"proposals": "paper", "threshold": self.threshold}
