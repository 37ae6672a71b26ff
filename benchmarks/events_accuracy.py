"""Line counts and zone dwell times of the tracker's output against the ground truth's, on synthetic scenes.

    python benchmarks/events_accuracy.py [--seeds 0 1 2 3] [--people 24] [--frames 900] [--no-reentry]

Each scene (``trackreid-synth mot --reentry``: everyone leaves the view and comes back 5-20 s later) is tracked
from its detections by three trackers; the ground-truth counts come from the same events engine run on the
ground-truth tracks (every person, also while occluded), so the comparison isolates what the tracker's identities
do to the counts. Appearance is the scene's synthetic embedding (identity code + noise), as in
``tracker_quality.py``. Both engines know the frame size, so a person who leaves the view on one side of a line
and comes back on the other is not counted as crossing it (the path out of view is unknown).

Regions: vertical lines at 25%, 50% and 75% of the width (``left``, ``mid``, ``right``: people walk left/right
across them), a diagonal line (``diag``), a horizontal line at 60% of the height (``lower``: people walk along it
and cross it rarely, so its few counts are reported but not what the error rests on), a central zone
(``centre``) and a zone in the lower right (``corner``). Errors are |tracker - GT| / GT in %, over all seeds
together; the "all lines" row sums every line's in and out, and "all lines, misses + extras" sums |tracker - GT|
per seed, line and direction (so an extra count on one line does not hide a missed one on another).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from trackreid.analytics import EventEngine, EventsConfig, parse_line, parse_zone
from trackreid.analytics.events import anchors, line_sides
from trackreid.io.deferred import FinalRows
from trackreid.synthetic import SceneConfig, generate_scene
from trackreid.tracking.tracker import Tracker, TrackerConfig

DIM = 128
TRACKERS = {
    "appearance + identity memory": (TrackerConfig(), True),
    "appearance, memory off": (TrackerConfig(memory=False), True),
    "motion only": (TrackerConfig(appearance_weight=0.0, memory=False), False),
}


def regions(w: int, h: int):
    lines = [parse_line(f"{w / 2},0,{w / 2},{h}:mid"), parse_line(f"0,{0.6 * h},{w},{0.6 * h}:lower"),
             parse_line(f"{w / 4},0,{w / 4},{h}:left"), parse_line(f"{3 * w / 4},0,{3 * w / 4},{h}:right"),
             parse_line(f"{0.35 * w},{0.3 * h},{0.6 * w},{h}:diag"),
             parse_line(f"{0.05 * w},0,{0.05 * w},{h}:edge_left"), parse_line(f"{0.95 * w},0,{0.95 * w},{h}:edge_right")]
    zones = [parse_zone(f"{0.3 * w},{0.35 * h},{0.7 * w},{0.35 * h},{0.7 * w},{0.85 * h},{0.3 * w},{0.85 * h}"
                        ":centre"),
             parse_zone(f"{0.75 * w},{0.55 * h},{0.95 * w},{0.55 * h},{0.95 * w},{h},{0.75 * w},{h}:corner")]
    return lines, zones


def gt_tracks(scene, t: int) -> np.ndarray:
    g = scene.gt_at(t)
    return np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5], g[:, 1], np.ones((len(g), 1)),
                 np.zeros((len(g), 2))]


def count(scene, frames, cfg: EventsConfig, frame_size: bool = True) -> dict:
    """Event totals of ``frames``: ``(t, tracks)`` pairs in frame order."""
    lines, zones = regions(scene.config.width, scene.config.height)
    eng = EventEngine(lines, zones, fps=scene.config.fps, config=cfg,
                      frame_size=(scene.config.width, scene.config.height) if frame_size else None)
    for t, tracks in frames:
        eng.update(tracks, t)
    eng.close()
    return eng.totals()


def geometric_crossings(scene, band: float = 0.0) -> dict[str, dict[str, int]]:
    """Line crossings of the ground truth itself: a person's box bottom centre on one side of a line in one frame
    and on the other in the next (both frames in view, both within the line's extent; never across an absence).
    ``band`` > 0: frames within that many box heights of the line are skipped, so only crossings from beyond the
    band on one side to beyond it on the other count (the tolerance the engine's dead band gives)."""
    lines, _ = regions(scene.config.width, scene.config.height)
    out = {ln.name: {"in": 0, "out": 0} for ln in lines}
    prev: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for t in range(1, scene.config.num_frames + 1):
        g = gt_tracks(scene, t)
        side, clear, _ = line_sides(anchors(g), lines, band * (g[:, 3] - g[:, 1]))
        now = {}
        for k, pid in enumerate(g[:, 4].astype(int).tolist()):
            s1, c1 = side[k].copy(), clear[k].copy()
            if pid in prev:
                s0, c0 = prev[pid]
                changed = c0 & c1 & (s0 != s1)
                for j in np.flatnonzero(changed).tolist():
                    out[lines[j].name]["in" if s0[j] == 1 else "out"] += 1
                if band > 0:  # in the band: the last side seen beyond it carries on
                    s1, c1 = np.where(c1, s1, s0), c1 | c0
            now[pid] = (s1, c1)
        prev = now
    return out


def tracked(scene, tcfg: TrackerConfig, appearance: bool, per_update: bool = False):
    """``(t, tracks)`` as a run's ``events.jsonl`` sees them (each frame with its final IDs, ``FinalRows``), or,
    with ``per_update``, each frame's ``Tracker.update`` result (the IDs known at that frame)."""
    tracker = Tracker(tcfg)
    final: list = []
    rows = FinalRows.for_tracker(None, tracker, listeners=[lambda t, tracks: final.append((t, tracks))])
    for t in range(1, scene.config.num_frames + 1):
        dets = scene.dets_at(t)
        emb = scene.embeddings_at(t, dim=DIM, noise=0.3) if appearance else None
        out = np.asarray(tracker.update(dets, embeddings=emb), dtype=np.float64).reshape(-1, 8)
        if per_update:
            yield t, out
            continue
        rows.write(t, out)
        yield from final
        final.clear()
    rows.flush()
    yield from final


def figures(totals: dict) -> dict[str, float]:
    out = {}
    for name, c in totals["lines"].items():
        out[f"{name} in"], out[f"{name} out"] = c["in"], c["out"]
    out["all lines in+out"] = sum(c["in"] + c["out"] for c in totals["lines"].values())
    for name, z in totals["zones"].items():
        out[f"{name} visitors"], out[f"{name} dwell s"] = z["visitors"], z["total_dwell_s"]
    out["people"] = totals["people"]
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--people", type=int, default=24)
    ap.add_argument("--frames", type=int, default=900)
    ap.add_argument("--no-reentry", action="store_true", help="normal scenes (people do not come back)")
    ap.add_argument("--confirm-frames", type=int, default=EventsConfig.confirm_frames)
    ap.add_argument("--exit-after", type=int, default=EventsConfig.exit_after)
    ap.add_argument("--no-frame-size", action="store_true",
                    help="engines without the frame size: sides are kept across leaving the view (a return on "
                         "the other side counts as a crossing), as before 2026-12-02")
    ap.add_argument("--per-update", action="store_true",
                    help="count each frame's update result (IDs known at that frame), as before 2026-12-02, instead "
                         "of the rows a run writes with their final IDs")
    args = ap.parse_args(argv)
    fs = not args.no_frame_size
    ecfg = EventsConfig(confirm_frames=args.confirm_frames, exit_after=args.exit_after)
    sums: dict[str, dict[str, float]] = {"ground truth": {}, **{k: {} for k in TRACKERS}}
    geo: dict[str, int] = {}  # crossings of the ground-truth boxes themselves
    geo_band: dict[str, int] = {}  # the same, from beyond the engine's dead band on one side to beyond on the other
    absdiff = {k: 0.0 for k in TRACKERS}
    for seed in args.seeds:
        t0 = time.perf_counter()
        scene = generate_scene(SceneConfig(num_people=args.people, num_frames=args.frames, seed=seed,
                                           reentry=not args.no_reentry))
        gt_frames = ((t, gt_tracks(scene, t)) for t in range(1, scene.config.num_frames + 1))
        runs = {"ground truth": count(scene, gt_frames, ecfg, fs)}
        for name, c in geometric_crossings(scene).items():
            for d in ("in", "out"):
                geo[f"{name} {d}"] = geo.get(f"{name} {d}", 0) + c[d]
        for name, c in geometric_crossings(scene, ecfg.line_margin).items():
            for d in ("in", "out"):
                geo_band[f"{name} {d}"] = geo_band.get(f"{name} {d}", 0) + c[d]
        for label, (tcfg, appearance) in TRACKERS.items():
            runs[label] = count(scene, tracked(scene, tcfg, appearance, args.per_update), ecfg, fs)
        figs = {label: figures(totals) for label, totals in runs.items()}
        for label, f in figs.items():
            for k, v in f.items():
                sums[label][k] = sums[label].get(k, 0.0) + v
            if label in absdiff:
                absdiff[label] += sum(abs(v - figs["ground truth"][k]) for k, v in f.items()
                                      if k.endswith((" in", " out")))
        print(f"seed {seed}: {time.perf_counter() - t0:.1f}s", flush=True)
    gt = sums["ground truth"]
    keys = list(gt)
    what = "normal scenes" if args.no_reentry else "re-entry scenes (everyone leaves and comes back)"
    print(f"\n{what}: seeds {args.seeds}, {args.people} people, {args.frames} frames at 30 fps; "
          f"confirm_frames {ecfg.confirm_frames}, exit_after {ecfg.exit_after}; totals over all seeds")
    print("| figure | ground truth | " + " | ".join(TRACKERS) + " |")
    print("|---|---:|" + "---:|" * len(TRACKERS))
    for k in keys:
        cells = []
        for label in TRACKERS:
            v = sums[label][k]
            err = abs(v - gt[k]) / gt[k] * 100 if gt[k] else float("nan")
            cells.append(f"{v:.0f} ({err:.1f}%)" if "dwell" not in k else f"{v:.1f} ({err:.1f}%)")
        print(f"| {k} | {gt[k]:.1f} | " + " | ".join(cells) + " |" if "dwell" in k else
              f"| {k} | {gt[k]:.0f} | " + " | ".join(cells) + " |")
    total = sum(gt[k] for k in keys if k.endswith((" in", " out")))
    print("| all lines, misses + extras | 0 | " + " | ".join(
        f"{absdiff[label]:.0f} ({absdiff[label] / total * 100:.1f}%)" for label in TRACKERS) + " |")
    print("\nline crossings against the geometric truth (ground-truth boxes' bottom centres crossing, frame to frame):")
    labels = ["ground truth", *TRACKERS]
    print("| line, direction | geometric truth | " + " | ".join(f"engine on {x}" if x == "ground truth" else x
                                                               for x in labels) + " |")
    print("|---|---:|" + "---:|" * len(labels))
    for k in geo:
        print(f"| {k} | {geo[k]} | " + " | ".join(
            f"{sums[x][k]:.0f} ({(sums[x][k] - geo[k]) / geo[k] * 100:+.1f}%)" if geo[k] else f"{sums[x][k]:.0f}"
            for x in labels) + " |")
    for name, truth in (("all lines", geo), ("all lines, truth beyond the dead band", geo_band)):
        total = sum(truth.values())
        print(f"| {name} | {total} | " + " | ".join(
            f"{sum(sums[x][k] for k in truth):.0f} ({(sum(sums[x][k] for k in truth) - total) / total * 100:+.1f}%)"
            for x in labels) + " |")
    line_keys = [k for k in keys if k.endswith((" in", " out")) and not k.startswith("lower ")]
    print("\nmean absolute error of the line counts (in and out of every line but 'lower'):")
    for label in TRACKERS:
        errs = [abs(sums[label][k] - gt[k]) / gt[k] * 100 for k in line_keys if gt[k]]
        dwell = [abs(sums[label][k] - gt[k]) / gt[k] * 100 for k in keys if "dwell" in k and gt[k]]
        print(f"  {label:<30} line counts {np.mean(errs):5.1f}%   zone dwell {np.mean(dwell):5.1f}%")


if __name__ == "__main__":
    main()
