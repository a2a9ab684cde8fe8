"""A throw-away Docker engine for the executor tests (Debian's ``docker.io`` dockerd, no systemd needed).

``DockerEngine().start()`` runs dockerd on a private socket, data root and exec root in a fresh temporary directory,
without the default bridge and iptables (nothing else on the machine is touched), and waits for ``/_ping``.
``import_busybox()`` builds a tiny image from Debian's static busybox (``busybox-static``) with ``docker import``
through the Engine API, since no registry is reachable. ``stop()`` shuts dockerd down and removes the directory.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

DOCKERD = "/usr/sbin/dockerd"
BUSYBOX = "/bin/busybox"
START_TIMEOUT = 60.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=2)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _is_static(binary: str) -> bool:
    """Whether ``binary`` has no ELF interpreter (a dynamically linked busybox would not run in the image)."""
    try:
        header = Path(binary).read_bytes()[:65536]
    except OSError:
        return False
    return b"/lib64/ld-linux" not in header and b"/lib/ld-linux" not in header and header.startswith(b"\x7fELF")


def _mounts_under(directory: Path) -> list[str]:
    """Mount points inside ``directory`` (from /proc/self/mounts), deepest first."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = f"{directory}/"
    points = [line.split()[1] for line in lines if len(line.split()) > 1 and line.split()[1].startswith(prefix)]
    return sorted(points, key=len, reverse=True)


class DockerEngine:
    def __init__(self) -> None:
        if not os.access(DOCKERD, os.X_OK):
            raise RuntimeError(f"{DOCKERD} not found: install Debian's docker.io (scripts/system-deps.sh does)")
        # short path: unix socket paths are limited to 108 bytes
        self.directory = Path(tempfile.mkdtemp(prefix="dockerd-", dir="/tmp"))
        self.socket = self.directory / "docker.sock"
        self.url = f"unix://{self.socket}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.directory / "dockerd.log"

    def start(self) -> DockerEngine:
        command = [
            DOCKERD,
            "-H",
            self.url,
            "--data-root",
            str(self.directory / "data"),
            "--exec-root",
            str(self.directory / "exec"),
            "--pidfile",
            str(self.directory / "dockerd.pid"),
            "--bridge=none",
            "--iptables=false",
        ]
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self._process.returncode}:\n{self.log_tail()}")
            if self.ping():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dockerd did not answer within {START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def ping(self) -> bool:
        if not self.socket.exists():
            return False
        connection = _UnixConnection(str(self.socket))
        try:
            connection.request("GET", "/_ping")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        # dockerd leaves its default network namespace mounted under the exec root once a network was created (the
        # docker executor makes one per run): unmounted, so the directory can go and no mount piles up.
        for mount_point in _mounts_under(self.directory):
            subprocess.run(["umount", "--lazy", mount_point], check=False, capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)

    def import_busybox(self, repository: str = "local/busybox", *, command: list[str] | None = None) -> str:
        """Import a busybox image as ``repository:latest``; ``command`` becomes its CMD (default ``/bin/sh``)."""
        import json

        import docker

        if not _is_static(BUSYBOX):
            raise RuntimeError(f"{BUSYBOX} is not statically linked: install Debian's busybox-static")
        applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for directory in ("bin", "etc", "tmp", "root"):
                info = tarfile.TarInfo(directory)
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
                archive.addfile(info)
            archive.add(BUSYBOX, arcname="bin/busybox")
            for applet in applets:
                if applet != "busybox":
                    link = tarfile.TarInfo(f"bin/{applet}")
                    link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                    archive.addfile(link)
            passwd = b"root:x:0:0:root:/root:/bin/sh\n"
            info = tarfile.TarInfo("etc/passwd")
            info.size = len(passwd)
            archive.addfile(info, io.BytesIO(passwd))
        tarball = self.directory / f"{repository.replace('/', '-')}.tar"
        tarball.write_bytes(buffer.getvalue())
        client = docker.DockerClient(base_url=self.url)
        try:
            client.api.import_image(
                src=str(tarball),
                repository=repository,
                tag="latest",
                changes=[f"CMD {json.dumps(command or ['/bin/sh'])}"],
            )
        finally:
            client.close()
        return f"{repository}:latest"
