"""The job pod's security context is enough for the builder's sandbox, and each relaxation in it is needed.

No kubelet runs here, but the suite's dockerd runs containers with the same kernel mechanisms a kubelet asks its
runtime for: the container securityContext the runner generates is translated field by field into Docker's (a field
this test does not know fails it), and the builder's own sandbox probe (``sandbox_support``: a real bwrap start) runs
inside, as the image's unprivileged user, with this machine's ``/usr`` (bwrap, python3) mounted read-only.
``hostUsers: false`` has no per-container equivalent in Docker; the node's user namespace only makes the pod's uids
unprivileged ones, and is not what the sandbox needs (``procMount`` is).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from estafette.jobs.kubernetes import CONTAINER_NAME, KubernetesJobRunner
from estafette.jobs.tests.contract import make_spec
from estafette.jobs.tests.test_kubernetes import make_runner
from tests.tooling.kube import KubeApi

BUILDER_SOURCE = Path(__file__).resolve().parents[3] / "builder"
PROBE = (
    "import sys; sys.path.insert(0, '/src'); from builder.executors.sandbox import sandbox_support; "
    "support = sandbox_support(); print('available' if support.available else support.reason)"
)
BUILDER_UID = "10001:10001"  # docker/builder.Dockerfile's USER


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    if os.environ.get("ESTAFETTE_SKIP_DOCKER") == "true":
        pytest.skip("ESTAFETTE_SKIP_DOCKER=true")
    if not os.access("/usr/bin/bwrap", os.X_OK) or not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("needs this machine's bwrap and python3 in /usr")
    from tests.tooling.dockerd import DockerEngine

    started = DockerEngine().start()
    try:
        started.import_busybox("local/busybox")
        yield started
    finally:
        started.stop()


def docker_host_config(api: Any, context: dict[str, Any]) -> dict[str, Any]:
    """Docker's HostConfig for a Kubernetes container securityContext (the fields the runner uses, no others)."""
    known = {"privileged", "allowPrivilegeEscalation", "capabilities", "seccompProfile", "appArmorProfile", "procMount"}
    assert set(context) <= known, f"translate {set(context) - known} too"
    options: list[str] = []
    if context.get("allowPrivilegeEscalation") is False:
        options.append("no-new-privileges")
    for field, option in (("seccompProfile", "seccomp"), ("appArmorProfile", "apparmor")):
        profile = context.get(field, {"type": "RuntimeDefault"})
        assert profile["type"] in ("Unconfined", "RuntimeDefault"), profile
        if profile["type"] == "Unconfined":
            options.append(f"{option}=unconfined")
    usr = {"/usr": "/usr", "/usr/lib": "/lib", "/usr/lib64": "/lib64"}  # merged /usr: /lib is /usr/lib here
    config: dict[str, Any] = api.create_host_config(
        binds={
            **{source: {"bind": target, "mode": "ro"} for source, target in usr.items() if os.path.isdir(source)},
            str(BUILDER_SOURCE): {"bind": "/src/builder", "mode": "ro"},
        },
        tmpfs={"/tmp": "mode=1777"},  # the pod's emptyDir
        network_mode="none",
        privileged=bool(context.get("privileged")),
        cap_drop=context.get("capabilities", {}).get("drop"),
        cap_add=context.get("capabilities", {}).get("add"),
        security_opt=options,
    )
    if context.get("procMount") == "Unmasked":
        config["MaskedPaths"], config["ReadonlyPaths"] = [], []
    return config


def probe_in(engine: Any, context: dict[str, Any]) -> str:
    import docker

    api = docker.APIClient(base_url=engine.url)
    created = api.create_container(
        "local/busybox",
        command=["/usr/bin/python3", "-I", "-c", PROBE],
        user=BUILDER_UID,
        host_config=docker_host_config(api, context),
    )
    try:
        api.start(created["Id"])
        assert api.wait(created["Id"], timeout=120)["StatusCode"] == 0
        return str(api.logs(created["Id"]).decode().strip())
    finally:
        api.remove_container(created["Id"], force=True)


def job_container_context(runner: KubernetesJobRunner) -> dict[str, Any]:
    job = runner.job_manifest(make_spec())
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["name"] == CONTAINER_NAME
    return dict(container["securityContext"])


def test_the_sandbox_starts_under_the_job_pods_security_context(kube_api: KubeApi, engine: Any) -> None:
    # given the container securityContext of a job pod (no privileges, no capabilities)
    context = job_container_context(make_runner(kube_api))
    # when the builder probes for its sandbox in a container made with it, then bwrap starts
    assert probe_in(engine, context) == "available"


def test_with_proc_masked_the_sandbox_cannot_start(kube_api: KubeApi, engine: Any) -> None:
    # ESTAFETTE_JOBS_USER_NAMESPACES=false: no procMount: Unmasked, and the probe says why the builder will refuse
    context = job_container_context(make_runner(kube_api, user_namespaces=False))
    assert "proc" in probe_in(engine, context)


def test_with_the_runtimes_default_seccomp_profile_the_sandbox_cannot_start(kube_api: KubeApi, engine: Any) -> None:
    # the one exception to the runtime's defaults that seccomp needs: without it, no user namespace
    context = {**job_container_context(make_runner(kube_api)), "seccompProfile": {"type": "RuntimeDefault"}}
    assert probe_in(engine, context) != "available"
