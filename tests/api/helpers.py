"""Bearer tokens for API tests, issued through the real login service.

from tests.api.helpers import token_for, bearer

def test_scores(client):
    candidate = CandidateFactory()
    response = client.get("/api/me/scores", headers=bearer(token_for(candidate)))
"""

from __future__ import annotations

from tests.portal.helpers import TEST_IP, TEST_PASSWORD, set_password
from zikao.accounts.rules import first_password
from zikao.accounts.services import candidate_login
from zikao.candidates.models import Candidate
from zikao.core.audit import Actor


def token_for(candidate: Candidate, *, password: str = TEST_PASSWORD, change_password: bool = True) -> str:
    """A live bearer token for `candidate` (password changed first, so every endpoint is open).

    With `change_password=False` the token belongs to a candidate who must still change the
    first password (only POST /api/me/password accepts it).
    """
    if change_password:
        set_password(candidate, password)
        secret = password
    else:
        secret = first_password(candidate.birth_date)
    result = candidate_login(
        actor=Actor.public(ip=TEST_IP), identifier=candidate.candidate_no, password=secret, channel="api"
    )
    assert result.token is not None
    return result.token


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
