from integrations.git.testing import intake  # noqa: F401 - fixtures
from runs.testing import job_runner  # noqa: F401 - fixtures
from tests.tooling.kube import kube_api  # noqa: F401 - fixtures
