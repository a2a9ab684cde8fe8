from integrations.cloudsource.testing import google  # noqa: F401 - fixtures
from runs.testing import job_runner  # noqa: F401 - fixtures
