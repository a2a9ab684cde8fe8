"""The data dir is the server's alone: its processes create files 0600 and directories 0700.

The data dir holds the SQLite database, the keys (``secret-key``, ``secret-decryption-key``), the JetStream store
(``nats/``), clones of the pipelines' repositories (``git-cache/``), the jobs' workspaces (``jobs/``, with each job's
secrets) and the collected static files (``static/``, served by the server itself). Nobody else on the machine needs
any of it, so the rule is one umask, set once when a server process starts, rather than a mode at each place that
creates a file: nats-server, git, SQLite and collectstatic create files of their own, with modes of their own, and all
of them honour the umask. The entry points set it (``manage.py``, ``estafette/wsgi.py``, ``estafette/asgi.py``), not
the settings module: a process that merely imports the settings (the test suite, which also plays the users around the
server and makes their repositories) keeps its own umask, as the operator's shell does.

Local builder jobs inherit the umask with the rest of the environment: what the builder writes is its own as well,
and whatever it writes for a stage that runs under another user has to be handed over explicitly (chown or an
explicit mode, as the executors' entrypoint scripts already get).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077  # no group or other bits on anything created from here on
GROUP_AND_OTHER = 0o077


def restrict_umask() -> None:
    """Make this process (and every process it starts) create files 0600 and directories 0700."""
    os.umask(PRIVATE_UMASK)


def make_private_dir(directory: Path) -> int:
    """Create ``directory`` with mode 0700, or close an existing one to group and other.

    A data dir that was open to others comes from an install before this rule: then every file and directory in it
    loses its group and other bits too, once (the next start finds the data dir closed and walks nothing). Returns
    how many entries were changed. Not being allowed to chmod the data dir itself (a volume mounted with an owner of
    its own) is logged, not raised: the server still starts, and what it creates is private by the umask.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(directory.stat().st_mode)
    if not mode & GROUP_AND_OTHER:
        return 0
    changed = _tighten_tree(directory)
    if changed:
        logger.warning(
            "the data dir %s was open to other users (mode %04o): removed group and other access from %d files and "
            "directories in it",
            directory,
            mode,
            changed,
        )
    if stat.S_IMODE(directory.stat().st_mode) & GROUP_AND_OTHER:
        logger.warning(
            "the data dir %s is open to other users (mode %04o) and this process may not change that: "
            "make it 0700 (chmod 0700 %s)",
            directory,
            mode,
            directory,
        )
    return changed


def make_private_file(path: Path) -> bool:
    """Remove group and other bits from ``path`` if it exists (a file kept outside the data dir). Whether it changed."""
    return _tighten(path)


def _tighten_tree(top: Path) -> int:
    # Top-down: each directory is closed before anything in it is looked at.
    changed = int(_tighten(top))
    for root, directories, files in os.walk(top, followlinks=False):
        changed += sum(_tighten(Path(root) / name) for name in (*directories, *files))
    return changed


def _tighten(path: Path) -> bool:
    """Remove group and other bits from one file or directory; symbolic links (and what they point at) are left.

    Opened with O_NOFOLLOW and changed through the descriptor: a path swapped for a link between a look and a
    chmod cannot redirect the chmod to another file.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return False  # a symbolic link (ELOOP), gone since the walk, or not ours to open
    try:
        mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
        if not mode & GROUP_AND_OTHER:
            return False
        with contextlib.suppress(PermissionError):
            os.fchmod(descriptor, mode & ~GROUP_AND_OTHER)
            return True
        return False
    finally:
        os.close(descriptor)
