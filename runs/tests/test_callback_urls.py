import pytest

from runs.callbacks import callback_urls


def test_it_gives_the_versioned_status_and_logs_urls_of_a_run() -> None:
    assert callback_urls(kind="release", run_id=42, base_url="http://api.example:8000/") == (
        "http://api.example:8000/api/builder/v1/release/42/status",
        "http://api.example:8000/api/builder/v1/release/42/logs",
    )


@pytest.mark.parametrize(("kind", "run_id"), [("job", 1), ("build", 0), ("build", "7"), ("bot", True)])
def test_it_refuses_an_unknown_kind_or_a_bad_run_id(kind: str, run_id: object) -> None:
    with pytest.raises(ValueError, match="run"):
        callback_urls(kind=kind, run_id=run_id, base_url="http://api")  # type: ignore[arg-type]
