"""ReID weights: the manifest of known public files, a verified download cache, and checkpoint loading.

* ``resolve_weights(x)``: an existing file, or a known name from ``manifest.json`` (``osnet_x0_25_market1501``,
  with or without ``.pt``) -> a local file: the copy bundled with the package when there is one
  (``osnet_x0_25_market1501``), else downloaded once into the cache; either way checked against its sha256.
* ``default_weights(arch)``: the trained weights an architecture uses when none are given (the manifest's
  ``defaults``: OSNet x0.25 -> its bundled Market-1501 weights; other OSNets -> their downloadable ones).
* ``load_weights(model, x)``: loads torchreid checkpoints, BoxMOT ``.pt`` files and trackreid training checkpoints
  into a model as they are, with ``torch.load(weights_only=True)`` (no code from a downloaded file runs).

Cache folder: ``$TRACKREID_WEIGHTS`` if set, else the platform cache (``$XDG_CACHE_HOME/trackreid/weights`` or
``~/.cache/trackreid/weights`` on Linux, ``~/Library/Caches/trackreid/weights`` on macOS,
``%LOCALAPPDATA%\\trackreid\\weights`` on Windows). ``runtime_choice.json`` there holds the CPU runtime
``runtime="auto"`` measured fastest on this machine (``trackreid.reid.runtime_choice``).

Environment opt-ins (both off by default):
``TRACKREID_ALLOW_UNVERIFIED=1`` downloads known files that have no published sha256 (the digest is printed);
``TRACKREID_TRUST_CHECKPOINTS=1`` lets ``load_weights`` fully unpickle old checkpoints, which can run code.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = [
    "WeightsEntry", "WeightsError", "DownloadError", "ChecksumError", "CheckpointMismatchError",
    "UnsafeCheckpointError", "Checkpoint", "LoadReport",
    "known_weights", "get_entry", "cache_dir", "download", "resolve_weights", "read_checkpoint", "load_weights",
    "infer_arch", "sha256_file", "guess_arch", "default_weights", "bundled_path", "BUNDLED_ROOT",
    "BundledExport", "bundled_export", "verified_export",
]

log = logging.getLogger(__name__)

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
BUNDLED_ROOT = Path(__file__).parent  # manifest ``bundled`` paths are relative to this folder
CHECKPOINT_FORMAT = "trackreid-checkpoint"
WEIGHT_SUFFIXES = (".pt", ".pth", ".pth.tar", ".tar")
# Class counts implied by BoxMOT's "<arch>_<dataset>.pt" naming rule.
DATASET_CLASSES = {"market1501": 751, "market": 751, "dukemtmcreid": 702, "duke": 702, "msmt17": 1041}
# Classification heads: needed for training only, dropped or skipped freely for inference.
_HEAD_RE = re.compile(r"^(?:\w+_)?classifier\d*\.")
_RESAVE_SNIPPET = (
    "    import torch\n"
    "    ck = torch.load(PATH, map_location='cpu', weights_only=False)   # only for a file you trust\n"
    "    torch.save(ck.get('state_dict', ck) if isinstance(ck, dict) else ck.state_dict(), 'clean.pt')"
)


class WeightsError(ValueError):
    """A weights file or name cannot be used; the message says why and what to do."""


class DownloadError(WeightsError):
    """A known file could not be downloaded (offline, server error, interrupted, HTML page instead of weights)."""


class ChecksumError(DownloadError):
    """The downloaded or cached file does not match the manifest's sha256."""


class CheckpointMismatchError(WeightsError):
    """The checkpoint's tensors do not fit the model (another architecture or variant)."""


class UnsafeCheckpointError(WeightsError):
    """The checkpoint cannot be read with ``weights_only=True`` (it pickles Python objects)."""


# ----------------------------------------------------------------------------------------------------------------
# Manifest
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightsEntry:
    """One known public weights file.

    name: key users pass (``osnet_x0_25_market1501``); file: its file name in the cache.
    url: where it is downloaded from; sha256: its published/recorded digest, None when unknown.
    arch: model name for ``build_model``; training_set: dataset it was trained on; num_classes: classifier size.
    """

    name: str
    file: str
    url: str
    sha256: str | None
    arch: str
    training_set: str
    num_classes: int
    input_size: tuple[int, int] = (256, 128)
    source: str = ""
    bundled: str | None = None  #: path of the copy shipped in the package, relative to ``BUNDLED_ROOT``; None: none
    licence: str = ""
    thresholds: dict | None = None  #: distance thresholds on this encoder's scale (``trackreid.reid.thresholds``)
    same_network_sha256: tuple = ()  #: digests of other files holding the same network (e.g. its ONNX export)


