"""The MOT17 folder layout for a rendered scene (img1/ or mp4, gt, det, seqinfo.ini)."""
from __future__ import annotations

import configparser
from pathlib import Path

import cv2

from trackreid.io.atomic import atomic_write, write_text_atomic
from trackreid.synthetic.scene import Scene

__all__ = ["write_mot_sequence"]


def write_mot_sequence(scene: Scene, root, name: str = "SYN-01", video: bool = False, jpeg_quality: int = 90) -> Path:
    """Write ``root/name/`` in the MOT17 layout and return that folder.

    Writes ``gt/gt.txt`` (``frame,id,x,y,w,h,1,1,visibility``), ``det/det.txt`` (``frame,-1,x,y,w,h,score,-1,-1,-1``)
    and ``seqinfo.ini``. Frames go to ``img1/000001.jpg ...`` or, with ``video=True``, to ``name.mp4`` (OpenCV
    mp4v) INSTEAD of ``img1/`` (seqinfo.ini still names imDir=img1 as MOT tools expect).
    """
    if not isinstance(scene, Scene):
        raise ValueError(f"write_mot_sequence: expected a Scene, got {type(scene).__name__}")
    if not name or "/" in name or "\\" in name:
        raise ValueError(f"write_mot_sequence: name must be a plain folder name, got {name!r}")
    c = scene.config
    seq = Path(root) / name
    (seq / "gt").mkdir(parents=True, exist_ok=True)
    (seq / "det").mkdir(parents=True, exist_ok=True)
    g = scene.gt
    write_text_atomic(seq / "gt" / "gt.txt", "".join(
        f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},1,1,{r[8]:.4f}\n" for r in g))
    d = scene.detections
    write_text_atomic(seq / "det" / "det.txt", "".join(
        f"{int(r[0])},-1,{r[1]:.2f},{r[2]:.2f},{r[3] - r[1]:.2f},{r[4] - r[2]:.2f},{r[5]:.4f},-1,-1,-1\n" for r in d))
    ini = configparser.ConfigParser()
    ini.optionxform = str
    ini["Sequence"] = {"name": name, "imDir": "img1", "frameRate": f"{c.fps:g}", "seqLength": str(c.num_frames),
                       "imWidth": str(c.width), "imHeight": str(c.height), "imExt": ".jpg"}
    with atomic_write(seq / "seqinfo.ini") as fh:
        ini.write(fh, space_around_delimiters=False)
    if video:
        path = seq / f"{name}.mp4"
        vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(c.fps), (c.width, c.height))
        if not vw.isOpened():
            raise RuntimeError(f"write_mot_sequence: OpenCV cannot open a mp4v writer for {path}")
        try:
            for _, img in scene.frames():
                vw.write(img)
        finally:
            vw.release()
    else:
        (seq / "img1").mkdir(exist_ok=True)
        for t, img in scene.frames():
            cv2.imwrite(str(seq / "img1" / f"{t:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    return seq

