"""``RUN/report.html``: one self-contained page to look at a run (``trackreid-report RUN`` or ``trackreid --report``).

It reads what the run wrote (``summary.json``, ``tracks.jsonl``, ``events.jsonl``, ``crops/``) and shows every final
identity with its best crops, when it was in view (a timeline; re-entries marked), its global ID in multi-camera
runs, line and zone counts over time and the run's speed per stage. Crops come from ``crops/`` when the run kept
them (``--save-crops``), else they are cut from the source when it is a readable file or folder: the tallest
boxes of each identity, at most ``per_identity``, from frames far apart. Images are embedded (base64 JPEG), so the
file can be mailed or opened offline.
"""
from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from trackreid.io.atomic import write_text_atomic
from trackreid.io.sinks import read_jsonl

REPORT_NAME = "report.html"
TIMELINE_W = 640  #: width in pixels of each identity's timeline


@dataclass
class Identity:
    """What the run wrote about one final identity of one source."""

    id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    returns: list[int] = field(default_factory=list)  # frames where it came back (identity memory)
    global_id: int | None = None


def _read_jsonl(path: Path) -> list[dict]:
    return read_jsonl(path) if path.is_file() else []


def _identities(run: Path) -> dict[int, Identity]:
    ids: dict[int, Identity] = {}
    for rec in _read_jsonl(run / "tracks.jsonl"):
        for t in rec.get("tracks", []):
            ident = ids.setdefault(int(t["id"]), Identity(int(t["id"])))
            ident.frames.append(int(rec["frame"]))
            ident.boxes.append(t["box"] if t.get("det", 0) >= 0 else [])
            if "reentered_after" in t:
                ident.returns.append(int(rec["frame"]))
            if "global_id" in t:
                ident.global_id = int(t["global_id"])
    return ids


