from integrations.slack.testing import slack  # noqa: F401 - fixtures
from runs.testing import job_runner  # noqa: F401 - fixtures
