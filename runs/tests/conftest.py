from runs.testing import job_runner  # noqa: F401 - fixtures
from tests.tooling.nats import nats_server, queue_settings  # noqa: F401 - fixtures
