"""What ``trackreid-adapt`` does, in one dataclass; each default documented once, here."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass
class AdaptConfig:
    # which crops are kept while tracking
    sample_every: int = 3  #: frames between two kept crops of one identity (neighbouring frames are near-duplicates)
    min_height: int = 48  #: boxes shorter than this (pixels) give no crop
    max_occlusion: float = 0.4  #: boxes covered more than this by one box in front of them give no crop
    max_crops: int = 6000  #: crops held (at the encoder's input size); beyond it every other one is dropped
    # which tracks are trusted as labels (see trackreid.adapt.tracklets)
    min_crops: int = 4  #: a track (segment) with fewer crops teaches nothing and is dropped
    gap_split: int = 30  #: an identity unseen for more frames than this starts a new segment (a re-entry)
    switch_quantile: float = 0.10
    """A segment whose views before and after some frame are farther apart than this quantile of the distances
    between different people seen together is split there (an ID switch, or a sudden change of appearance)."""
    join_quantile: float = 0.01
    """Segments of one identity (before and after a re-entry) are one label only when their views are closer than
    this quantile of the distances between different people seen together (the memory was surely right)."""
    holdout: float = 0.2  #: fraction of the labels kept out of training for the label-free before/after figures
    # training
    steps: int = 300  #: optimiser steps
    identities_per_batch: int = 8  #: P: labels per batch, drawn among the people in view at one frame
    crops_per_identity: int = 4  #: K: crops of each label per batch
    lr: float = 1e-4  #: Adam learning rate (low: the starting encoder's knowledge is kept)
    weight_decay: float = 5e-4  #: Adam weight decay
    margin: float = 0.3  #: triplet margin on the distance of L2-normalised embeddings
    #: weight of the distillation term, ``1 - cos`` between a crop's new embedding and the starting encoder's (what
    #: it knew about people in general is kept where the tracks do not say otherwise); 0 off
    distill: float = 1.0
    blend: float = 0.5
    """Fraction of the trained weights in the weights written; the rest is the starting encoder's (weight-space
    interpolation, as in robust fine-tuning, WiSE-FT): what the footage taught is kept, and where it says little (new
    people, other light) the starting encoder still has its say. 1: the trained weights alone; 0: the start."""
    mix: str = ""  #: a labelled crop folder (one sub-folder per identity, or Market-1501 file names) mixed in ("" off)
    mix_every: int = 2  #: with ``mix``: every N-th step is a batch of the labelled set
    checkpoint_every: int = 50  #: steps between two resumable checkpoints (``DIR/adapt_last.pt``)
    seed: int = 0  #: seed of the sampling and augmentation
    export: str = "auto"
    """After training: ``openvino-int8`` (the bundled encoder's INT8 CPU runtime), ``onnx``, ``none``, or ``auto``
    (``openvino-int8`` when OpenVINO and NNCF are installed, else ``none``)."""

    def __post_init__(self) -> None:
        for name in ("sample_every", "min_height", "max_crops", "min_crops", "steps", "identities_per_batch",
                     "crops_per_identity", "checkpoint_every", "mix_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"AdaptConfig.{name}: expected a positive integer, got {v!r}")
        if not isinstance(self.gap_split, int) or self.gap_split < 0:
            raise ValueError(f"AdaptConfig.gap_split: expected an integer >= 0, got {self.gap_split!r}")
        for name in ("max_occlusion", "switch_quantile", "join_quantile"):
            if not 0 <= float(getattr(self, name)) <= 1:
                raise ValueError(f"AdaptConfig.{name}: expected a fraction in [0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.holdout < 0.9:
            raise ValueError(f"AdaptConfig.holdout: expected a fraction in [0, 0.9), got {self.holdout!r}")
        if not 0 <= float(self.blend) <= 1:
            raise ValueError(f"AdaptConfig.blend: expected a fraction in [0, 1], got {self.blend!r}")
        if self.lr <= 0 or self.margin < 0 or self.distill < 0:
            raise ValueError("AdaptConfig: lr must be > 0, margin and distill >= 0")
        if self.export not in ("auto", "openvino-int8", "onnx", "none"):
            raise ValueError(f"AdaptConfig.export: expected auto, openvino-int8, onnx or none, got {self.export!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
