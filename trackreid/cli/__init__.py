"""Command-line entry points: ``trackreid``, ``trackreid-train``, ``trackreid-eval``, ``trackreid-export``."""
from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """An error as one line for stderr: whitespace collapsed, the exception type kept where the message alone
    would not say what went wrong."""
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError) and text.startswith("'") and text.endswith("'"):
        text = text[1:-1]
    if not text:
        return type(exc).__name__
    if isinstance(exc, (ValueError, FileNotFoundError, OSError, ImportError)):
        return text
    return f"{type(exc).__name__}: {text}"
