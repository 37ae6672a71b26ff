"""A tiny MOT-style sequence for pipeline tests: people-like blocks walking across a textured background,
written as a video and/or an ``img1/`` folder, with exact ``det/det.txt`` and ``gt/gt.txt``. Fast (< 1 s)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PEOPLE = (  # x0, y0, vx, vy, w, h, BGR colour: three well-separated walkers that never cross
    (20, 40, 4.0, 0.5, 24, 60, (40, 40, 200)),
    (280, 120, -3.0, 0.0, 22, 56, (200, 60, 40)),
    (60, 170, 2.0, -1.0, 26, 64, (40, 180, 60)),
)


def boxes_at(t: int) -> np.ndarray:
    """(3, 4) xyxy boxes of frame ``t`` (0-based)."""
    out = []
    for x0, y0, vx, vy, w, h, _ in PEOPLE:
        x, y = x0 + vx * t, y0 + vy * t
        out.append([x, y, x + w, y + h])
    return np.asarray(out, np.float64)


def render(t: int, size=(320, 240)) -> np.ndarray:
    w, h = size
    rng = np.random.default_rng(1234)
    img = rng.integers(90, 140, (h, w, 3), dtype=np.uint8)
    for (x1, y1, x2, y2), person in zip(boxes_at(t), PEOPLE):
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), person[6], -1)
        cv2.circle(img, (int((x1 + x2) / 2), int(y1 + 8)), 7, (180, 200, 230), -1)
    return img


def make_sequence(root: Path, name: str = "SEQ", frames: int = 20, video: bool = True, images: bool = False,
                  size=(320, 240), fps: float = 10.0) -> Path:
    """Write ``root/name/{name}.mp4 | img1/, det/det.txt, gt/gt.txt, seqinfo.ini``; return the sequence folder."""
    seq = Path(root) / name
    (seq / "det").mkdir(parents=True, exist_ok=True)
    (seq / "gt").mkdir(exist_ok=True)
    if images:
        (seq / "img1").mkdir(exist_ok=True)
    writer = None
    if video:
        writer = cv2.VideoWriter(str(seq / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    det_lines, gt_lines = [], []
    for t in range(frames):
        img = render(t, size)
        if writer is not None:
            writer.write(img)
        if images:
            cv2.imwrite(str(seq / "img1" / f"{t + 1:06d}.jpg"), img)
        for pid, (x1, y1, x2, y2) in enumerate(boxes_at(t), start=1):
            det_lines.append(f"{t + 1},-1,{x1:.1f},{y1:.1f},{x2 - x1:.1f},{y2 - y1:.1f},0.9,-1,-1,-1")
            gt_lines.append(f"{t + 1},{pid},{x1:.1f},{y1:.1f},{x2 - x1:.1f},{y2 - y1:.1f},1,1,1")
    if writer is not None:
        writer.release()
    (seq / "det" / "det.txt").write_text("\n".join(det_lines) + "\n")
    (seq / "gt" / "gt.txt").write_text("\n".join(gt_lines) + "\n")
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={fps:g}\nseqLength={frames}\n"
        f"imWidth={size[0]}\nimHeight={size[1]}\nimExt=.jpg\n"
    )
    return seq


class ColourEncoder:
    """Appearance from pixels: a normalised colour histogram of the box (the walkers differ by colour)."""

    dim = 64

    def __call__(self, frame, boxes):
        out = np.zeros((len(boxes), self.dim), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, int)):
            crop = frame[max(y1, 0):max(y2, 1), max(x1, 0):max(x2, 1)].reshape(-1, 3)
            h = np.concatenate([np.bincount(crop[:, c] // 32, minlength=8) for c in range(3)]).astype(np.float32)
            out[i, :24] = h
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def make_return_sequence(root: Path, frames: int = 40, gone=(10, 30), size=(320, 240), fps: float = 10.0,
                         height: int = 60, cut_in: int = 0, name: str = "RET") -> Path:
    """Two walkers (red, blue); the red one vanishes for frames ``gone[0]..gone[1]-1`` (0-based) and comes back
    at the other side of the image. ``cut_in`` > 0: she first stands that many frames half outside the left border
    (a sliver, mostly hidden), as people walking in are first seen, before walking in whole: the identity memory
    then first gives her a fresh ID and renames it once it sees her. ``root/NAME/NAME.mp4`` and ``det/det.txt``."""
    seq = Path(root) / name
    (seq / "det").mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(seq / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    rng = np.random.default_rng(7)
    bg = rng.integers(90, 140, (size[1], size[0], 3), dtype=np.uint8)
    lines = []
    for t in range(frames):
        img = bg.copy()
        people = [((40 + 2 * t, 150, 24), (200, 60, 40))]                  # blue, always there
        if t < gone[0]:
            people.append(((200 + 3 * t, 40, 24), (40, 40, 200)))          # red, before she leaves
        elif t >= gone[1] + cut_in:
            people.append(((3 * (t - gone[1] - cut_in), 40, 24), (40, 40, 200)))
        elif t >= gone[1]:
            people.append(((0, 40, 24 * (t - gone[1] + 1) // (cut_in + 1)), None))   # walking in at the border
        for (x, y, w), colour in people:
            if colour is None:
                cv2.rectangle(img, (x, y), (x + w, y + height), (40, 40, 200), -1)
                cv2.rectangle(img, (x, y), (x + w, y + height * 11 // 20), (120, 120, 120), -1)
            else:
                cv2.rectangle(img, (x, y), (x + w, y + height), colour, -1)
            lines.append(f"{t + 1},-1,{x},{y},{w},{height},0.9,-1,-1,-1")
        writer.write(img)
    writer.release()
    (seq / "det" / "det.txt").write_text("\n".join(lines) + "\n")
    return seq


def run_threads() -> list:
    """Live threads that belong to one run (decode, detect, writer). The process-wide worker pools
    (``trackreid-pool-*``: crop cutting, ReID streams) live on by design and are not counted."""
    import threading

    return [t.name for t in threading.enumerate()
            if t.is_alive() and t.name.startswith("trackreid-") and not t.name.startswith("trackreid-pool-")]
