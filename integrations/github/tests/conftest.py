from integrations.github.testing import github  # noqa: F401 - fixtures
from runs.testing import job_runner  # noqa: F401 - fixtures
