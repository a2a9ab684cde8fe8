import time

import pytest

from estafette.lib.jobtokens import InvalidJobToken, check_job_token, issue_job_token


def test_it_accepts_a_token_for_its_own_run() -> None:
    token = issue_job_token(kind="build", run_id=42)
    check_job_token(token, kind="build", run_id=42)


@pytest.mark.parametrize(("kind", "run_id"), [("build", 43), ("release", 42), ("bot", 42)])
def test_it_refuses_a_token_for_another_run(kind: str, run_id: int) -> None:
    token = issue_job_token(kind="build", run_id=42)
    with pytest.raises(InvalidJobToken, match="another run"):
        check_job_token(token, kind=kind, run_id=run_id)


def test_it_refuses_forged_and_expired_tokens() -> None:
    token = issue_job_token(kind="build", run_id=42)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidJobToken, match="not valid"):
        check_job_token(forged, kind="build", run_id=42)
    time.sleep(1.1)
    with pytest.raises(InvalidJobToken, match="expired") as error:
        check_job_token(token, kind="build", run_id=42, max_age=1)
    assert token not in str(error.value)
