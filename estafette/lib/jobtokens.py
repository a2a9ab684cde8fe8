"""Job tokens: what a builder presents to call back about exactly one run.

A token names the run kind (a name the run engine's registry knows: build, release, bot…) and id and expires; it is
signed with the server's secret key (HMAC via ``django.core.signing``), so the API needs no table to check it. A
token for build A is refused for build B, for a release with the same id, and after it expires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core import signing

SALT = "estafette.jobtoken.v1"
DEFAULT_TTL_SECONDS = 6 * 60 * 60  # Estafette's job JWTs live 6 hours, the longest a job may run.
# The kinds are the run engine's (``runs.registry``), above this layer: a token carries any kind name, and the
# builder endpoints accept it only for the run of that registered kind named in their URL.
_KIND = re.compile(r"^[a-z][a-z0-9]{0,7}$")


class InvalidJobToken(Exception):
    """The token is malformed, forged, expired or for another run. Never carries the token itself."""


@dataclass(frozen=True)
class JobClaim:
    kind: str
    run_id: int


def issue_job_token(*, kind: str, run_id: int) -> str:
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(f"a run kind is a lowercase word, got {kind!r}")
    return signing.dumps({"k": kind, "r": int(run_id)}, salt=SALT, compress=False)


def read_job_token(token: str, *, max_age: int = DEFAULT_TTL_SECONDS) -> JobClaim:
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise InvalidJobToken("the job token has expired") from None
    except signing.BadSignature:
        raise InvalidJobToken("the job token is not valid") from None
    if not isinstance(payload, dict) or not _KIND.match(str(payload.get("k"))) or not isinstance(payload.get("r"), int):
        raise InvalidJobToken("the job token is not valid")
    return JobClaim(kind=payload["k"], run_id=payload["r"])


def check_job_token(token: str, *, kind: str, run_id: int, max_age: int = DEFAULT_TTL_SECONDS) -> None:
    """Raise ``InvalidJobToken`` unless ``token`` was issued for exactly this run."""
    claim = read_job_token(token, max_age=max_age)
    if claim.kind != kind or claim.run_id != run_id:
        raise InvalidJobToken(f"the job token is for another run, not {kind} {run_id}")
