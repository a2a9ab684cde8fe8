"""A fake Kubernetes API server for tests: kmock's ``KubernetesEmulator`` served on loopback from a thread.

No kube-apiserver, kind, k3s or envtest binary can be installed here, so Kubernetes code is tested
against kmock (a stateful fake that stores what is created, patched and deleted, with no
controllers and no validation) plus strict schema validation of every object with
``kubernetes_validate``. ``KubeApi.set_job_status`` plays the Job controller.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import kmock
import pytest
from kubernetes import client as k8s

T = TypeVar("T")


class KubeApi:
    def __init__(self) -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.emulator: kmock.KubernetesEmulator | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._main, name="kmock", daemon=True)

    def _main(self) -> None:
        async def body() -> None:
            async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
                self.emulator = emulator
                self.url = str(server.url).rstrip("/")
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                self._ready.set()
                await self._stop.wait()

        asyncio.run(body())

    def start(self) -> KubeApi:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("kmock did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def api_client(self) -> k8s.ApiClient:
        configuration = k8s.Configuration()
        configuration.host = self.url
        return k8s.ApiClient(configuration)

    def in_loop(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the server's thread (the emulator's state is not thread-safe)."""
        assert self._loop is not None

        async def call() -> T:
            return func()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def requests(self) -> list[dict[str, Any]]:
        """Every request served so far: method, path, query parameters and body."""
        assert self.emulator is not None
        emulator = self.emulator
        return self.in_loop(
            lambda: [
                {"method": str(r.method.value), "path": r.url.path, "params": dict(r.params), "data": r.data}
                for r in emulator
            ]
        )

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object (``kind`` is ``jobs``, ``configmaps`` or ``secrets``), or None."""
        api = self.api_client()
        read = {
            "jobs": lambda: k8s.BatchV1Api(api).read_namespaced_job(name, namespace),
            "configmaps": lambda: k8s.CoreV1Api(api).read_namespaced_config_map(name, namespace),
            "secrets": lambda: k8s.CoreV1Api(api).read_namespaced_secret(name, namespace),
        }[kind]
        try:
            return api.sanitize_for_serialization(read())
        except k8s.ApiException as error:
            if error.status == 404:
                return None
            raise

    def set_job_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """What the Job controller would write: e.g. ``{"active": 1, "ready": 1}`` or ``{"succeeded": 1}``."""
        k8s.BatchV1Api(self.api_client()).patch_namespaced_job_status(name, namespace, {"status": status})


@pytest.fixture
def kube_api() -> Iterator[KubeApi]:
    api = KubeApi().start()
    try:
        yield api
    finally:
        api.stop()
