"""Scale-out on a Ray cluster: the sources of a run spread over Ray workers.

Each worker is a Ray actor with its own detector and encoder (one GPU each when the run is on CUDA) running a
batched multi-source run (:class:`trackreid.streams.StreamsRun`) over its share of the sources and writing their
outputs itself (``output/<source name>/``, so the output folder must be reachable by every node: a shared or the
local filesystem). With global identities the identity bank is one Ray actor that every worker asks. A worker that
dies takes only its own sources down: they are reported ``failed`` in the run summary, the others go on.

Install with ``pip install -e ".[ray]"``; ``trackreid SRC... --ray [ADDRESS]`` or :func:`run_on_ray`.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from trackreid.pipeline.options import PipelineError, TrackingOptions, detectors_per_source
from trackreid.pipeline.summary import run_summary, source_report, utc_now

__all__ = ["run_on_ray"]


def _ray():
    try:
        import ray
    except ImportError:
        raise ImportError("Ray is not installed; pip install -e \".[ray]\" (or pip install ray)") from None
    return ray


def _encoder_thresholds(opts: TrackingOptions):
    """The thresholds stored with the run's ReID weights (the workers load the encoder; the bank needs only these)."""
    from trackreid.reid.thresholds import stored_thresholds
    from trackreid.reid.weights import default_weights

    from trackreid.pipeline.models import _NO_REID
    from trackreid.reid.models.registry import get_spec

    if not isinstance(opts.reid, str) or opts.reid.strip().lower() in _NO_REID:
        return getattr(opts.reid, "thresholds", None)  # an encoder object, or motion only
    if opts.reid_weights is not None:
        return stored_thresholds(opts.reid_weights)
    entry = default_weights(get_spec("osnet_x0_25" if opts.reid.lower() == "auto" else opts.reid).name)
    return stored_thresholds(entry.name) if entry is not None else None


class _Bank:
    """The identity bank of a distributed run (a Ray actor): a :class:`GlobalIdentities` over all cameras."""

    def __init__(self, names, topology, thresholds=None):
        from trackreid.pipeline.models import build_linker

        self.linker = build_linker(names, topology, thresholds)

    def link(self, cam, frame, tracks, feats, has, held, renamed=None):
        """The tracks' global IDs and whether each is final (:meth:`GlobalIdentities.state`)."""
        gids = self.linker.link(cam, frame, tracks, feats, has, held, renamed)
        return gids, self.linker.state(cam, tracks[:, 4])[1]

    def config(self):
        return self.linker.cfg

    def num_identities(self) -> int:
        return self.linker.num_identities


class _RemoteLinker:
    """The worker-side face of the bank actor: computes the tracks' appearance locally, links remotely."""

    def __init__(self, bank, cams: list[int]):
        self.bank, self.cams = bank, cams
        self.cfg = None

    def attach(self, i: int, run) -> None:
        from collections import OrderedDict

        from trackreid.tracking.global_ids import link_horizon, want_open_views, write_delay
        from trackreid.tracking.id_log import IdLog

        ray, cam, bank = _ray(), self.cams[i], self.bank
        if self.cfg is None:
            self.cfg = ray.get(bank.config.remote())
        delay = write_delay(self.cfg)
        # a local track's global ID and finality change only in frames where it is seen, so the bank's answers for
        # this camera's frames are all the held-back outputs need; kept while rows may still wait for them
        known: OrderedDict[int, tuple[int, bool, int]] = OrderedDict()   # local id -> (global id, final, frame)
        alias = IdLog(link_horizon(self.cfg))

        def relabel(frame, out):
            tracks = out.tracks
            alias.record(out.renamed, frame)
            gids, final = ray.get(bank.link.remote(cam, frame, tracks, *out.appearance(), out.renamed))
            for lid, g, f in zip(tracks[:, 4].astype(np.int64).tolist(), gids.tolist(), final.tolist()):
                known[lid] = (g, f, frame)
                known.move_to_end(lid)
            while known and next(iter(known.values()))[2] < frame - alias.horizon:
                known.popitem(last=False)
            want_open_views(run.tracker, self.cfg, frame, out.ids, lambda: final)
            return gids

        def state(lids):
            got = [known.get(lid, (-1, True, 0)) for lid in alias.resolve(np.asarray(lids, np.int64)).tolist()]
            return np.array([g for g, _, _ in got], np.int64), np.array([f for _, f, _ in got], bool)

        run.relabel = relabel
        run.hold_rows(state, delay, rename=False)

    num_identities = 0


