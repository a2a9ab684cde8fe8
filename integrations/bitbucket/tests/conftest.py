from integrations.bitbucket.testing import bitbucket  # noqa: F401 - fixtures
from runs.testing import job_runner  # noqa: F401 - fixtures
