"""Counts, events and crops keyed to stable identities (see :class:`RunAnalytics` for the pipeline's entry)."""
from .crops import CropBank, CropConfig
from .draw import draw_regions
from .events import EVENT_TYPES, EventEngine, EventsConfig
from .regions import Line, Zone, build_regions, load_regions, parse_line, parse_zone
from .run import RunAnalytics
from .writer import EVENTS_NAME, EventsWriter, read_events

__all__ = ["CropBank", "CropConfig", "EVENT_TYPES", "EVENTS_NAME", "EventEngine", "EventsConfig", "EventsWriter",
           "Line", "RunAnalytics", "Zone", "build_regions", "draw_regions", "load_regions", "parse_line",
           "parse_zone", "read_events"]
