from integrations.git.testing import intake  # noqa: F401 - fixtures
from runs.testing import job_runner  # noqa: F401 - fixtures
from tests.harness.system import system, workers  # noqa: F401 - fixtures
from tests.tooling.nats import nats_server, queue_settings  # noqa: F401 - fixtures
