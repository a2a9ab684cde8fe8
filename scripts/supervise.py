"""``make run``'s process set: the Procfile's processes under supervisord, each restarted when it dies.

honcho (which ran the Procfile before) stops every process as soon as one exits, so one crashed consumer ended the
whole stack and the builds it was serving. supervisord restarts a process that exits, with back-off while it keeps
failing to start, and leaves the others running; only Ctrl-C (SIGINT) or SIGTERM stops the set.

The Procfile stays the one list of processes (``honcho``'s parser reads it, and a ``.env`` beside it as honcho did);
this script writes a supervisord configuration for it into ``--state-dir`` and replaces itself with supervisord.
supervisord, not a loop written here: restart policy, back-off, process groups, signal forwarding and log
plumbing are what it has done well for years.

Restart policy (supervisord's own terms): a process that exits after it ran ``START_SECONDS`` is started again at
once; one that dies sooner is retried after 1 s, 2 s, 3 s … (supervisord's ``BACKOFF``), up to ``START_RETRIES``
times, and is then left ``FATAL`` (the rest keep running; ``supervisorctl -c <state>/supervisord.conf start NAME``
starts it again). The processes' output goes to this terminal, each line as the process wrote it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from honcho.environ import parse, parse_procfile

START_SECONDS = 3
START_RETRIES = 20
STOP_WAIT_SECONDS = 30  # gunicorn's graceful stop and a consumer finishing its message
# Started first, stopped last: the queue before its clients, the web server before the workers calling nothing.
PRIORITIES = {"nats": 10, "web": 20}
OTHER_PRIORITY = 30


def supervisord_config(procfile: Path, *, state_dir: Path, directory: Path, umask: int) -> str:
    """supervisord's configuration for every process of ``procfile`` (run from ``directory``); the processes get
    ``umask`` (the caller's, as under honcho), supervisord's own files (log, pid) stay owner-only."""
    processes = parse_procfile(procfile.read_text()).processes
    if not processes:
        raise SystemExit(f"{procfile} names no process")
    sections = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={state_dir / 'supervisord.log'}",
        "logfile_maxbytes=10MB",
        "logfile_backups=1",
        f"pidfile={state_dir / 'supervisord.pid'}",
        f"childlogdir={state_dir}",
        "loglevel=info",
        "",
        # The control socket, owner-only: `supervisorctl -c <state>/supervisord.conf status|restart NAME`.
        "[unix_http_server]",
        f"file={state_dir / 'supervisor.sock'}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{state_dir / 'supervisor.sock'}",
        "",
    ]
    for name, command in processes.items():
        # A shell for the Procfile's ${VAR:-default} expansions, then exec: signals reach the process itself.
        shell_command = "exec " + command
        sections += [
            f"[program:{name}]",
            f"command=/bin/sh -c {_quoted(shell_command)}",
            f"directory={directory}",
            f"priority={PRIORITIES.get(name, OTHER_PRIORITY)}",
            f"umask={umask:03o}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={START_SECONDS}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            f"stopwaitsecs={STOP_WAIT_SECONDS}",
            # What the process started in its group (gunicorn's workers) goes with it; jobs have sessions of
            # their own and outlive it, as pods outlive the API.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
            "",
        ]
    return "\n".join(sections)


def _quoted(text: str) -> str:
    """``text`` as one argument of supervisord's command line (shlex rules) with its ``%`` escaped."""
    return "'" + text.replace("%", "%%").replace("'", "'\"'\"'") + "'"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", type=Path, default=Path("Procfile"))
    parser.add_argument("--state-dir", type=Path, required=True, help="where supervisord's config, socket, log go")
    parser.add_argument(
        "--directory", type=Path, help="where the processes run (default: the Procfile's directory; benchmarks)"
    )
    arguments = parser.parse_args(argv)
    directory = (arguments.directory or arguments.procfile.resolve().parent).resolve()
    env_file = directory / ".env"
    if env_file.exists():  # as honcho did: a developer's local settings
        for key, value in parse(env_file.read_text()).items():
            os.environ.setdefault(key, value)
    state_dir = arguments.state_dir.resolve()
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = state_dir / "supervisord.conf"
    # supervisord applies its own `umask` setting only when it daemonizes: its files (log, pid, socket) are made
    # owner-only by the umask it inherits, and each process gets the caller's umask back (`umask=` per program).
    umask = os.umask(0o077)
    text = supervisord_config(arguments.procfile.resolve(), state_dir=state_dir, directory=directory, umask=umask)
    with os.fdopen(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)
    supervisord = Path(sys.executable).parent / "supervisord"
    os.execv(supervisord, [str(supervisord), "-c", str(config)])  # noqa: S606 - fixed argv, no shell


if __name__ == "__main__":
    main()