def _jpeg(img: np.ndarray, height: int = 128) -> str:
    h, w = img.shape[:2]
    if h > height:
        img = cv2.resize(img, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


def _saved_crops(run: Path, per_identity: int) -> dict[int, list[str]]:
    """Crops the run kept (``crops/PPPP_cCs1_FFFFFF_00.jpg``), by identity."""
    out: dict[int, list[str]] = defaultdict(list)
    folder = run / "crops"
    if not folder.is_dir():
        return out
    for p in sorted(folder.glob("*.jpg")):
        try:
            pid = int(p.name.split("_", 1)[0])
        except ValueError:
            continue
        if len(out[pid]) < per_identity:
            img = cv2.imread(str(p))
            if img is not None:
                out[pid].append(_jpeg(img))
    return out


def _source_path(run: Path, summary: dict) -> Path | None:
    src = summary.get("source")
    if not isinstance(src, str) or "://" in src:
        return None
    for p in (Path(src), run / src, run.parent / src, run.parent.parent / src):
        if p.exists():
            return p
    return None


def _cut_crops(source: Path, ids: dict[int, Identity], per_identity: int, size: tuple[float, float] | None
               ) -> dict[int, list[str]]:
    """The tallest boxes of each identity that lie inside the image (frames at least 30 apart), cut from the
    source; ``size`` (width, height) of the frames, when known."""
    w, h = size or (float("inf"), float("inf"))

    def visible_height(b):
        inside = max(0.0, min(b[2], w) - max(b[0], 0.0)) / max(b[2] - b[0], 1e-9)
        return (min(b[3], h) - max(b[1], 0.0)) * inside

    want: dict[int, list[tuple[int, list[float]]]] = defaultdict(list)  # frame -> [(id, box)]
    for ident in ids.values():
        rows = [(f, b) for f, b in zip(ident.frames, ident.boxes) if b]
        rows.sort(key=lambda r: -visible_height(r[1]))
        chosen: list[int] = []
        for f, b in rows:
            if all(abs(f - c) >= 30 for c in chosen):
                chosen.append(f)
                want[f].append((ident.id, b))
            if len(chosen) == per_identity:
                break
    out: dict[int, list[str]] = defaultdict(list)
    if not want:
        return out
    from trackreid.io.sources import open_source

    try:
        src = open_source(str(source))
    except (OSError, ValueError):
        return out
    try:
        last = max(want)
        for index, frame in enumerate(src):
            img = frame[0] if isinstance(frame, tuple) else frame
            f = index + 1
            for pid, (x1, y1, x2, y2) in want.get(f, []):
                h, w = img.shape[:2]
                crop = img[max(0, int(y1)):min(h, int(y2)), max(0, int(x1)):min(w, int(x2))]
                if crop.size:
                    out[pid].append(_jpeg(crop))
            if f >= last:
                break
    finally:
        src.close()
    return out


def _timeline(ident: Identity, n_frames: int) -> str:
    """An SVG bar per stretch in view (gaps over 1 frame split it), a mark at each return."""
    if not ident.frames:
        return ""
    f = np.asarray(sorted(set(ident.frames)))
    cut = np.flatnonzero(np.diff(f) > 1) + 1
    scale = TIMELINE_W / max(n_frames, 1)
    parts = []
    for seg in np.split(f, cut):
        x, w = (seg[0] - 1) * scale, max((seg[-1] - seg[0] + 1) * scale, 1.5)
        parts.append(f'<rect x="{x:.1f}" y="4" width="{w:.1f}" height="12" class="seen"/>')
    for r in ident.returns:
        x = (r - 1) * scale
        parts.append(f'<path d="M{x:.1f} 0 l4 0 l-4 6 z" class="ret"><title>back at frame {r}</title></path>')
    return (f'<svg class="tl" width="{TIMELINE_W}" height="20" viewBox="0 0 {TIMELINE_W} 20">'
            f'<rect x="0" y="9" width="{TIMELINE_W}" height="2" class="axis"/>{"".join(parts)}</svg>')


def _counts_chart(events: list[dict], n_frames: int) -> str:
    """Cumulative line crossings (in / out per line) and zone entries over the frames, one SVG polyline each."""
    series: dict[str, list[int]] = defaultdict(list)
    for e in events:
        if e.get("event") == "line_cross":
            series[f"{e['name']} {e['direction']}"].append(int(e["frame"]))
        elif e.get("event") == "zone_enter":
            series[f"{e['name']} entries"].append(int(e["frame"]))
    if not series:
        return "<p>No line or zone events in this run.</p>"
    W, H = 640, 160
    top = max(len(v) for v in series.values())
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    lines, legend = [], []
    for k, (name, frames) in enumerate(sorted(series.items())):
        frames = sorted(frames)
        pts = [(0.0, H)]
        for n, f in enumerate(frames, 1):
            x = (f - 1) / max(n_frames, 1) * W
            pts += [(x, H - (n - 1) / top * (H - 10)), (x, H - n / top * (H - 10))]
        pts.append((W, H - len(frames) / top * (H - 10)))
        color = palette[k % len(palette)]
        lines.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        legend.append(f'<span style="color:{color}">&#9632; {html.escape(name)}: {len(frames)}</span>')
    return (f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" class="chart">{"".join(lines)}</svg>'
            f'<div class="legend">{" ".join(legend)}</div>')


CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;
margin-top:1.6em}table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;
text-align:left;vertical-align:middle}.crops img{height:96px;margin-right:3px;border-radius:3px}
.tl .seen{fill:#2b7bb9}.tl .axis{fill:#e5e5e5}.tl .ret{fill:#d62728}.chart{border:1px solid #ddd}
.legend span{margin-right:1em}.muted{color:#777}"""


def build_report(run: str | Path, per_identity: int = 3) -> str:
    """The report page of ``run`` (a run folder, or a multi-source run's folder) as HTML text."""
    run = Path(run)
    summary_path = run / "summary.json"
    if not summary_path.is_file():
        raise ValueError(f"report: {run} holds no summary.json; give the folder a trackreid run wrote "
                         "(its --output)")
    summary = json.loads(summary_path.read_text())
    sources = ([run / Path(s.get("outputs", {}).get("summary", "")).parent.name for s in summary["sources"]]
               if "sources" in summary else [run])
    title = f"trackreid run: {run.name}"
    body = [f"<h1>{html.escape(title)}</h1>",
            f'<p class="muted">{html.escape(str(summary.get("started_at", "")))} &middot; status '
            f'{html.escape(str(summary.get("status")))} &middot; {summary.get("frames", 0)} frames in '
            f'{summary.get("wall_s", 0)} s ({summary.get("fps") or 0} fps)</p>']
    for folder in sources:
        body += _source_section(folder, per_identity, multi=len(sources) > 1 or "sources" in summary)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")


def _source_section(run: Path, per_identity: int, multi: bool) -> list[str]:
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    n = int(summary.get("frames") or 0)
    ids = _identities(run)
    n = max([n] + [max(i.frames) for i in ids.values() if i.frames])
    crops = _saved_crops(run, per_identity)
    missing = {k: v for k, v in ids.items() if not crops.get(k)}
    src = _source_path(run, summary)
    if missing and src is not None:
        info = summary.get("source_info") or {}
        size = (info["width"], info["height"]) if info.get("width") and info.get("height") else None
        for k, v in _cut_crops(src, missing, per_identity, size).items():
            crops[k] = v
    name = (summary.get("source_info") or {}).get("name") or run.name
    out = [f"<h2>{html.escape(str(name))}</h2>" if multi else ""]
    stages = summary.get("stage_ms") or {}
    if stages:
        out.append("<h2>Speed per stage</h2><table><tr><th>stage</th><th>ms per frame</th></tr>"
                   + "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.2f}</td></tr>" for k, v in stages.items())
                   + f"<tr><th>whole pipeline</th><th>{summary.get('pipeline_ms', 0):.2f}</th></tr></table>")
    out.append("<h2>Line and zone counts over time</h2>" + _counts_chart(_read_jsonl(run / "events.jsonl"), n))
    has_global = any(i.global_id is not None for i in ids.values())
    out.append(f"<h2>Identities ({len(ids)})</h2><table><tr><th>ID</th>"
               + ("<th>global ID</th>" if has_global else "")
               + f"<th>in view (frames 1-{n}; red: came back)</th><th>frames</th><th>crops</th></tr>")
    for pid in sorted(ids):
        ident = ids[pid]
        imgs = "".join(f'<img src="{c}" alt="identity {pid}">' for c in crops.get(pid, []))
        out.append(f'<tr class="identity" data-id="{pid}"><td><b>{pid}</b></td>'
                   + (f"<td>{ident.global_id if ident.global_id is not None else ''}</td>" if has_global else "")
                   + f"<td>{_timeline(ident, n)}</td><td>{len(set(ident.frames))}</td>"
                   + f'<td class="crops">{imgs or "<span class=muted>no crop</span>"}</td></tr>')
    out.append("</table>")
    return out


def write_report(run: str | Path, per_identity: int = 3) -> Path:
    """Write ``run/report.html`` (atomically) and return its path."""
    path = Path(run) / REPORT_NAME
    write_text_atomic(path, build_report(run, per_identity))
    return path
