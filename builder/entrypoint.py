"""The entrypoint script that runs a stage's (or service's) ``commands``. Pure: text in, text out.

For POSIX shells, as Estafette's builder writes it: ``#!<shell>``, ``set -e``, every command echoed in grey as
``> command`` before it runs. Each command but the last runs in the background and is waited on, with a trap that
forwards SIGHUP/SIGINT/SIGTERM to it (the script is PID 1 in a container, which ignores signals it has no handler
for); the last command is ``exec``'d so it receives signals directly. A command runs in the foreground instead when
``runCommandsInForeground`` is set or when it changes shell state or is a compound the background form would break
(``VAR=…``, ``export``, ``shopt``, ``cd``, ``;``, ``|``, ``||``, ``&&``). Unlike Estafette, two more kinds run in the
foreground: a multi-line command (``exec`` or ``&`` would apply to one of its lines only, and after an ``exec`` on the
first line the rest would never run) and one starting with a shell builtin such as ``exit`` or ``set`` (``exec exit 3``
fails with "exit: not found").

PowerShell (``powershell``/``pwsh``) and ``cmd`` shells get the equivalent stop-on-error script without the
background handling.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

GREY = "\x1b[38;5;245m"
RESET = "\x1b[0m"

_SHELL_STATE = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*=|\bexport\b|\bshopt\b|(^|[\s;&|(])cd(\s|$)|;|\||&&|\n")
# Builtins that only make sense in the script's own shell; `exec exit 3` would fail with "exit: not found".
_SHELL_BUILTINS = frozenset(
    {
        "exit",
        "return",
        "set",
        "unset",
        "source",
        ".",
        "eval",
        "exec",
        "trap",
        "shift",
        "alias",
        "umask",
        "ulimit",
        "readonly",
        "wait",
        "break",
        "continue",
        "local",
        "declare",
        "typeset",
        "pushd",
        "popd",
    }
)


def is_foreground_command(command: str) -> bool:
    """Whether ``command`` must run in the script's own shell (it changes shell state or is compound)."""
    stripped = command.strip()
    if stripped.split(maxsplit=1)[0] in _SHELL_BUILTINS if stripped else False:
        return True
    return _SHELL_STATE.search(stripped) is not None


def shell_kind(shell: str) -> str:
    """``posix``, ``powershell`` or ``cmd``, from the stage's ``shell`` (a path or a name)."""
    name = shell.replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe")
    if name in ("powershell", "pwsh"):
        return "powershell"
    if name == "cmd":
        return "cmd"
    return "posix"


def entrypoint_filename(shell: str) -> str:
    return {"posix": "entrypoint.sh", "powershell": "entrypoint.ps1", "cmd": "entrypoint.bat"}[shell_kind(shell)]


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def generate_entrypoint(*, shell: str, commands: Sequence[str], run_in_foreground: bool = False) -> str:
    """The script text for ``commands`` run by ``shell``. ``commands`` must not be empty."""
    if not commands:
        raise ValueError("an entrypoint script needs at least one command")
    kind = shell_kind(shell)
    if kind == "powershell":
        return _powershell(commands)
    if kind == "cmd":
        return _cmd(commands)
    return _posix(shell, commands, run_in_foreground)


def _posix(shell: str, commands: Sequence[str], run_in_foreground: bool) -> str:
    lines = [f"#!{shell}", "set -e", ""]
    last = len(commands) - 1
    for index, raw_command in enumerate(commands):
        command = raw_command.rstrip("\n")
        lines.append(f"printf '{GREY}> %s{RESET}\\n' {_sh_quote(command)}")
        if run_in_foreground or is_foreground_command(command):
            lines.append(command)
        elif index == last:
            lines.append(f"exec {command}")
        else:
            lines.append(f"{command} &")
            lines.append('trap "kill $!; wait; exit" 1 2 15')
            lines.append("wait $!")
        lines.append("")
    return "\n".join(lines)


def _ps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _powershell(commands: Sequence[str]) -> str:
    lines = ["$ErrorActionPreference = 'Stop'", "$ProgressPreference = 'SilentlyContinue'", ""]
    for command in commands:
        lines.append(f"Write-Host ('> ' + {_ps_quote(command)})")
        lines.append(command)
        lines.append("if ($LASTEXITCODE -and $LASTEXITCODE -ne 0) { exit $LASTEXITCODE }")
        lines.append("")
    return "\r\n".join(lines)


def _cmd(commands: Sequence[str]) -> str:
    lines = ["@echo off", ""]
    for command in commands:
        lines.append(f"echo ^> {command}")
        lines.append(command)
        lines.append("if %errorlevel% neq 0 exit /b %errorlevel%")
        lines.append("")
    return "\r\n".join(lines)
