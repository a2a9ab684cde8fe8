"""The security suite is collected and run by ``make test-security`` (a file here keeps pytest from exiting 5)."""

from pathlib import Path


def test_it_lives_beside_its_conftest() -> None:
    assert (Path(__file__).parent / "conftest.py").is_file()