@lru_cache(maxsize=1)
def _manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text())


@lru_cache(maxsize=1)
def known_weights() -> dict[str, WeightsEntry]:
    """All manifest entries by name."""
    doc = _manifest()
    out = {}
    for e in doc["weights"]:
        e = dict(e)
        e["input_size"] = tuple(e.get("input_size", (256, 128)))
        e["same_network_sha256"] = tuple(e.get("same_network_sha256", ()))
        out[e["name"]] = WeightsEntry(**e)
    return out


def _strip_suffix(name: str) -> str:
    low = name.lower()
    for s in WEIGHT_SUFFIXES:
        if low.endswith(s):
            return name[: -len(s)]
    return name


def get_entry(name: str) -> WeightsEntry | None:
    """The manifest entry for ``name`` (``.pt``/``.pth`` suffix and case ignored), or None."""
    key = _strip_suffix(Path(str(name)).name).lower()
    return known_weights().get(key)


def identify(path_or_name) -> WeightsEntry | None:
    """The manifest entry of a known weights name, or of a file that holds known weights (its name is a manifest
    name and its sha256 is that entry's, or of a file with the same network); None for anything else (a model
    fine-tuned under a known file name is not mistaken for the original)."""
    if path_or_name is None:
        return None
    path = Path(os.fspath(path_or_name)).expanduser()
    if not path.is_file():
        return get_entry(str(path_or_name))
    entry = get_entry(path.stem)
    if entry is None:
        return None
    digest = sha256_file(path)
    return entry if digest == entry.sha256 or digest in entry.same_network_sha256 else None


def default_weights(arch: str) -> WeightsEntry | None:
    """The trained weights ``arch`` (a canonical model name) uses when no weights are given, or None (untrained)."""
    name = _manifest().get("defaults", {}).get(str(arch))
    return known_weights()[name] if name else None


def bundled_path(entry: WeightsEntry) -> Path | None:
    """Where the package's own copy of ``entry`` is, or None when it ships none."""
    return BUNDLED_ROOT / entry.bundled if entry.bundled else None


def _verified_bundled(entry: WeightsEntry) -> Path:
    """The bundled copy of ``entry``, checked against its sha256 (``ChecksumError`` if damaged or missing)."""
    path = bundled_path(entry)
    if not path.is_file():
        raise ChecksumError(f"bundled weights {path} are missing from the installed package; reinstall trackreid "
                            f"(pip install --force-reinstall trackreid) or pass a copy of {entry.file} as weights")
    digest = sha256_file(path)
    if entry.sha256 is not None and digest != entry.sha256:
        raise ChecksumError(f"bundled weights {path} have sha256 {digest}, expected {entry.sha256} (damaged "
                            f"file); reinstall trackreid (pip install --force-reinstall trackreid) or pass a good "
                            f"copy of {entry.file} as weights")
    return path


@dataclass(frozen=True)
class BundledExport:
    """An exported file shipped in the package, made by ``trackreid-export`` from bundled weights.

    name: its key; of: the weights it was exported from; format: "openvino"; precision: "int8" or "fp32";
    folder: its folder relative to ``BUNDLED_ROOT``; files: file name -> sha256; made: how it was made and checked.
    """

    name: str
    of: str
    format: str
    precision: str
    folder: str
    files: dict
    made: str = ""


def bundled_export(weights_name: str, format: str = "openvino", precision: str = "int8") -> BundledExport | None:
    """The bundled export of ``weights_name`` in ``format`` / ``precision``, or None when the package has none."""
    for e in _manifest().get("exports", []):
        if (e["of"], e["format"], e["precision"]) == (weights_name, format, precision):
            return BundledExport(**e)
    return None


def verified_export(exp: BundledExport) -> Path:
    """The folder of a bundled export, every file checked against its sha256 (``ChecksumError`` otherwise)."""
    folder = BUNDLED_ROOT / exp.folder
    for fname, digest in exp.files.items():
        path = folder / fname
        if not path.is_file():
            raise ChecksumError(f"bundled export {path} is missing from the installed package; reinstall trackreid "
                                "(pip install --force-reinstall trackreid) or pass runtime='onnxruntime'")
        got = sha256_file(path)
        if got != digest:
            raise ChecksumError(f"bundled export {path} has sha256 {got}, expected {digest} (damaged file); "
                                "reinstall trackreid (pip install --force-reinstall trackreid) or pass "
                                "runtime='onnxruntime'")
    return folder


