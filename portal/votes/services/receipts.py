"""The ballot log and receipts: pages of the published log (a secret ballot's without names),
verifying the hash chain and the totals against a recount, checking a receipt, and the `flask
verify-ballot` command."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import click
from sqlalchemy import select

from portal.auth import permissions
from portal.auth.models import User
from portal.extensions import db
from portal.votes import log as ballot_log
from portal.votes.models import Ballot, BallotLogEntry, BallotOption, BallotVoter
from portal.votes.services._common import LOG_PAGE_SIZE, RECEIPT_MAX, option_label

if TYPE_CHECKING:
    from flask_login import AnonymousUserMixin

    from portal.votes.log import VerifyReport


@dataclass(frozen=True)
class LogRow:
    """One published log entry. voter, cast_by, at and the hashes are None on a secret ballot."""

    seq: int
    receipt: str
    option_label: str
    headcount: int
    area_cm: int
    is_paper: bool
    voter: str | None
    cast_by: str | None
    at: datetime | None
    prev_hash: str | None
    hash: str | None
    by_proxy: bool = False  # cast by the voter's proxy (书面委托)


@dataclass(frozen=True)
class LogPage:
    rows: list
    page: int
    pages: int
    total: int
    names: bool  # whether the rows carry names (public ballots, for those allowed to inspect them)


def log_entries(viewer: User | AnonymousUserMixin, ballot: Ballot, page: int = 1,
                per_page: int = LOG_PAGE_SIZE) -> LogPage | None:
    """A page of the published log (after close only; None before, or for someone who may not see the
    ballot). Receipts, choices and weights for everyone who may see it; names, times and hashes too on
    public ballots, for those allowed to inspect them."""
    if ballot.status != "closed" or not permissions.can_view_ballot(viewer, ballot):
        return None
    names = permissions.can_inspect_ballots(viewer, ballot)
    per_page = max(1, min(int(per_page), 500))
    total = ballot.log_length
    pages = max(1, -(-total // per_page))
    try:
        page = min(max(1, int(page)), pages)
    except (TypeError, ValueError):
        page = 1
    first = (page - 1) * per_page + 1
    query = (select(BallotLogEntry, BallotOption, BallotVoter.label, User.display_name)
             .join(BallotOption, BallotOption.id == BallotLogEntry.option_id)
             .join(BallotVoter, BallotVoter.id == BallotLogEntry.voter_id)
             .join(User, User.id == BallotLogEntry.cast_by_id)
             .where(BallotLogEntry.ballot_id == ballot.id, BallotLogEntry.seq >= first,
                    BallotLogEntry.seq < first + per_page)
             .order_by(BallotLogEntry.seq))
    rows = []
    for entry, option, voter_label, cast_by in db.session.execute(query):
        rows.append(LogRow(seq=entry.seq, receipt=entry.receipt, option_label=option_label(option),
                           headcount=entry.headcount, area_cm=entry.area_cm, is_paper=entry.is_paper,
                           voter=voter_label if names else None, cast_by=cast_by if names else None,
                           at=entry.at if names else None, prev_hash=entry.prev_hash if names else None,
                           hash=entry.hash if names else None, by_proxy=entry.proxy_id is not None))
    return LogPage(rows=rows, page=page, pages=pages, total=total, names=names)


def verify(ballot: Ballot) -> VerifyReport:
    """Walk the log: the chain, the head, the live votes and the stored result (votes.log.verify)."""
    return ballot_log.verify(ballot)


def check_receipt(ballot: Ballot, receipt: str | None) -> tuple:
    """("counted", entry) | ("replaced", entry, replaced_at) | ("unknown", None) (votes.log.receipt_status;
    spaces, dashes and case do not matter). Pages show the status and the times only, never the entry's
    choice: the results may be hidden, and a receipt may not be the viewer's own."""
    return ballot_log.receipt_status(ballot, str(receipt or "")[:RECEIPT_MAX])


# --- the command ---------------------------------------------------------------------------------------

@click.command("verify-ballot")
@click.argument("ballot_id", type=int)
def verify_ballot_command(ballot_id: int) -> None:
    """Recompute a ballot's tally from its log and compare it with the stored votes and result; exits 1
    naming the first broken entry when anything differs."""
    ballot = db.session.get(Ballot, ballot_id)
    if ballot is None:
        raise click.ClickException(f"No ballot {ballot_id}.")
    report = verify(ballot)
    if not report.ok:
        where = f" (entry {report.broken_seq})" if report.broken_seq is not None else ""
        click.echo(f"Ballot {ballot.id}: verification FAILED{where}: {report.message}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"Ballot {ballot.id}: {report.message}")
    if ballot.status == "closed":
        click.echo("The recount from the log equals the stored result.")
