"""``trackreid-report RUN``: write ``RUN/report.html``, one self-contained page to look at a run (identities with
their best crops and when they were in view, line and zone counts over time, speed per stage)."""
from __future__ import annotations

import argparse
import sys

from trackreid.cli import run_command


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="trackreid-report", description=__doc__.split("\n\n")[0])
    p.add_argument("run", nargs="+", help="run folder(s) written by trackreid (its --output)")
    p.add_argument("--crops", type=int, default=3, metavar="N", help="crops shown per identity (default 3)")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    args = p.parse_args(argv)

    def body():
        from trackreid.io.report import write_report

        for run in args.run:
            print(write_report(run, per_identity=args.crops))

    return run_command("trackreid-report", body, debug=args.debug)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
