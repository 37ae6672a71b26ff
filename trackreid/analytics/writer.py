"""``events.jsonl``: one event a line, appended as the run goes and flushed after every frame."""
from __future__ import annotations

import json
from pathlib import Path

from trackreid.io.atomic import json_default

EVENTS_NAME = "events.jsonl"


class EventsWriter:
    """Appends events (dicts) to ``path``, one JSON object a line; ``write`` flushes once per call (per frame)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "w", encoding="utf-8")
        self.count = 0

    def write(self, events: list[dict]) -> None:
        if not events:
            return
        self._f.write("".join(json.dumps(e, separators=(",", ":"), default=json_default) + "\n" for e in events))
        self._f.flush()
        self.count += len(events)

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_events(path: str | Path) -> list[dict]:
    """All events of an ``events.jsonl`` file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
