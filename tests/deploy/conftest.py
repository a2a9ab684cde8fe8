from tests.tooling.kube import kube_api  # noqa: F401 - fixtures
