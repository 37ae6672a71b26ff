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


EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
"""Exit codes shared by every command: 1 bad input (a file, a model, a dataset...), 2 a bad command line
(argparse's own code), 130 interrupted (Ctrl-C or SIGTERM)."""


class UsageError(ValueError):
    """The command line itself is wrong (a required option missing, options that exclude each other): exit 2."""


def run_command(prog: str, body, *, debug: bool = False, on_interrupt=None, context=None) -> int:
    """Run ``body()`` (returning an exit code or None) with the one error policy of all our commands.

    Any error prints one line ``PROG: error: ...`` on stderr and returns 1, or 2 for a :class:`UsageError`
    (``debug`` re-raises it for the full traceback). Ctrl-C returns 130 after ``on_interrupt()`` (which may print where the outputs are) or a plain
    ``PROG: interrupted`` line. ``context()`` may add a suffix to the error line (what was kept). A missing
    optional package is named as such.
    """
    import sys

    try:
        code = body()
        return EXIT_OK if code is None else int(code)
    except KeyboardInterrupt:
        if debug:
            raise
        msg = on_interrupt() if on_interrupt is not None else None
        print(msg or f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - one clear line unless --debug
        if debug:
            raise
        text = f"missing package: {exc}" if isinstance(exc, ImportError) else one_line(exc)
        print(f"{prog}: error: {text}{context() if context is not None else ''}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_BAD_INPUT
