from tests.tooling.nats import nats_server, queue_settings  # noqa: F401 - fixtures
