import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from estafette.lib.datadir import make_private_dir, make_private_file

REPOSITORY = Path(__file__).resolve().parents[3]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_it_creates_the_data_dir_closed_to_others(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    assert make_private_dir(data_dir) == 0
    assert mode(data_dir) == 0o700


def test_it_closes_the_data_dir_of_an_older_install_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # given a data dir as an install before the umask left it, with a link to a file outside it
    data_dir = tmp_path / "var"
    (data_dir / "git-cache" / "acme").mkdir(parents=True)
    for directory in (data_dir, data_dir / "git-cache", data_dir / "git-cache" / "acme"):
        directory.chmod(0o755)
    (data_dir / "estafette.db").write_text("db")
    (data_dir / "estafette.db").chmod(0o644)
    (data_dir / "git-cache" / "acme" / "HEAD").write_text("ref")
    (data_dir / "git-cache" / "acme" / "HEAD").chmod(0o444)
    outside = tmp_path / "shared.txt"
    outside.write_text("not the server's")
    outside.chmod(0o644)
    (data_dir / "link").symlink_to(outside)

    # when the server starts
    with caplog.at_level(logging.WARNING, logger="estafette.lib.datadir"):
        changed = make_private_dir(data_dir)

    # then nothing in it is open to others, and what the link points at is untouched
    assert changed == 5
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "git-cache") == 0o700
    assert mode(data_dir / "git-cache" / "acme") == 0o700
    assert mode(data_dir / "estafette.db") == 0o600
    assert mode(data_dir / "git-cache" / "acme" / "HEAD") == 0o400
    assert mode(outside) == 0o644
    assert "removed group and other access from 5 files and directories" in caplog.text
    # and the next start finds it closed and walks nothing
    (data_dir / "estafette.db").chmod(0o644)  # would be found by a walk
    assert make_private_dir(data_dir) == 0


def test_it_closes_a_file_outside_the_data_dir(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    database.write_text("db")
    database.chmod(0o664)
    assert make_private_file(database) is True
    assert mode(database) == 0o600
    assert make_private_file(database) is False
    assert make_private_file(tmp_path / "missing.db") is False


@pytest.mark.parametrize("entry_point", ["manage.py", "estafette.wsgi"])
def test_a_server_process_creates_private_files_whatever_umask_it_was_started_with(
    entry_point: str, tmp_path: Path
) -> None:
    # given a shell's usual umask, and code that creates a file and a directory once the entry point has run
    create = f"open({str(tmp_path / 'file')!r}, 'w').close(); import os; os.mkdir({str(tmp_path / 'directory')!r})"
    if entry_point == "manage.py":
        argv = [sys.executable, "manage.py", "shell", "-c", create]
    else:
        argv = [sys.executable, "-c", f"import estafette.wsgi; {create}"]
    env = {**os.environ, "ESTAFETTE_DATA_DIR": str(tmp_path / "data"), "ESTAFETTE_OUTBOX_RELAY_IN_PROCESS": "false"}
    # when the server's entry point runs it
    subprocess.run(argv, cwd=REPOSITORY, env=env, check=True, umask=0o022)
    # then what it created is its own
    assert mode(tmp_path / "file") == 0o600
    assert mode(tmp_path / "directory") == 0o700
    assert mode(tmp_path / "data") == 0o700
