"""The identity memory of a run kept in one file across restarts (``--memory-file``, ``TrackingOptions.memory_file``).

A restarted service gives returning people their old IDs: :class:`MemoryFile` loads, at the start, every source's
identity memory (by source name) and, with global IDs, the global bank with each camera's local-to-global map; it
saves them atomically (:mod:`trackreid.io.atomic`) every ``memory_save_s`` seconds and when the run ends, however it
ends (completed, Ctrl-C, a failure). People still in view count as having just left. A run of one source reads a
file of one source whatever either is called (the same camera, restarted; a video in parts); sources of the file
that this run lacks are written back unchanged.

The file is an ``.npz`` of plain arrays (no pickle): ``format``, ``version``, ``encoder`` (the encoder's
fingerprint, :func:`trackreid.pipeline.models.encoder_fingerprint`), ``sources`` (names), ``source{i}.*`` (each
tracker's :meth:`~trackreid.Tracker.memory_arrays`) and ``link.*`` (:meth:`GlobalIdentities.to_arrays`). A file
written with another encoder (another architecture, weights or embedding size) is refused with a clear error:
identities are never compared across embedding spaces.
"""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import numpy as np

from trackreid.pipeline.options import PipelineError

FORMAT = "trackreid-run-memory"
VERSION = 1


class MemoryFile:
    """One run's memory file: :meth:`load` at the start, :meth:`maybe_save` after each step, :meth:`save` at the
    end. ``trackers`` maps source names to their :class:`~trackreid.Tracker`; ``linker`` is the run's
    :class:`~trackreid.tracking.global_ids.GlobalIdentities` (None without global IDs); ``encoder`` is the
    fingerprint of the encoder that makes the embeddings."""

    def __init__(self, path, encoder: str, trackers: dict, linker=None, every_s: float = 60.0):
        self.path = Path(path).expanduser()
        self.encoder = str(encoder)
        self.trackers = dict(trackers)
        self.linker = linker
        self.every_s = float(every_s)
        self.saves = 0
        self.loaded: dict[str, int] = {}
        """Identities loaded per source (and ``"global"`` for the bank); empty when the file did not exist."""
        self._kept: dict[str, dict] = {}  # sources of the file not in this run (unreachable now): written back as read
        self._last = time.monotonic()

    def load(self) -> None:
        """Restore every tracker (and the linker) from the file when it exists; a file of another encoder, another
        kind or a damaged one is a :class:`PipelineError` naming it."""
        if not self.path.exists():
            return
        if not self.path.is_file():
            raise PipelineError(f"memory file {str(self.path)!r} is not a file")
        try:
            with np.load(self.path, allow_pickle=False) as z:
                a = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise PipelineError(f"memory file {str(self.path)!r} is not a trackreid memory file ({exc}); move it "
                                "away to start with an empty memory") from None
        if str(a.get("format", "")) != FORMAT:
            raise PipelineError(f"memory file {str(self.path)!r} is not a trackreid run memory (written by "
                                "--memory-file); move it away or choose another path")
        if int(a["version"]) != VERSION:
            raise PipelineError(f"memory file {str(self.path)!r}: format version {int(a['version'])}, this trackreid "
                                f"reads version {VERSION}")
        written = str(a["encoder"])
        if written != self.encoder:
            raise PipelineError(f"memory file {str(self.path)!r} was written with the ReID encoder {written}, this "
                                f"run uses {self.encoder}: its identities cannot be compared; run with that "
                                "encoder, or use another --memory-file (or delete this one) to start afresh")
        names = [str(n) for n in a["sources"].tolist()]
        if len(names) == 1 and len(self.trackers) == 1:  # one camera, restarted: whatever its source is called now
            names = list(self.trackers)
        try:
            for i, name in enumerate(names):
                tracker = self.trackers.get(name)
                part = _section(a, f"source{i}.")
                if tracker is None:
                    self._kept[name] = part
                    continue
                tracker.restore_memory(part, where=f"memory file {str(self.path)!r} (source {name})")
                self.loaded[name] = int(len(part.get("ids", ())))
            if self.linker is not None and "link.cameras" in a:
                self.linker.from_arrays(_section(a, "link."), where=f"memory file {str(self.path)!r}")
                self.loaded["global"] = len(self.linker.bank)
        except ValueError as exc:
            raise PipelineError(str(exc)) from None

    def maybe_save(self) -> bool:
        """Save when ``every_s`` seconds passed since the last save (or the start); True when it saved."""
        if time.monotonic() - self._last < self.every_s:
            return False
        self.save()
        return True

    def save(self) -> None:
        """Write every tracker's memory (and the linker's bank) to the file, atomically."""
        from trackreid.io.atomic import write_bytes_atomic

        arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT), "version": np.int64(VERSION),
                                         "encoder": np.array(self.encoder),
                                         "sources": np.array([*self.trackers, *self._kept], dtype=str)}
        parts = [t.memory_arrays() for t in self.trackers.values()] + list(self._kept.values())
        for i, part in enumerate(parts):
            arrays.update({f"source{i}.{k}": v for k, v in part.items()})
        if self.linker is not None:
            arrays.update({f"link.{k}": v for k, v in self.linker.to_arrays().items()})
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_bytes_atomic(self.path, buf.getvalue())
        self.saves += 1
        self._last = time.monotonic()

    def report(self) -> dict:
        """What ``summary.json`` says under ``memory_file``."""
        return {"path": str(self.path), "loaded": dict(self.loaded), "saves": self.saves,
                "every_s": self.every_s}


def _section(a: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in a.items() if k.startswith(prefix)}


def open_memory_file(opts, encoder, trackers: dict, linker=None) -> MemoryFile | None:
    """The run's :class:`MemoryFile` when ``opts.memory_file`` is set, already loaded; a run whose identity memory
    is off (no encoder, a tracker config with ``memory: false``, a tracker other than trackreid's) is a
    :class:`PipelineError`."""
    if opts.memory_file is None:
        return None
    from trackreid.pipeline.models import encoder_fingerprint

    fingerprint = encoder_fingerprint(encoder)
    if fingerprint is None:
        raise PipelineError("memory_file: the identity memory needs a ReID encoder; drop --reid none or "
                            "--memory-file")
    for name, tracker in trackers.items():
        if not hasattr(tracker, "memory_arrays"):
            raise PipelineError(f"memory_file: source {name!r} runs a {type(tracker).__name__}, which keeps no "
                                "identity memory of trackreid's; drop --memory-file")
        cfg = tracker.config
        if not (cfg.memory and cfg.appearance_weight > 0):
            raise PipelineError("memory_file: the tracker's identity memory is off (memory: false or "
                                "appearance_weight: 0 in the tracker config); turn it on or drop --memory-file")
    memory = MemoryFile(opts.memory_file, fingerprint, trackers, linker, every_s=opts.memory_save_s)
    memory.load()
    return memory
