"""``events.jsonl``: one event a line, appended as the run goes and flushed after every frame."""
from __future__ import annotations

import json
from pathlib import Path

from trackreid.io.sinks import JsonlWriter

EVENTS_NAME = "events.jsonl"


class EventsWriter(JsonlWriter):
    """Appends events (dicts) to ``path``, one JSON object a line; ``write`` takes one frame's events and flushes
    once per call."""

    def write(self, events: list[dict]) -> None:
        self.write_many(events)


def read_events(path: str | Path) -> list[dict]:
    """All events of an ``events.jsonl`` file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
