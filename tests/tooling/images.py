"""Base images for building the repository's Dockerfiles on the test dockerd, where no registry can be reached.

``debian_python_rootfs()`` makes a Debian bookworm root file system with ``debootstrap`` (Debian's own packages:
``python3``, ``python3-venv``, ``ca-certificates``) and keeps it as a tarball under the repository's ignored
``var/test-cache/`` (``ESTAFETTE_TEST_IMAGE_CACHE`` elsewhere), keyed by what went into it, so only the first run
pays for it (a few minutes; later runs: none). ``import_base`` turns it into an image with ``docker import``;
``node_image`` adds this machine's Node.js (the web UI's build stage needs Node.js 20.19+, which Debian bookworm does
not package) as the stand-in for the public ``node`` image. ``build_image`` runs a ``docker build`` through the Engine
API with the host's network (the build stages install from PyPI, npm and Debian, as on a developer's machine) and
reports each Dockerfile step.

Long steps report as they go through ``progress`` (a callable taking a line): the tests pass one that writes past
pytest's output capture.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_IMAGE = "local/debian-python:bookworm"
IMPORTED_IMAGE = "local/debootstrap-bookworm"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CA_VARIABLES = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO")
NODE_IMAGE = "local/node:20-bookworm"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
NODE = "/usr/bin/node"
NPM_DIR = "/usr/lib/node_modules/npm"
DEBOOTSTRAP_TIMEOUT = 1200

Progress = Callable[[str], None]


def cache_dir() -> Path:
    directory = Path(os.environ.get("ESTAFETTE_TEST_IMAGE_CACHE") or REPOSITORY / "var" / "test-cache" / "images")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def debian_python_rootfs(progress: Progress) -> Path:
    """The debootstrapped root file system as a tarball: from the cache, else made now (and cached)."""
    key = hashlib.sha256(json.dumps([SUITE, MIRROR, PACKAGES, "minbase"]).encode()).hexdigest()[:12]
    tarball = cache_dir() / f"debian-{SUITE}-python-{key}.tar"
    if tarball.is_file():
        progress(f"base image: debootstrapped {SUITE} from the cache ({tarball})")
        return tarball
    if not os.access(DEBOOTSTRAP, os.X_OK):
        raise RuntimeError(f"{DEBOOTSTRAP} not found: install Debian's debootstrap (scripts/system-deps.sh does)")
    progress(f"base image: debootstrap {SUITE} with {', '.join(PACKAGES)} (once; cached in {tarball.parent})")
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=tarball.parent))
    try:
        command = [
            DEBOOTSTRAP,
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(root / "rootfs"),
            MIRROR,
        ]
        _run_reporting(command, progress, prefix="debootstrap: ", timeout=DEBOOTSTRAP_TIMEOUT)
        rootfs = root / "rootfs"
        # What the image does not need: the package lists and downloaded .debs (apt-get update refreshes them).
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        partial = root / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], check=True)
        partial.replace(tarball)  # atomic: a run stopped half-way leaves no half tarball behind
    finally:
        shutil.rmtree(root, ignore_errors=True)
    progress(f"base image: made in {time.monotonic() - started:.0f}s")
    return tarball


def import_base(client: Any, progress: Progress) -> str:
    """``docker import`` of the debootstrapped tarball, plus this machine's trusted certificates, as ``BASE_IMAGE``.

    The certificates: where the registries are reached through a TLS-inspecting proxy, its CA is in this machine's
    bundle only, so the image trusts that bundle and tells pip, npm and git to use it (as a company's base image
    would); the Dockerfiles stay as they are shipped.
    """
    tarball = debian_python_rootfs(progress)
    started = time.monotonic()
    client.api.import_image(src=str(tarball), repository=IMPORTED_IMAGE, tag="latest", changes=['CMD ["/bin/bash"]'])
    progress(f"base image: imported in {time.monotonic() - started:.1f}s")
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        _add_bytes(archive, "ca-certificates.crt", Path(CA_BUNDLE).read_bytes())
        environment = " ".join(f"{name}={CA_BUNDLE}" for name in CA_VARIABLES)
        dockerfile = f"FROM {IMPORTED_IMAGE}:latest\nCOPY ca-certificates.crt {CA_BUNDLE}\nENV {environment}\n"
        _add_bytes(archive, "Dockerfile", dockerfile.encode())
    context.seek(0)
    return build_image(client, tag=BASE_IMAGE, fileobj=context, progress=progress, what="base image")


def node_image(client: Any, base: str, progress: Progress) -> str:
    """``base`` plus this machine's Node.js package files: the stand-in for the public ``node:20`` image."""
    files = _node_package_files()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        nodejs = io.BytesIO()
        with tarfile.open(fileobj=nodejs, mode="w") as inner:
            for path in files:
                inner.add(path, arcname=path.lstrip("/"), recursive=False)
        _add_bytes(archive, "nodejs.tar", nodejs.getvalue())
        _add_bytes(archive, "Dockerfile", f"FROM {base}\nADD nodejs.tar /\nRUN node --version\n".encode())
    context.seek(0)
    return build_image(client, tag=NODE_IMAGE, fileobj=context, progress=progress, what="node image")


