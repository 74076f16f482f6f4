"""Paper ballots (纸质表决票): the token on each printed form's QR code.

A named paper ballot form carries a QR code with the address of the committee's entering page for its voter:
`…/ballots/<ballot>/paper/<voter>/<token>`. The token is an HMAC (SHA-256, keyed with the portal's
SECRET_KEY) of the ballot and the voter, so a scanned code cannot be edited into another voter's (the
entering page refuses a token that does not match) and nothing needs storing. The address is no secret that
grants anything: the page asks for sign-in as a member of the opening committee (others are sent to their
own vote or the receipt check)."""
from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from portal.votes.models import Ballot

TOKEN_LENGTH = 24  # hex characters: 96 bits


def form_token(ballot: Ballot, voter_id: int) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    message = f"yishi.paper-ballot:{ballot.id}:{int(voter_id)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:TOKEN_LENGTH]


def form_token_ok(ballot: Ballot, voter_id: int, token: str) -> bool:
    return hmac.compare_digest(form_token(ballot, voter_id), str(token or "")[:TOKEN_LENGTH * 2])
