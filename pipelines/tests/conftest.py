from pipelines.testing import intake, job_runner  # noqa: F401 - fixtures
