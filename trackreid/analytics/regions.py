"""Counting lines and zones: ``--line x1,y1,x2,y2[:name]``, ``--zone x1,y1,x2,y2,x3,y3,...[:name]`` or a YAML file.

A line is directed from its first point to its second: walking across it from its right-hand side to its
left-hand side (in image coordinates, y down, looking from the start point towards the end point) is ``in``,
the other way is ``out``. A zone is a polygon of at least three points. The YAML file holds the same content::

    lines:
      - {name: door, points: [[100, 400], [600, 400]]}
    zones:
      - {name: queue, points: [[50, 50], [300, 50], [300, 300], [50, 300]]}
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Line:
    """A directed counting line from ``(x1, y1)`` to ``(x2, y2)`` in pixels."""

    name: str
    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if self.x1 == self.x2 and self.y1 == self.y2:
            raise ValueError(f"line {self.name!r}: its two points are the same ({self.x1:g},{self.y1:g}); "
                             "expected two distinct points x1,y1,x2,y2")

    @property
    def points(self) -> np.ndarray:
        return np.array([[self.x1, self.y1], [self.x2, self.y2]], dtype=np.float64)


@dataclass(frozen=True)
class Zone:
    """A polygonal zone; ``points`` is a tuple of ``(x, y)`` vertices in pixels."""

    name: str
    points_xy: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points_xy) < 3:
            raise ValueError(f"zone {self.name!r}: expected at least 3 points (6 numbers), got {len(self.points_xy)}")
        p = np.asarray(self.points_xy, dtype=np.float64)
        area2 = float(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))
        if abs(area2) < 1e-9:
            raise ValueError(f"zone {self.name!r}: its points enclose no area; expected a polygon")

    @property
    def points(self) -> np.ndarray:
        return np.asarray(self.points_xy, dtype=np.float64)


def _split_spec(spec: str, what: str, default_name: str) -> tuple[list[float], str]:
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"--{what} {spec!r}: expected numbers separated by commas, optionally ':name'")
    body, _, name = spec.strip().partition(":")
    name = name.strip() or default_name
    if not _NAME.match(name):
        raise ValueError(f"--{what} {spec!r}: name {name!r} may hold only letters, digits, '_', '-' and '.'")
    try:
        values = [float(v) for v in body.split(",")]
    except ValueError:
        raise ValueError(f"--{what} {spec!r}: expected numbers separated by commas (pixels), "
                         f"e.g. {'100,400,600,400:door' if what == 'line' else '50,50,300,50,300,300:queue'}") \
            from None
    if not all(np.isfinite(values)):
        raise ValueError(f"--{what} {spec!r}: coordinates must be finite numbers")
    return values, name


def parse_line(spec: str, default_name: str = "line1") -> Line:
    """``"x1,y1,x2,y2[:name]"`` -> :class:`Line`; ValueError naming the spec otherwise."""
    values, name = _split_spec(spec, "line", default_name)
    if len(values) != 4:
        raise ValueError(f"--line {spec!r}: expected 4 numbers x1,y1,x2,y2 (then optionally :name), "
                         f"got {len(values)}")
    return Line(name, *values)


def parse_zone(spec: str, default_name: str = "zone1") -> Zone:
    """``"x1,y1,x2,y2,x3,y3,...[:name]"`` -> :class:`Zone`; ValueError naming the spec otherwise."""
    values, name = _split_spec(spec, "zone", default_name)
    if len(values) < 6 or len(values) % 2:
        raise ValueError(f"--zone {spec!r}: expected an even number (at least 6) of numbers x1,y1,x2,y2,x3,y3,... "
                         f"(then optionally :name), got {len(values)}")
    return Zone(name, tuple(zip(values[0::2], values[1::2])))


def _points(entry, kind: str, source: str) -> tuple[str | None, list[tuple[float, float]]]:
    if isinstance(entry, str):
        return None, []  # handled by the caller (the command-line form)
    if not isinstance(entry, dict) or "points" not in entry:
        raise ValueError(f"{source}: each {kind} must be a mapping with 'points' (and optionally 'name'), "
                         f"got {entry!r}")
    pts = entry["points"]
    try:
        xy = [(float(p[0]), float(p[1])) for p in pts]
        if any(len(p) != 2 for p in pts):
            raise TypeError
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"{source}: {kind} points must be a list of [x, y] pairs, got {pts!r}") from None
    name = entry.get("name")
    return (str(name) if name is not None else None), xy


def load_regions(path: str | Path) -> tuple[list[Line], list[Zone]]:
    """Lines and zones from a YAML file (see the module docstring); entries may also be command-line strings."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--events-config {path}: file does not exist (expected a YAML file with 'lines' "
                         "and/or 'zones')")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"--events-config {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not set(data) <= {"lines", "zones"} or not data:
        raise ValueError(f"--events-config {path}: expected a mapping with keys 'lines' and/or 'zones', "
                         f"got {type(data).__name__ if not isinstance(data, dict) else sorted(data)}")
    lines: list[Line] = []
    zones: list[Zone] = []
    for i, entry in enumerate(data.get("lines") or [], 1):
        if isinstance(entry, str):
            lines.append(parse_line(entry, f"line{i}"))
            continue
        name, xy = _points(entry, "line", str(path))
        if len(xy) != 2:
            raise ValueError(f"{path}: line {name or i} needs exactly 2 points, got {len(xy)}")
        lines.append(Line(name or f"line{i}", *xy[0], *xy[1]))
    for i, entry in enumerate(data.get("zones") or [], 1):
        if isinstance(entry, str):
            zones.append(parse_zone(entry, f"zone{i}"))
            continue
        name, xy = _points(entry, "zone", str(path))
        zones.append(Zone(name or f"zone{i}", tuple(xy)))
    return check_names(lines, zones)


def check_names(lines: list[Line], zones: list[Zone]) -> tuple[list[Line], list[Zone]]:
    """The regions unchanged; ValueError when two lines or two zones share a name."""
    for kind, items in (("line", lines), ("zone", zones)):
        names = [r.name for r in items]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"two {kind}s are named {dup[0]!r}; give each {kind} its own name with ':name'")
    return lines, zones


def build_regions(lines=(), zones=(), config: str | Path | None = None) -> tuple[list[Line], list[Zone]]:
    """Lines and zones from command-line strings, ready objects and/or a YAML file, numbered in order given."""
    out_l: list[Line] = []
    out_z: list[Zone] = []
    if config is not None:
        out_l, out_z = load_regions(config)
    for item in lines or ():
        out_l.append(item if isinstance(item, Line) else parse_line(item, f"line{len(out_l) + 1}"))
    for item in zones or ():
        out_z.append(item if isinstance(item, Zone) else parse_zone(item, f"zone{len(out_z) + 1}"))
    return check_names(out_l, out_z)
