"""Adapting the encoder to a camera without labels (``trackreid-adapt``): track, learn from the tracks, write
weights ready for ``--reid-weights``. See :mod:`trackreid.adapt.run`."""
from .config import AdaptConfig
from .run import adapt, separation, start_encoder
from .tracklets import Labels, NothingToLearn, build_labels

__all__ = ["AdaptConfig", "Labels", "NothingToLearn", "adapt", "build_labels", "separation", "start_encoder"]
