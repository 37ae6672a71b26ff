"""Every summary a run writes, built here only: the summary of one source (:func:`source_summary`: ``summary.json``
of a single-source run, and of each source's folder in a multi-source or Ray run), a source's line in a multi-source
summary (:func:`source_report`) and the summary of a multi-source or Ray run (:func:`run_summary`)."""
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


def source_summary(run, *, wall: float, setup_s: float | None, started: str, extra: dict | None = None) -> dict:
    """The summary of one source from its :class:`~trackreid.pipeline.source_run.SourceRun` (status and message as
    the runner set them): what ran, how fast per stage, identities, outputs; then ``extra`` (e.g. a multi-source
    run's ``latency_ms``)."""
    import trackreid
    from trackreid.pipeline.models import detector_report, encoder_report

    o, info, stats = run.opts, run.info, run.stats
    ms = stats.means()
    per_frame = sum(ms.values())
    frames = stats.frames
    models = run.models
    summary = {
        "trackreid_version": trackreid.__version__,
        "started_at": started,
        "status": run.status,  # completed | stopped | interrupted | source_ended | failed
        "message": run.message,
        "source": str(run.source),
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
        "unique_identities": len(run.ids_seen),
        "detections": run.n_dets,
        "crops_embedded": run.n_crops,  # detections the encoder embedded (TrackerConfig.embed_policy)
        "track_rows": run.n_tracks,  # rows written (MOT file, tracks.jsonl), interpolated ones included
        "interpolated_rows": run.n_interpolated,
        "reid": encoder_report(models.encoder) if models is not None else None,  # what ran; None: motion only
        "detector": detector_report(models.detector) if models is not None else {"model": str(o.detector)},
        "device": models.device if models is not None else None,
        "outputs": {k: str(v) for k, v in run.outputs.paths.items()} if run.outputs is not None else {},
    }
    memory = getattr(run.tracker, "memory_size", None)
    summary["reentries"] = run.reentries
    if run.outages is not None:  # a live source: how often and how long it was down
        summary["outages"] = run.outages.summary()
    if memory is not None:
        summary["memory_size"] = int(memory() if callable(memory) else memory)
    if extra:
        summary.update(extra)
    return summary


def source_report(name: str, source, status: str, message: str, frames: int, summary: dict | None,
                  output=None) -> dict:
    """One source's line in a multi-source summary's ``sources``, from the source's own summary (``{}``: it wrote
    none, e.g. it could not be opened; None: it was lost with its Ray worker, so its figures are unknown)."""
    s = summary or {}
    report = {"name": name, "source": str(source), "status": status, "message": message, "frames": frames,
              "fps": s.get("fps"), "latency_ms": s.get("latency_ms"),
              "unique_identities": s.get("unique_identities", 0) if summary is not None else None,
              "detections": s.get("detections"), "crops_embedded": s.get("crops_embedded"),
              "output": str(output) if output else None}
    if "outages" in s:
        report["outages"] = s["outages"]
    return report


def run_summary(sources: list[dict], status: str, message: str, started: str, wall: float, **extra) -> dict:
    """The summary of a multi-source run (also a Ray run's) from each source's :func:`source_report`."""
    import trackreid

    frames = sum(r["frames"] or 0 for r in sources)
    return {
        "trackreid_version": trackreid.__version__, "started_at": started, "status": status, "message": message,
        **extra, "sources": sources, "frames": frames, "wall_s": round(wall, 3),
        "fps": round(frames / wall, 2) if wall > 0 else None,  # all sources together
        "unique_identities": sum(r["unique_identities"] or 0 for r in sources),
    }
