"""Summaries of runs: per-stage timing (:class:`StageStats`), the summary of one source (``summary.json`` of a
single-source run and of each source of a multi-source run) and the summary of a multi-source run."""
from __future__ import annotations

import datetime as _dt

STAGES = ("decode", "detect", "embed", "associate", "write")


class StageStats:
    """Per-stage time totals; the first frame (model warm-up) is kept apart from the steady-state means."""

    def __init__(self):
        self.total = {s: 0.0 for s in STAGES}
        self.first = {s: 0.0 for s in STAGES}
        self.frames = 0

    def add(self, timings: dict[str, float]) -> None:
        target = self.first if self.frames == 0 else self.total
        for k, v in timings.items():
            target[k] = target.get(k, 0.0) + v
        self.frames += 1

    def means(self) -> dict[str, float]:
        if self.frames <= 1:
            return {k: round(v, 3) for k, v in self.first.items()}
        return {k: round(v / (self.frames - 1), 3) for k, v in self.total.items()}


def utc_now() -> str:
    """The current time for a summary's ``started_at`` (ISO 8601, UTC, seconds)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def source_summary(*, info, source, status, message, frames, wall, setup_s, stats, ids_seen, n_dets, n_tracks, reid,
             reid_weights, detector, device, started, outputs) -> dict:
    import trackreid

    ms = stats.means()
    per_frame = sum(ms.values())
    return {
        "trackreid_version": trackreid.__version__,
        "started_at": started,
        "status": status,  # completed | stopped | interrupted | source_ended | failed
        "message": message,
        "source": str(source),
        "source_info": {"name": info.name, "kind": info.kind, "width": info.width, "height": info.height,
                        "fps": info.fps, "num_frames": info.num_frames},
        "frames": frames,
        "wall_s": round(wall, 3),
        "setup_s": round(setup_s, 3) if setup_s is not None else None,
        "fps": round(frames / wall, 2) if wall > 0 else None,
        "stage_ms": ms,  # mean per frame, first (warm-up) frame excluded when there is more than one
        "stage_fps": {k: (round(1000.0 / v, 1) if v > 0 else None) for k, v in ms.items()},
        "pipeline_ms": round(per_frame, 3),  # sum of the stages (decode overlaps the others: it runs ahead)
        "warmup_ms": {k: round(v, 1) for k, v in stats.first.items()},
        "unique_identities": len(ids_seen),
        "detections": n_dets,
        "track_rows": n_tracks,
        "reid": reid,
        "reid_weights": str(reid_weights) if reid_weights else None,
        "detector": detector if isinstance(detector, str) else str(getattr(detector, "name", type(detector).__name__)),
        "device": device,
        "outputs": {k: str(v) for k, v in outputs.paths.items()} if outputs is not None else {},
    }