class _Worker:
    """One Ray worker: a :class:`StreamsRun` over its sources (a Ray actor)."""

    def run(self, sources, names, options: TrackingOptions, bank, cams) -> dict:
        from trackreid.streams import StreamsRun

        linker = _RemoteLinker(bank, cams) if bank is not None else None
        return StreamsRun(sources, options, names=names, linker=linker).run()


def run_on_ray(sources, options: TrackingOptions | None = None, *, address: str | None = None,
               global_ids: bool = False, topology=None, workers: int | None = None, cpus_per_worker: float = 1.0,
               **kw) -> dict:
    """Run the sources on Ray (``address``: a cluster to join, e.g. ``ray://head:10001`` or ``auto``; None: the
    running one or a new local one) and return the run summary (also written as ``output/summary.json``).
    ``workers``: how many (default: one per source, at most one per GPU on CUDA or per ``cpus_per_worker`` CPUs)."""
    from trackreid.streams import unique_names

    ray = _ray()
    sources = list(sources)
    if not sources:
        raise PipelineError("sources: expected at least one source")
    opts = TrackingOptions.make(options, **kw)
    if opts.output is None:
        raise PipelineError("a Ray run needs --output: the workers write their sources' outputs there")
    if opts.show:
        raise PipelineError("--show is not available on Ray; the workers write annotated videos")
    if opts.memory_file is not None:
        raise PipelineError("--memory-file is not available on Ray yet (every worker would write the file, and the "
                            "global bank lives in an actor); run without --ray to keep the memory in a file")
    per_source = detectors_per_source(opts.detector, len(sources))
    started = utc_now()
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    on_gpu = str(opts.device).startswith("cuda") or (opts.device == "auto" and ray.cluster_resources().get("GPU"))
    res = ray.cluster_resources()
    cap = int(res.get("GPU", 0)) if on_gpu else int(res.get("CPU", 1) // max(cpus_per_worker, 1e-3))
    n = max(1, min(len(sources), workers or max(cap, 1)))
    names = unique_names(sources)
    out = Path(opts.output)
    out.mkdir(parents=True, exist_ok=True)
    opts = TrackingOptions.make(opts, quiet=True)
    bank = ray.remote(_Bank).options(num_cpus=0).remote(names, topology, _encoder_thresholds(opts)) \
        if global_ids else None
    groups = [list(range(k, len(sources), n)) for k in range(n)]
    actor = ray.remote(_Worker).options(num_cpus=cpus_per_worker, num_gpus=1 if on_gpu else 0, max_restarts=0)
    calls = {}
    t0 = time.perf_counter()
    for g in groups:
        detector = [per_source[i] for i in g] if per_source is not None else opts.detector
        sub = TrackingOptions.make(opts, detector=detector)
        w = actor.remote()
        calls[w.run.remote([sources[i] for i in g], [names[i] for i in g], sub, bank, g)] = (w, g)
    reports: dict[int, dict] = {}
    for ref, (w, g) in calls.items():
        try:
            summary = ray.get(ref)
            for i, rep in zip(g, summary["sources"]):
                reports[i] = rep
        except Exception as exc:  # the worker died (RayActorError) or its run failed: only its sources fail
            msg = f"worker failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            for i in g:
                reports[i] = source_report(names[i], sources[i], "failed", msg, _frames_written(out / names[i]),
                                           None, out / names[i])
    wall = time.perf_counter() - t0
    srcs = [reports[i] for i in range(len(sources))]
    ok = all(r["status"] in ("completed", "source_ended") for r in srcs)
    summary = run_summary(srcs, "completed" if ok else "partial", "" if ok else "some sources failed", started,
                          wall, engine="ray", workers=n)
    if bank is not None:
        summary["global_identities"] = ray.get(bank.num_identities.remote())
    from trackreid.io.atomic import write_json_atomic

    write_json_atomic(out / "summary.json", summary)
    return summary


def _frames_written(folder: Path) -> int:
    """Frames a dead worker had finished for a source: its JSON lines (one per frame, flushed as written)."""
    path = folder / "tracks.jsonl"
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        return sum(1 for line in f if line.endswith(b"\n"))
