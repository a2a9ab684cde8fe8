"""The generated entrypoint script: its text, and its behaviour under a real /bin/sh."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from builder.entrypoint import GREY, RESET, entrypoint_filename, generate_entrypoint, is_foreground_command


def test_it_writes_the_script_estafette_writes() -> None:
    # given three commands, the middle one changing shell state
    script = generate_entrypoint(shell="/bin/bash", commands=["make build", "cd src", "./run.sh --fast"])
    # then each is echoed; background-and-wait with a signal trap, foreground for cd, exec for the last
    assert script == "\n".join(
        [
            "#!/bin/bash",
            "set -e",
            "",
            f"printf '{GREY}> %s{RESET}\\n' 'make build'",
            "make build &",
            'trap "kill $!; wait; exit" 1 2 15',
            "wait $!",
            "",
            f"printf '{GREY}> %s{RESET}\\n' 'cd src'",
            "cd src",
            "",
            f"printf '{GREY}> %s{RESET}\\n' './run.sh --fast'",
            "exec ./run.sh --fast",
            "",
        ]
    )


def test_it_runs_everything_in_the_foreground_when_asked() -> None:
    script = generate_entrypoint(shell="/bin/sh", commands=["a", "b"], run_in_foreground=True)
    assert "&" not in script and "exec" not in script and "trap" not in script


@pytest.mark.parametrize(
    "command",
    [
        "FOO=bar",
        "export PATH=/x:$PATH",
        "shopt -s globstar",
        "cd /tmp",
        "make && make test",
        "a || b",
        "ls | wc -l",
        "echo a; echo b",
        "if true\nthen echo x\nfi",
        "exit 3",
        "set -x",
        "source env.sh",
    ],
)
def test_it_keeps_shell_state_commands_in_the_foreground(command: str) -> None:
    assert is_foreground_command(command)


@pytest.mark.parametrize("command", ["make build", "go test ./...", "npm ci", "echo 'cd is a word'", "docker build ."])
def test_it_backgrounds_ordinary_commands(command: str) -> None:
    assert not is_foreground_command(command)


def test_it_picks_the_script_flavour_from_the_shell() -> None:
    assert entrypoint_filename("/bin/sh") == "entrypoint.sh"
    assert entrypoint_filename("powershell") == "entrypoint.ps1"
    assert entrypoint_filename("C:\\Windows\\System32\\cmd.exe") == "entrypoint.bat"
    assert "$ErrorActionPreference = 'Stop'" in generate_entrypoint(shell="pwsh", commands=["Write-Host hi"])


def _run_script(tmp_path: Path, commands: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "entrypoint.sh"
    script.write_text(generate_entrypoint(shell="/bin/sh", commands=commands, **kwargs))  # type: ignore[arg-type]
    script.chmod(0o755)
    return subprocess.run([str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False)


def test_it_stops_at_the_first_failing_command_and_keeps_its_exit_code(tmp_path: Path) -> None:
    result = _run_script(tmp_path, ["echo one", "sh -c 'exit 7'", "echo never"])
    assert result.returncode == 7
    assert "one" in result.stdout and "never\n" not in result.stdout.replace("> echo never", "")


def test_it_echoes_commands_literally_without_evaluating_them(tmp_path: Path) -> None:
    result = _run_script(tmp_path, ["echo \"$(echo inner)\" 'it''s'"])
    assert "> echo \"$(echo inner)\" 'it''s'" in result.stdout
    assert result.stdout.rstrip().endswith("inner its")


def test_it_keeps_shell_state_between_commands(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    result = _run_script(tmp_path, ["export GREETING=hello", "cd sub", "echo $GREETING from $(basename $PWD)"])
    assert result.stdout.rstrip().endswith("hello from sub")


def test_it_forwards_sigterm_to_a_background_command(tmp_path: Path) -> None:
    # given a script whose first command traps TERM and records it
    marker = tmp_path / "got-term"
    trapping = tmp_path / "trapping.sh"
    trapping.write_text(f'#!/bin/sh\ntrap "touch {marker}; exit 0" TERM\nwhile true; do sleep 0.05; done\n')
    trapping.chmod(0o755)
    script = tmp_path / "entrypoint.sh"
    script.write_text(generate_entrypoint(shell="/bin/sh", commands=[str(trapping), "echo after"]))
    assert f"{trapping} &" in script.read_text()
    script.chmod(0o755)
    process = subprocess.Popen([str(script)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    # when the script (PID 1 in a container) gets SIGTERM
    os.kill(process.pid, signal.SIGTERM)
    process.wait(timeout=10)
    # then the background command received it through the trap
    assert marker.exists()
