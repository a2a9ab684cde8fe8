"""``estafette-builder`` (``python -m builder``): ``run`` (local mode), ``replay``, ``job``, ``standby``, ``version``.

``make run``/``make test`` install ``builder/`` into the venv (editable), which puts ``estafette-builder`` on the
venv's ``bin/`` and lets ``python -m builder`` find the package from any directory.

Imports stay lazy: a job on the host executor never loads the docker SDK, and nothing is imported before the
subcommand is known.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: estafette-builder COMMAND [OPTIONS]   (or: python -m builder COMMAND [OPTIONS])

commands:
  run [STAGE...] [--file .estafette.yaml] [--executor auto|docker|host]
        run a manifest's stages in the current working copy (local mode)
  replay BUILD-URL [--token TOKEN] [--secrets-file FILE] [--checkout DIR] [--executor auto|docker|host]
        run a server build's stages here, in a checkout of its revision (token: $ESTAFETTE_API_TOKEN)
  job [--config FILE] [--secret-key-file FILE] [--workspace DIR] [--executor auto|docker|host]
        run one job from a builder configuration and report it to the API
  standby [--parent-pid PID]
        start pre-loaded and launch jobs requested on standard input (see builder/standby.py)
  version
        print the builder's version
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in ("run", "replay"):
        return _on_this_machine(command, rest)
    if command == "job":
        from builder.job import parse_job_args, run_job

        return run_job(**parse_job_args(rest))
    if command == "standby":
        from builder.standby import parse_standby_args, serve

        return serve(**parse_standby_args(rest))
    if command == "version":
        from builder import __version__

        print(__version__)
        return 0
    print(f"unknown command {command!r}\n\n{USAGE}", end="", file=sys.stderr)
    return 2


def _on_this_machine(command: str, rest: Sequence[str]) -> int:
    """Local mode (``run``) or a server build's replay (``replay``)."""
    if command == "run":
        from builder.local import parse_run_args, run_local

        return run_local(**parse_run_args(rest))  # type: ignore[arg-type]
    from builder.replay import parse_replay_args, replay

    return replay(**parse_replay_args(rest))


if __name__ == "__main__":
    sys.exit(main())