def cache_dir() -> Path:
    """Where downloaded weights live (see the module docstring); not created here."""
    env = os.environ.get("TRACKREID_WEIGHTS")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "trackreid" / "weights"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


# ----------------------------------------------------------------------------------------------------------------
# Download
# ----------------------------------------------------------------------------------------------------------------
def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _offline_hint(url: str, dest: Path) -> str:
    return f"To install it by hand, download {url} (e.g. in a browser) and put the file at {dest}"


def download(url: str, dest: str | Path, sha256: str | None = None, *, allow_unverified: bool | None = None,
             timeout: float = 30.0, progress: bool | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    The body streams into a temporary file beside ``dest`` while its sha256 is computed; the file is moved into
    place with ``os.replace`` only when complete and matching ``sha256``. On any failure (network, checksum,
    short body, Ctrl-C) the temporary file is removed, so ``dest`` is either absent or complete.
    ``sha256=None`` is refused unless ``allow_unverified`` (default: ``$TRACKREID_ALLOW_UNVERIFIED``) is set;
    the computed digest is then logged and printed so it can be pinned.
    """
    dest = Path(dest).expanduser()
    if allow_unverified is None:
        allow_unverified = _env_flag("TRACKREID_ALLOW_UNVERIFIED")
    if sha256 is None and not allow_unverified:
        raise DownloadError(
            f"{dest.name}: no sha256 is recorded for {url}, so it would be used unverified. Set "
            f"TRACKREID_ALLOW_UNVERIFIED=1 (or pass allow_unverified=True) to download it anyway (its digest is "
            f"printed so you can pin it). {_offline_hint(url, dest)}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    ok = False
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "trackreid-weights/1"})
        try:
            resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - URLs come from our manifest/user
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(f"cannot download {dest.name} from {url} ({reason}). "
                                f"{_offline_hint(url, dest)}") from None
        with resp, os.fdopen(fd, "wb") as out:
            fd = None
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            ctype = (resp.headers.get("Content-Type") or "").lower()
            h = hashlib.sha256()
            got = 0
            bar = _progress_bar(total, dest.name, progress)
            try:
                first = True
                while True:
                    try:
                        block = resp.read(1 << 20)
                    except Exception as exc:  # noqa: BLE001 - socket errors, http.client.IncompleteRead
                        raise DownloadError(f"download of {url} was interrupted after {got} bytes ({exc!r}). "
                                            f"{_offline_hint(url, dest)}") from None
                    if not block:
                        break
                    head = block.lstrip()[:15].lower()
                    if first and "text/html" in ctype and head.startswith((b"<!doctype", b"<html")):
                        raise DownloadError(
                            f"{url} returned an HTML page instead of a weights file (a Google Drive quota or "
                            f"confirmation page?). {_offline_hint(url, dest)}")
                    first = False
                    out.write(block)
                    h.update(block)
                    got += len(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
        if total is not None and got != total:
            raise DownloadError(f"download of {url} was interrupted: got {got} of {total} bytes. "
                                f"{_offline_hint(url, dest)}")
        digest = h.hexdigest()
        if sha256 is not None and digest != sha256.lower():
            raise ChecksumError(f"{dest.name} from {url} has sha256 {digest}, expected {sha256}; the file was "
                                f"discarded (corrupted download or a changed upstream file). {_offline_hint(url, dest)}"
                                f" after checking it yourself")
        os.replace(tmp, dest)
        ok = True
        if sha256 is None:
            msg = f"downloaded {dest.name} UNVERIFIED (no recorded sha256); its sha256 is {digest}"
            log.warning(msg)
            print(f"trackreid: {msg}", file=sys.stderr)
        return dest
    finally:
        if fd is not None:
            os.close(fd)
        if not ok:
            tmp.unlink(missing_ok=True)


def _progress_bar(total, name, progress):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}", leave=False)


def resolve_weights(path_or_name, *, download_missing: bool = True, allow_unverified: bool | None = None) -> Path:
    """An existing file as is; a known name (``osnet_x0_25_market1501[.pt]``) -> the bundled copy (sha256-checked
    at every call) or the cached file, downloaded and sha256-checked on first use. A path that does not exist but whose file name is a known name is downloaded
    to that path. Anything else raises ``WeightsError`` listing the known names."""
    if path_or_name is None:
        raise WeightsError("weights: expected a file path or a known weights name, got None")
    p = Path(os.fspath(path_or_name)).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        raise WeightsError(f"weights {str(p)!r} is a folder; pass the checkpoint file inside it")
    entry = get_entry(p.name)
    if entry is None:
        names = sorted(known_weights())
        close = difflib.get_close_matches(_strip_suffix(p.name).lower(), names, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise WeightsError(f"weights {str(path_or_name)!r} is neither an existing file nor a known weights name.{hint}"
                           f" Known names: {', '.join(names)}")
    explicit_dest = p.parent != Path(".") or os.sep in str(path_or_name)
    if entry.bundled and not explicit_dest:
        return _verified_bundled(entry)
    dest = p if explicit_dest else cache_dir() / entry.file
    if dest.is_file():
        if entry.sha256 is None:
            return dest
        digest = sha256_file(dest)
        if digest == entry.sha256:
            return dest
        log.warning("%s has sha256 %s, expected %s; downloading it again", dest, digest, entry.sha256)
        if not download_missing:
            raise ChecksumError(f"{dest} has sha256 {digest}, expected {entry.sha256}; delete it. "
                                f"{_offline_hint(entry.url, dest)}")
    if not download_missing:
        raise DownloadError(f"{entry.name} is not in the cache. {_offline_hint(entry.url, dest)}")
    log.info("downloading %s from %s to %s", entry.name, entry.url, dest)
    return download(entry.url, dest, entry.sha256, allow_unverified=allow_unverified)


# ----------------------------------------------------------------------------------------------------------------
# Reading checkpoints
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """A checkpoint's tensors and what is known about them.

    state_dict: parameter name -> tensor, wrappers and ``module.`` prefixes removed.
    kind: "trackreid", "torchreid" (a dict holding ``state_dict``), "state_dict" (a bare one, as BoxMOT ships), or
    "onnx" (an OSNet ONNX export read back by :mod:`trackreid.reid.onnx_checkpoint`).
    arch: architecture recorded in the file (trackreid checkpoints) or None. path: where it came from.
    meta: what else the file records (epoch, metrics; a trackreid checkpoint's training ``input_size`` [H, W], and
    the ``thresholds`` on its distance scale when ``trackreid-adapt`` wrote it).
    """

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(H, W) the network was trained at, when the file records it (trackreid checkpoints)."""
        size = self.meta.get("input_size")
        return (int(size[0]), int(size[1])) if size is not None and len(size) == 2 else None

    state_dict: dict
    kind: str
    arch: str | None = None
    num_classes: int | None = None
    path: Path | None = None
    meta: dict = field(default_factory=dict)


# Globals a few old torchreid checkpoints pickle (numpy scalars for ``rank1`` etc.). Rebuilding them does not run
# code from the file, so they are allowed; anything else needs an explicit opt-in.
def _benign_numpy_globals() -> list:
    import numpy as np

    out = [np.dtype, np.ndarray]
    try:
        from numpy.core.multiarray import scalar, _reconstruct  # numpy < 2 path (still importable in 2.x)
        out += [scalar, _reconstruct]
    except Exception:  # noqa: BLE001
        pass
    try:
        from numpy._core.multiarray import scalar as scalar2, _reconstruct as rec2
        out += [scalar2, rec2]
    except Exception:  # noqa: BLE001
        pass
    out += [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32")]
    import codecs
    out.append(codecs.encode)
    return out


def _torch_load(path: Path, trust: bool):
    import pickle

    import zipfile

    import torch

    with open(path, "rb") as f:
        head = f.read(2)
    if not zipfile.is_zipfile(path) and not head.startswith(b"\x80"):  # neither torch.save's zip nor a pickle
        raise WeightsError(f"{path} is not a readable PyTorch checkpoint (expected a file written by torch.save)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = exc
    except (RuntimeError, EOFError, OSError, ValueError, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise WeightsError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {first_line})") \
            from None
    try:
        with torch.serialization.safe_globals(_benign_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass
    except Exception:  # noqa: BLE001 - fall through to the explanation below
        pass
    if trust or _env_flag("TRACKREID_TRUST_CHECKPOINTS"):
        log.warning("fully unpickling %s (trust=True): this can run code stored in the file", path)
        return torch.load(path, map_location="cpu", weights_only=False)
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001
        unsafe = []
    what = f" It pickles {', '.join(unsafe[:5])}." if unsafe else f" ({str(first).splitlines()[0]})"
    raise UnsafeCheckpointError(
        f"{path} cannot be loaded with torch.load(weights_only=True): it stores Python objects, not just tensors."
        f"{what} Fully unpickling it can run code hidden in the file, so trackreid does not do it by default. "
        f"Safe way out: in a trusted environment, re-save just its state_dict once:\n{_RESAVE_SNIPPET}\n"
        f"and use clean.pt. If you trust the file, pass trust=True (or set TRACKREID_TRUST_CHECKPOINTS=1)."
    )


def read_checkpoint(path_or_name, *, trust: bool = False, allow_unverified: bool | None = None) -> Checkpoint:
    """Resolve and read a checkpoint safely; unwrap ``state_dict``/``model`` keys and strip ``module.``."""
    import torch

    path = resolve_weights(path_or_name, allow_unverified=allow_unverified)
    if path.suffix.lower() == ".onnx":  # an OSNet export, rebuilt in our parameter names
        from .onnx_checkpoint import read_onnx_checkpoint

        return read_onnx_checkpoint(path)
    obj = _torch_load(path, trust)
    kind, arch, ncls, meta = "state_dict", None, None, {}
    if isinstance(obj, torch.nn.Module):  # only reachable with trust=True
        obj = obj.state_dict()
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        kind, arch, ncls = "trackreid", obj.get("arch"), obj.get("num_classes")
        meta = {k: obj[k] for k in ("epoch", "metrics", "input_size", "thresholds", "adapted_from") if k in obj}
        sd = obj.get("state_dict")
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        kind, sd = "torchreid", obj["state_dict"]
        meta = {k: obj[k] for k in ("epoch", "rank1", "mAP") if k in obj}
    elif isinstance(obj, dict) and isinstance(obj.get("model"), (dict, torch.nn.Module)):
        kind, sd = "model", obj["model"]
        if isinstance(sd, torch.nn.Module):
            sd = sd.state_dict()
    else:
        sd = obj
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        keys = f" with keys {list(sd)[:8]}" if isinstance(sd, dict) else ""
        raise WeightsError(f"{path}: expected a state_dict of tensors (or a dict holding one under 'state_dict'), "
                           f"found {type(sd).__name__}{keys}")
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}
    if ncls is None:
        heads = [v for k, v in sd.items() if _HEAD_RE.match(k) and k.endswith("weight") and v.ndim == 2]
        ncls = int(heads[0].shape[0]) if heads else 0
    return Checkpoint(sd, kind, arch, ncls, path, meta)


# ----------------------------------------------------------------------------------------------------------------
# Architecture inference
# ----------------------------------------------------------------------------------------------------------------
def _name_arch(name: str) -> str | None:
    """Architecture from a BoxMOT-style file name ``<arch>_<dataset>.pt`` (longest known prefix)."""
    from .models.registry import list_models

    stem = _strip_suffix(Path(str(name)).name).lower()
    hits = [m for m in list_models() if stem == m or stem.startswith(m + "_")]
    return max(hits, key=len) if hits else None


def infer_arch(path_or_name) -> str | None:
    """Best guess of the architecture of a weights name or file: the manifest entry, then the ``arch`` stored in a
    trackreid checkpoint, then the BoxMOT naming rule on the file name; None when nothing says."""
    entry = get_entry(Path(os.fspath(path_or_name)).name)
    if entry is not None:
        return entry.arch
    p = Path(os.fspath(path_or_name)).expanduser()
    if p.is_file():
        try:
            import torch

            obj = torch.load(p, map_location="cpu", weights_only=True)
            if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT and obj.get("arch"):
                return str(obj["arch"])
        except Exception:  # noqa: BLE001 - unreadable here; load_weights reports it properly
            pass
    return _name_arch(p.name)


def checkpoint_arch(ck: Checkpoint, path_or_name=None) -> str | None:
    """The architecture of a read checkpoint: recorded in it, named by its manifest entry or BoxMOT-style file name,
    or recognised from its tensors; None when nothing fits."""
    return (ck.arch or (infer_arch(path_or_name) if path_or_name is not None else None)
            or (infer_arch(ck.path) if ck.path is not None else None) or guess_arch(ck.state_dict))


def _signature(sd: dict) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in sd.items() if not _HEAD_RE.match(k)}


def guess_arch(state_dict: dict) -> str | None:
    """The registered architecture whose tensors (heads aside) match ``state_dict`` exactly, or None.
    Models are built on the meta device, so this allocates nothing."""
    import torch

    from .models.registry import build_model, list_models

    want = _signature(state_dict)
    first = next(iter(want), "")
    for name in list_models():
        if name in ("bdb", "pmm") and not first.startswith("backbone"):
            continue
        try:
            with torch.device("meta"):
                have = _signature(build_model(name).state_dict())
        except Exception:  # noqa: BLE001
            continue
        if have == want:
            return name
    return None


# ----------------------------------------------------------------------------------------------------------------
# Loading into a model
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class LoadReport:
    """What ``load_weights`` did: file, checkpoint kind, tensors loaded, heads skipped (with the reason)."""

    path: Path
    kind: str
    loaded: int
    skipped_heads: list[str] = field(default_factory=list)
    note: str = ""

    def __str__(self) -> str:
        s = f"{self.loaded} tensors from {self.path.name} ({self.kind})"
        if self.skipped_heads:
            s += f"; classifier not loaded ({self.note or ', '.join(self.skipped_heads[:4])}), fine for inference"
        return s


def _fmt(keys: list, limit: int = 10) -> str:
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(map(str, keys[:limit])) + more


def load_weights(model, path_or_name, arch: str | None = None, *, trust: bool = False,
                 allow_unverified: bool | None = None) -> LoadReport:
    """Load a checkpoint (path or known name) into ``model`` and return a ``LoadReport``.

    Every tensor outside the classification heads must match by name and shape; otherwise
    ``CheckpointMismatchError`` lists the missing, unexpected and mismatched keys (first 10 each) and names the
    architecture the file fits when one does. Classifier heads are loaded when their shapes fit, else skipped (a
    different class count or a head-less model is fine for inference). ``arch`` is the model's architecture name,
    used to reject a trackreid checkpoint or known file recorded for another one and in error messages.
    """
    ck = path_or_name if isinstance(path_or_name, Checkpoint) else read_checkpoint(
        path_or_name, trust=trust, allow_unverified=allow_unverified)
    entry = get_entry(ck.path.name) if ck.path is not None else None
    recorded = ck.arch or (entry.arch if entry is not None else None)
    if arch is not None and recorded is not None:
        from .models.registry import get_spec

        try:
            same = get_spec(arch).name == get_spec(recorded).name
        except ValueError:
            same = arch == recorded
        if not same:
            raise CheckpointMismatchError(f"{ck.path} holds {recorded} weights but the model is {arch}; build "
                                          f"{recorded!r} instead (e.g. build_encoder({recorded!r}, weights=...))")
    target = model.state_dict()
    sd = ck.state_dict
    # BatchNorm's num_batches_tracked counter is absent from older torchreid files and does not affect inference
    missing = [k for k in target if k not in sd and not _HEAD_RE.match(k) and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in target and not _HEAD_RE.match(k)]
    shape_bad = [f"{k} {tuple(sd[k].shape)} vs model {tuple(target[k].shape)}"
                 for k in sd if k in target and not _HEAD_RE.match(k) and sd[k].shape != target[k].shape]
    if missing or unexpected or shape_bad:
        name = arch or type(model).__name__
        parts = [f"{ck.path} does not fit {name}:"]
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_fmt(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_fmt(unexpected)}")
        if shape_bad:
            parts.append(f"{len(shape_bad)} shape mismatch(es): {_fmt(shape_bad)}")
        guess = guess_arch(sd) or recorded or _name_arch(ck.path.name)
        if guess and guess != arch:
            parts.append(f"The file looks like {guess!r} weights; build that model instead.")
        raise CheckpointMismatchError("\n  ".join(parts))
    to_load = {k: v for k, v in sd.items() if not _HEAD_RE.match(k)}
    skipped, note = [], ""
    for k, v in sd.items():
        if not _HEAD_RE.match(k):
            continue
        if k in target and target[k].shape == v.shape:
            to_load[k] = v
        else:
            skipped.append(k)
    if skipped:
        w = next((k for k in skipped if k.endswith("weight") and sd[k].ndim == 2), None)
        if w is not None and w in target:
            note = f"checkpoint has {sd[w].shape[0]} classes, model {target[w].shape[0]}"
        elif w is not None:
            note = f"model has no classifier; checkpoint's has {sd[w].shape[0]} classes"
    model.load_state_dict(to_load, strict=False)
    report = LoadReport(ck.path, ck.kind, len(to_load), skipped, note)
    log.info("loaded %s", report)
    return report