def _node_package_files() -> list[str]:
    """The Node.js binary and npm as installed here (npm may have been upgraded after the package: taken as it is)."""
    owner = subprocess.run(["dpkg", "-S", NODE], capture_output=True, text=True, check=False)
    if owner.returncode != 0 or not Path(NPM_DIR).is_dir():
        raise RuntimeError(f"{NODE} and {NPM_DIR} are needed: install Node.js 20 (README, 'Web UI')")
    files = [NODE, "/usr/bin/npm", "/usr/bin/npx"]
    for directory, _, names in os.walk(NPM_DIR):
        files.extend(os.path.join(directory, name) for name in names)
    return [path for path in files if os.path.islink(path) or os.path.isfile(path)]


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def build_image(
    client: Any,
    *,
    tag: str,
    progress: Progress,
    what: str,
    path: Path | None = None,
    dockerfile: str | None = None,
    fileobj: io.BytesIO | None = None,
    buildargs: Mapping[str, str] | None = None,
) -> str:
    """``docker build`` (the Engine API's, with the host's network) of ``path`` + ``dockerfile`` or an in-memory
    context ``fileobj``; each step is reported, and a failed step raises with the build's last lines."""
    started = time.monotonic()
    progress(f"{what}: docker build -t {tag} ({dockerfile or 'inline Dockerfile'})")
    options: dict[str, Any] = {
        "tag": tag,
        "rm": True,
        "forcerm": True,
        "network_mode": "host",
        "buildargs": dict(buildargs or {}),
        "decode": True,
    }
    if fileobj is not None:
        options.update(fileobj=fileobj, custom_context=True)
    else:
        options.update(path=str(path), dockerfile=dockerfile)
    tail: list[str] = []
    for chunk in client.api.build(**options):
        if "error" in chunk:
            raise RuntimeError(f"{what}: docker build failed: {chunk['error']}\n" + "".join(tail[-40:]))
        text = str(chunk.get("stream") or "")
        if text:
            tail.append(text)
            for line in text.splitlines():
                if line.startswith("Step "):
                    progress(f"{what}: {line} ({time.monotonic() - started:.0f}s)")
    progress(f"{what}: built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _run_reporting(command: list[str], progress: Progress, *, prefix: str, timeout: float) -> None:
    """Run ``command``, passing each line it prints to ``progress``; raise with its last lines when it fails."""
    tail: list[str] = []
    phases: set[str] = set()
    count = 0
    deadline = time.monotonic() + timeout
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in _lines(process.stdout):
            tail = [*tail[-30:], line]
            # The first line of each phase (retrieving, extracting, unpacking, configuring …), then every 50th.
            words, count = line.split(), count + 1
            if line.startswith("I: ") and len(words) > 1 and (words[1] not in phases or count % 50 == 0):
                phases.add(words[1])
                progress(f"{prefix}{line} (line {count})")
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{command[0]} took over {timeout:.0f}s:\n" + "\n".join(tail))
        if process.wait() != 0:
            raise RuntimeError(f"{command[0]} failed with {process.returncode}:\n" + "\n".join(tail))


def _lines(stream: Iterable[str]) -> Iterable[str]:
    for line in stream:
        yield line.rstrip("\n")
