"""The security suite: each attack a hostile build or webhook body was seen to try, kept as a test.

Tests here run against real components (bubblewrap, git, nats-server, the Procfile's processes over HTTP) and assert
what must not happen: no marker file appears outside the build's sandbox, no secret is read, the system still serves.
"""

from tests.harness.system import system  # noqa: F401 - fixture
from tests.tooling.nats import nats_server, queue_settings  # noqa: F401 - fixtures
