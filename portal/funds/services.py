"""The rules of funds and their ledger. Every entry is written by `_post`, which takes the fund's row lock,
checks, writes the entry and moves the stored figures (the fund's, the allocation's, the month's) in the
same transaction. Nothing here updates or deletes an entry: a mistake is corrected by a new entry.

Amounts are integer fen; `parse_yuan` reads what a person typed ("12.34") exactly, through Decimal."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.orm import joinedload, selectinload

from portal.audit.services import record
from portal.auth import permissions
from portal.clock import local_today, utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.funds.models import (
    KINDS,
    MAX_FEN,
    PAYEE_KINDS,
    Fund,
    FundAllocation,
    FundMonth,
    LedgerEntry,
)

if TYPE_CHECKING:
    from portal.actions.models import Action
    from portal.auth.models import User
    from portal.committees.models import Decision, Organization
    from portal.places.models import Community, Estate, SubDistrict
    from portal.votes.models import Ballot

PAGE_SIZE = 50
STATEMENT_ROWS = 60  # a printed month lists at most this many entries (about two A4 sheets); the export has all
IDLE_DAYS = 90
MAINTENANCE_MATTER = 5  # Civil Code art. 278 (5): using the maintenance fund, > 1/2 of area and headcount
NAME_MAX, SOURCE_MAX, PAYEE_MAX, DESCRIPTION_MAX, TITLE_MAX = 120, 200, 120, 500, 200
_YUAN = re.compile(r"^\d+(\.\d+)?$")
_EFFECT_COLUMNS = {"income": "income_fen", "allocation": "allocated_fen", "spending": "spent_fen",
                   "refund": "refunded_fen"}
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# --- money -------------------------------------------------------------------------------------------------

def parse_yuan(text: str | None, field: str = "amount", *, allow_zero: bool = False) -> int:
    """"12.34" (yuan, as typed) → 1234 fen, exactly. Refuses more than two decimals, a sign, zero, and
    amounts beyond MAX_FEN, with a message for the form."""
    raw = (text or "").strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
    if not raw:
        raise DomainError(_l("Enter an amount in yuan, for example 1250.50."), field)
    if raw.startswith("-"):
        raise DomainError(_l("The amount cannot be negative."), field)
    if not _YUAN.match(raw):
        raise DomainError(_l("Enter an amount in yuan with digits only, for example 1250.50."), field)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise DomainError(_l("Enter an amount in yuan with digits only, for example 1250.50."), field) from None
    if value.as_tuple().exponent < -2:
        raise DomainError(_l("An amount has at most two decimals (fen)."), field)
    fen = int(value * 100)
    if fen <= 0 and not (allow_zero and fen == 0):
        raise DomainError(_l("The amount must be more than zero."), field)
    if fen > MAX_FEN:
        raise DomainError(_l("The amount is too large."), field)
    return fen


def parse_day(text: str | None, field: str = "occurred_on") -> date | None:
    """A date as the browser's date field sends it (YYYY-MM-DD); empty is None (today)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError(_l("Enter the date as year-month-day, for example 2026-12-06."), field) from None


def format_fen(fen: int | None) -> str:
    """1234567 → "12,345.67" (yuan); negative amounts keep their sign."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def valid_month(text: str | None) -> bool:
    return bool(text) and bool(_MONTH.match(text))


# --- funds -------------------------------------------------------------------------------------------------

def create_fund(user: User, *, kind: str, name: str, managing_org: Organization,
                community: Community | None = None, estate: Estate | None = None,
                sub_district: SubDistrict | None = None, description: str = "") -> Fund:
    """A fund of a community, of an estate (a maintenance fund always is) or of the sub-district."""
    if estate is not None:
        community = estate.community
    if community is not None:
        sub_district = community.sub_district
    if sub_district is None:
        raise DomainError(_l("Choose whose fund this is."), "community")
    if not permissions.can_create_fund(user, community, sub_district):
        raise NotAllowed(_l("You may not open a fund here."))
    if kind not in KINDS:
        raise DomainError(_l("Choose the kind of fund."), "kind")
    if kind == "maintenance" and estate is None:
        raise DomainError(_l("A maintenance fund account belongs to an estate: choose the estate."), "estate")
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("Give the fund a name."), "name")
    if len(name) > NAME_MAX:
        raise DomainError(_l("The name is too long (at most %(max)d characters).", max=NAME_MAX), "name")
    org_place_ok = (managing_org.community_id == community.id) if community is not None else \
        (managing_org.sub_district_id == sub_district.id)
    if not org_place_ok:
        raise DomainError(_l("The managing organization must belong to the fund's community."), "managing_org")
    fund = Fund(kind=kind, name=name, description=(description or "").strip()[:2000],
                sub_district_id=sub_district.id, community_id=community.id if community else None,
                estate_id=estate.id if estate else None, managing_org_id=managing_org.id,
                created_by_id=user.id)
    db.session.add(fund)
    db.session.flush()
    record(user, "fund.created", fund, kind=kind, name=name)
    return fund


def fund_or_none(fund_id: int) -> Fund | None:
    """The fund with its community and managing organization, which every fund page shows (one statement)."""
    if not (0 < fund_id <= 2**31 - 1):
        return None
    return db.session.get(Fund, fund_id, options=[joinedload(Fund.community), joinedload(Fund.managing_org)])


def community_funds(community: Community) -> list[Fund]:
    return db.session.scalars(db.select(Fund).where(Fund.community_id == community.id)
                              .order_by(Fund.id)).all()


def allocation_in(fund: Fund, allocation_id: int | None) -> FundAllocation | None:
    if allocation_id is None or not (0 < allocation_id <= 2**31 - 1):
        return None
    allocation = db.session.get(FundAllocation, allocation_id)
    return allocation if allocation is not None and allocation.fund_id == fund.id else None


def entry_in(fund: Fund, entry_id: int | None) -> LedgerEntry | None:
    if entry_id is None or not (0 < entry_id <= 2**31 - 1):
        return None
    entry = db.session.get(LedgerEntry, entry_id)
    return entry if entry is not None and entry.fund_id == fund.id else None


# --- recorded decisions --------------------------------------------------------------------------------------

def _in_fund_place(fund: Fund, community_id: int | None, sub_district_id: int | None = None) -> bool:
    if fund.community_id is not None:
        return community_id == fund.community_id
    from portal.places.models import Community
    if community_id is not None:
        community = db.session.get(Community, community_id)
        return community is not None and community.sub_district_id == fund.sub_district_id
    return sub_district_id == fund.sub_district_id


def decision_counts(fund: Fund, decision: Decision | None, ballot: Ballot | None) -> bool:
    """A meeting decision of an organization of the fund's place, or a passed ballot of its community."""
    if decision is not None:
        org = decision.meeting.organization
        return _in_fund_place(fund, org.community_id, org.sub_district_id)
    if ballot is not None:
        return ballot.status == "closed" and ballot.result == "passed" and \
            _in_fund_place(fund, ballot.community_id)
    return False


def owners_decision_counts(fund: Fund, ballot: Ballot | None) -> bool:
    """An owners' decision to use this estate's maintenance fund: art. 278 matter (5), passed (> 1/2 of the
    area and of the headcount, counted by the votes area), by the owners of this estate."""
    return ballot is not None and ballot.method == "owners" and ballot.matter == MAINTENANCE_MATTER \
        and ballot.status == "closed" and ballot.result == "passed" and ballot.estate_id == fund.estate_id \
        and ballot.estate_id is not None


def decisions_for(fund: Fund, limit: int = 50) -> list[Decision]:
    """The latest meeting decisions of the fund's place, for the form's choice."""
    from portal.committees.models import Decision, Meeting, Organization
    query = db.select(Decision).join(Meeting, Decision.meeting_id == Meeting.id) \
        .join(Organization, Meeting.organization_id == Organization.id)
    if fund.community_id is not None:
        query = query.where(Organization.community_id == fund.community_id)
    else:
        query = query.where(Organization.sub_district_id == fund.sub_district_id)
    return db.session.scalars(query.order_by(Decision.id.desc()).limit(limit)).all()


def ballots_for(fund: Fund, limit: int = 50) -> list[Ballot]:
    """The latest passed ballots of the fund's community (for a maintenance fund: also its owners' ones)."""
    from portal.votes.models import Ballot
    if fund.community_id is None:
        return []
    return db.session.scalars(db.select(Ballot).where(
        Ballot.community_id == fund.community_id, Ballot.status == "closed", Ballot.result == "passed")
        .order_by(Ballot.id.desc()).limit(limit)).all()


def owners_decisions_for(fund: Fund) -> list[Ballot]:
    from portal.votes.models import Ballot
    if fund.estate_id is None:
        return []
    return db.session.scalars(db.select(Ballot).where(
        Ballot.estate_id == fund.estate_id, Ballot.method == "owners", Ballot.matter == MAINTENANCE_MATTER,
        Ballot.status == "closed", Ballot.result == "passed").order_by(Ballot.id.desc()).limit(50)).all()


# --- posting an entry ----------------------------------------------------------------------------------------

def _lock(fund: Fund) -> None:
    """The fund's row lock (PostgreSQL; SQLite writes one at a time): two entries at once cannot both pass
    a check against the same figures. Only the fund's row: the fund pages load it with its community and
    organization (outer joins, which PostgreSQL does not lock)."""
    db.session.refresh(fund, with_for_update={"of": Fund})


def _check_day(fund: Fund, day: date | None) -> date:
    today = local_today(fund.time_zone)
    if day is None:
        return today
    if day > today:
        raise DomainError(_l("The date cannot be in the future."), "occurred_on")
    if day < date(2000, 1, 1):
        raise DomainError(_l("The date is too far in the past."), "occurred_on")
    return day


def _text(value: str | None, limit: int, field: str, required_message=None) -> str | None:
    value = (value or "").strip().replace("\x00", "")
    if not value:
        if required_message is not None:
            raise DomainError(required_message, field)
        return None
    if len(value) > limit:
        raise DomainError(_l("Too long: at most %(max)d characters.", max=limit), field)
    return value


def _month_row(fund: Fund, month: str) -> FundMonth:
    row = db.session.get(FundMonth, (fund.id, month))
    if row is None:
        row = FundMonth(fund_id=fund.id, month=month, income_fen=0, allocated_fen=0, spent_fen=0,
                        refunded_fen=0, entry_count=0)
        db.session.add(row)
    return row


def _apply(fund: Fund, allocation: FundAllocation | None, effect: str, delta: int, month: str,
           raised: bool = False) -> None:
    """Move the stored figures by one entry's effect."""
    column = _EFFECT_COLUMNS[effect]
    setattr(fund, column, getattr(fund, column) + delta)
    fund.entry_count += 1
    row = _month_row(fund, month)
    setattr(row, column, getattr(row, column) + delta)
    row.entry_count += 1
    if allocation is not None and effect != "income":
        setattr(allocation, column, getattr(allocation, column) + delta)
        if raised:
            allocation.raised_fen += delta


def _post(user: User, fund: Fund, kind: str, amount: int, day: date, *, effect: str | None = None,
          delta: int | None = None, allocation: FundAllocation | None = None, raised: bool = False,
          **columns) -> LedgerEntry:
    effect = effect or kind
    delta = amount if delta is None else delta
    month = month_of(day)
    entry = LedgerEntry(fund_id=fund.id, kind=kind, effect_kind=effect, amount_fen=amount, delta_fen=delta,
                        occurred_on=day, month=month, recorded_by_id=user.id,
                        allocation_id=allocation.id if allocation is not None else None, **columns)
    db.session.add(entry)
    _apply(fund, allocation, effect, delta, month, raised=raised)
    if allocation is not None and effect == "spending" and delta > 0:
        allocation.last_spent_at = utcnow()
    db.session.flush()
    record(user, f"fund.{kind}", entry, fund_id=fund.id, amount_fen=amount, kind=effect)
    return entry


def _allowed(user: User, fund: Fund) -> None:
    if not permissions.can_keep_fund_ledger(user, fund):
        raise NotAllowed(_l("You may not record entries in this fund's ledger."))


def _check_amount(amount: int, field: str = "amount") -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise DomainError(_l("The amount must be more than zero."), field)
    if amount > MAX_FEN:
        raise DomainError(_l("The amount is too large."), field)
    return amount


def record_income(user: User, fund: Fund, amount: int, *, source: str, occurred_on: date | None = None,
                  description: str = "") -> LedgerEntry:
    """Money coming in, with where it came from (a sub-district grant, a donation, interest)."""
    _allowed(user, fund)
    _check_amount(amount)
    source = _text(source, SOURCE_MAX, "source", _l("Say where the money came from."))
    day = _check_day(fund, occurred_on)
    _lock(fund)
    if fund.income_fen + amount > MAX_FEN * 1000:
        raise DomainError(_l("The amount is too large."), "amount")
    return _post(user, fund, "income", amount, day, source=source,
                 description=_text(description, DESCRIPTION_MAX, "description") or "")


def _decision_columns(fund: Fund, decision: Decision | None, ballot: Ballot | None) -> dict:
    if (decision is not None or ballot is not None) and not decision_counts(fund, decision, ballot):
        raise DomainError(_l("That decision is not a recorded decision of this fund's community."), "decision")
    return {"decision_id": decision.id if decision is not None else None,
            "ballot_id": ballot.id if ballot is not None else None}


def allocate(user: User, fund: Fund, amount: int, *, action: Action | None = None, title: str | None = None,
             allocation: FundAllocation | None = None, decision: Decision | None = None,
             ballot: Ballot | None = None, occurred_on: date | None = None,
             description: str = "") -> LedgerEntry:
    """Give money to an agreed action or a named project; or raise an existing allocation, which needs a
    recorded decision (a meeting's decision or a passed ballot) linked to the entry."""
    _allowed(user, fund)
    _check_amount(amount)
    day = _check_day(fund, occurred_on)
    links = _decision_columns(fund, decision, ballot)
    if allocation is None and action is not None:
        if fund.community_id is not None and action.community_id != fund.community_id:
            raise DomainError(_l("The action belongs to another community."), "action")
        allocation = db.session.scalar(db.select(FundAllocation).where(
            FundAllocation.fund_id == fund.id, FundAllocation.action_id == action.id))
    raising = allocation is not None
    if raising and allocation.fund_id != fund.id:
        raise DomainError(_l("That allocation is of another fund."), "allocation")
    if raising and not (links["decision_id"] or links["ballot_id"]):
        raise DomainError(_l("Raising an allocation needs a recorded decision: link the committee's decision "
                             "or the ballot that raised it."), "decision")
    _lock(fund)
    if amount > fund.available_fen:
        raise DomainError(_l("Only %(available)s yuan is free to allocate in this fund.",
                             available=format_fen(fund.available_fen)), "amount")
    if not raising:
        if action is not None:
            title = action.title
        title = _text(title, TITLE_MAX, "title", _l("Name the project, or choose an action."))
        allocation = FundAllocation(fund_id=fund.id, action_id=action.id if action is not None else None,
                                    title=title, allocated_fen=0, raised_fen=0, spent_fen=0, refunded_fen=0)
        db.session.add(allocation)
        db.session.flush()
    else:
        db.session.refresh(allocation)
    return _post(user, fund, "allocation", amount, day, allocation=allocation, raised=raising,
                 description=_text(description, DESCRIPTION_MAX, "description") or "", **links)


@dataclass(frozen=True)
class Receipt:
    """A receipt as uploaded: its bytes and the name given; checked by content before anything is written."""

    data: bytes
    filename: str


def receipts_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "funds"


def receipt_path(entry: LedgerEntry, size: int | None = None) -> Path:
    """UPLOAD_DIR/funds/<key>-<size>.jpg for a picture (1600 or 400), <key>.pdf for a PDF."""
    from portal.proposals.attachments import IMAGE_SIZES
    if entry.receipt_kind == "image":
        if size not in IMAGE_SIZES:
            raise ValueError(f"no image size {size}")
        return receipts_dir() / f"{entry.receipt_key}-{size}.jpg"
    if size is not None:
        raise ValueError("a PDF has no sizes")
    return receipts_dir() / f"{entry.receipt_key}.pdf"


def _prepare_receipt(receipt: Receipt | None):
    """The upload checked by content, as proposal attachments are: a picture re-encoded without metadata,
    a PDF opened in a sandboxed process and rewritten; anything else refused."""
    from portal.proposals import attachments
    if receipt is None or not receipt.data:
        raise DomainError(_l("Attach the receipt: a photo or a PDF."), "receipt")
    try:
        return attachments.prepare(receipt.data, receipt.filename or "receipt")
    except DomainError as error:
        error.field = "receipt"
        raise


def _store_receipt(prepared) -> dict:
    from portal.issues.photos import _write_atomically
    from portal.proposals.attachments import IMAGE_SIZES
    key = secrets.token_urlsafe(24)
    receipts_dir().mkdir(parents=True, exist_ok=True)
    if prepared.kind == "image":
        for size, data in ((IMAGE_SIZES[0], prepared.photo.large), (IMAGE_SIZES[1], prepared.photo.small)):
            _write_atomically(receipts_dir() / f"{key}-{size}.jpg", data)
    else:
        _write_atomically(receipts_dir() / f"{key}.pdf", prepared.data)
    return {"receipt_key": key, "receipt_kind": prepared.kind, "receipt_filename": prepared.filename[:120],
            "receipt_size": prepared.size}


def record_spending(user: User, fund: Fund, allocation: FundAllocation, amount: int, *, payee: str,
                    payee_kind: str, receipt: Receipt | None, occurred_on: date | None = None,
                    description: str = "", decision: Decision | None = None, ballot: Ballot | None = None,
                    owners_decision: Ballot | None = None) -> LedgerEntry:
    """Money paid out of an allocation, with its receipt. More than the allocation has left needs a recorded
    decision raising it (decision or ballot: the difference is allocated first, linked to it). A maintenance
    fund pays out only on a passed owners' decision to use it (art. 278 (5)), linked to the entry."""
    _allowed(user, fund)
    _check_amount(amount)
    if allocation is None or allocation.fund_id != fund.id:
        raise DomainError(_l("Choose the allocation the money is spent from."), "allocation")
    payee = _text(payee, PAYEE_MAX, "payee", _l("Say who was paid."))
    if payee_kind not in PAYEE_KINDS:
        raise DomainError(_l("Say whether the payee is an organization or a person."), "payee_kind")
    day = _check_day(fund, occurred_on)
    if fund.kind == "maintenance" and not owners_decision_counts(fund, owners_decision):
        raise DomainError(_l("Spending from a maintenance fund needs a passed owners' decision of this estate "
                             "on using it (Civil Code art. 278, matter 5): link it."), "owners_decision")
    links = _decision_columns(fund, decision, ballot)
    prepared = _prepare_receipt(receipt)
    _lock(fund)
    db.session.refresh(allocation)
    over = amount - allocation.remaining_fen
    if over > 0:
        if not (links["decision_id"] or links["ballot_id"]):
            raise DomainError(_l("This is %(over)s yuan more than the allocation has left (%(left)s yuan). "
                                 "Spending more needs a recorded decision raising the allocation: link it.",
                                 over=format_fen(over), left=format_fen(allocation.remaining_fen)), "amount")
        if over > fund.available_fen:
            raise DomainError(_l("Only %(available)s yuan is free to allocate in this fund.",
                                 available=format_fen(fund.available_fen)), "amount")
        _post(user, fund, "allocation", over, day, allocation=allocation, raised=True,
              description=_text(description, DESCRIPTION_MAX, "description") or "", **links)
    stored = _store_receipt(prepared)
    return _post(user, fund, "spending", amount, day, allocation=allocation, payee=payee, payee_kind=payee_kind,
                 description=_text(description, DESCRIPTION_MAX, "description") or "",
                 ballot_id=owners_decision.id if owners_decision is not None else None, **stored)


def current_amount(entry: LedgerEntry) -> int:
    """An entry's amount after its corrections (the latest correction's)."""
    latest = db.session.scalar(db.select(LedgerEntry.amount_fen).where(LedgerEntry.corrects_id == entry.id)
                               .order_by(LedgerEntry.id.desc()).limit(1))
    return entry.amount_fen if latest is None else latest


def _refunded_against(spending: LedgerEntry, leaving_out: int | None = None) -> int:
    refunds = db.session.scalars(db.select(LedgerEntry).where(
        LedgerEntry.refund_of_id == spending.id, LedgerEntry.kind == "refund")).all()
    return sum(current_amount(r) for r in refunds if r.id != leaving_out)


def record_refund(user: User, fund: Fund, spending: LedgerEntry, amount: int, *,
                  occurred_on: date | None = None, description: str = "") -> LedgerEntry:
    """Money a payee gave back, against the spending it came from; the allocation may spend it again."""
    _allowed(user, fund)
    _check_amount(amount)
    if spending is None or spending.fund_id != fund.id or spending.kind != "spending":
        raise DomainError(_l("Choose the spending the money is refunded from."), "refund_of")
    day = _check_day(fund, occurred_on)
    _lock(fund)
    if amount > current_amount(spending) - _refunded_against(spending):
        raise DomainError(_l("A refund cannot be more than was paid and not yet refunded."), "amount")
    allocation = db.session.get(FundAllocation, spending.allocation_id)
    db.session.refresh(allocation)
    return _post(user, fund, "refund", amount, day, allocation=allocation, refund_of_id=spending.id,
                 description=_text(description, DESCRIPTION_MAX, "description") or "")


def correct_entry(user: User, entry: LedgerEntry, new_amount: int, *, reason: str,
                  occurred_on: date | None = None) -> LedgerEntry:
    """A new entry that sets `entry`'s amount to `new_amount` (0 voids it) with a reason; the entry itself
    stays as it was. The figures move by the difference, in the correction's month."""
    fund = entry.fund
    _allowed(user, fund)
    if entry.kind == "correction":
        raise DomainError(_l("Correct the original entry, not a correction."), "entry")
    if not isinstance(new_amount, int) or isinstance(new_amount, bool) or new_amount < 0:
        raise DomainError(_l("The amount cannot be negative."), "amount")
    if new_amount > MAX_FEN:
        raise DomainError(_l("The amount is too large."), "amount")
    reason = _text(reason, DESCRIPTION_MAX, "reason", _l("Say why the entry is corrected."))
    day = _check_day(fund, occurred_on)
    _lock(fund)
    delta = new_amount - current_amount(entry)
    if delta == 0:
        raise DomainError(_l("The new amount is the same as the entry's."), "amount")
    allocation = db.session.get(FundAllocation, entry.allocation_id) if entry.allocation_id else None
    if allocation is not None:
        db.session.refresh(allocation)
    _check_correction(fund, allocation, entry, new_amount, delta)
    return _post(user, fund, "correction", new_amount, day, effect=entry.kind, delta=delta, allocation=allocation,
                 corrects_id=entry.id, description=reason)


def _check_correction(fund: Fund, allocation: FundAllocation | None, entry: LedgerEntry, new_amount: int,
                      delta: int) -> None:
    if entry.kind == "income" and fund.available_fen + delta < 0:
        raise DomainError(_l("After this correction the fund would have allocated more than its income."),
                          "amount")
    if entry.kind == "allocation":
        if delta > fund.available_fen:
            raise DomainError(_l("Only %(available)s yuan is free to allocate in this fund.",
                                 available=format_fen(fund.available_fen)), "amount")
        if allocation.remaining_fen + delta < 0:
            raise DomainError(_l("The allocation would be less than what has been spent from it."), "amount")
    if entry.kind == "spending":
        if delta > allocation.remaining_fen:
            raise DomainError(_l("This is more than the allocation has left. Spending more needs a recorded "
                                 "decision raising the allocation first."), "amount")
        if new_amount < _refunded_against(entry):
            raise DomainError(_l("More has been refunded from this spending than the new amount."), "amount")
    if entry.kind == "refund":
        spending = db.session.get(LedgerEntry, entry.refund_of_id)
        if new_amount > current_amount(spending) - _refunded_against(spending, leaving_out=entry.id):
            raise DomainError(_l("A refund cannot be more than was paid and not yet refunded."), "amount")
        if delta < 0 and allocation.remaining_fen + delta < 0:
            raise DomainError(_l("The allocation has already spent the refunded money again."), "amount")


# --- derived figures ----------------------------------------------------------------------------------------

def full_figures(fund: Fund) -> dict:
    """The figures summed from every entry: what the stored ones must equal."""
    sums = dict.fromkeys(_EFFECT_COLUMNS.values(), 0)
    rows = db.session.execute(db.select(LedgerEntry.effect_kind, func.sum(LedgerEntry.delta_fen),
                                        func.count(LedgerEntry.id))
                              .where(LedgerEntry.fund_id == fund.id).group_by(LedgerEntry.effect_kind)).all()
    count = 0
    for effect, total, n in rows:
        sums[_EFFECT_COLUMNS[effect]] = int(total or 0)
        count += n
    return {**sums, "entry_count": count}


def stored_figures(fund: Fund) -> dict:
    return {**{c: getattr(fund, c) for c in _EFFECT_COLUMNS.values()}, "entry_count": fund.entry_count}


def rebuild_figures(fund: Fund) -> None:
    """Recompute the fund's, its allocations' and its months' stored figures from the entries (after a bulk
    load or a restore)."""
    for column, value in full_figures(fund).items():
        setattr(fund, column, value)
    allocations = {a.id: a for a in db.session.scalars(
        db.select(FundAllocation).where(FundAllocation.fund_id == fund.id))}
    for allocation in allocations.values():
        allocation.allocated_fen = allocation.raised_fen = allocation.spent_fen = allocation.refunded_fen = 0
    rows = db.session.execute(db.select(LedgerEntry.allocation_id, LedgerEntry.effect_kind,
                                        func.sum(LedgerEntry.delta_fen), func.max(LedgerEntry.recorded_at))
                              .where(LedgerEntry.fund_id == fund.id, LedgerEntry.allocation_id.is_not(None))
                              .group_by(LedgerEntry.allocation_id, LedgerEntry.effect_kind)).all()
    for allocation_id, effect, total, last in rows:
        allocation = allocations[allocation_id]
        setattr(allocation, _EFFECT_COLUMNS[effect], int(total or 0))
        if effect == "spending":
            allocation.last_spent_at = last
    for allocation_id, raised in _raised_by_allocation(fund).items():
        allocations[allocation_id].raised_fen = raised
    months = {row.month: row for row in db.session.scalars(db.select(FundMonth).where(FundMonth.fund_id == fund.id))}
    for row in months.values():
        row.income_fen = row.allocated_fen = row.spent_fen = row.refunded_fen = row.entry_count = 0
    for month, effect, total, n in db.session.execute(
            db.select(LedgerEntry.month, LedgerEntry.effect_kind, func.sum(LedgerEntry.delta_fen),
                      func.count(LedgerEntry.id)).where(LedgerEntry.fund_id == fund.id)
            .group_by(LedgerEntry.month, LedgerEntry.effect_kind)).all():
        row = months.get(month)
        if row is None:
            row = months[month] = FundMonth(fund_id=fund.id, month=month, income_fen=0, allocated_fen=0,
                                            spent_fen=0, refunded_fen=0, entry_count=0)
            db.session.add(row)
        setattr(row, _EFFECT_COLUMNS[effect], int(total or 0))
        row.entry_count += n
    db.session.flush()


def _raised_by_allocation(fund: Fund) -> dict[int, int]:
    """Per allocation, the allocation entries after its first (raises) and corrections of those."""
    first = dict(db.session.execute(
        db.select(LedgerEntry.allocation_id, func.min(LedgerEntry.id))
        .where(LedgerEntry.fund_id == fund.id, LedgerEntry.kind == "allocation")
        .group_by(LedgerEntry.allocation_id)).all())
    raised: dict[int, int] = {}
    rows = db.session.execute(db.select(LedgerEntry.allocation_id, LedgerEntry.id, LedgerEntry.corrects_id,
                                        LedgerEntry.delta_fen)
                              .where(LedgerEntry.fund_id == fund.id, LedgerEntry.effect_kind == "allocation")).all()
    for allocation_id, entry_id, corrects_id, delta in rows:
        if (corrects_id or entry_id) != first.get(allocation_id):
            raised[allocation_id] = raised.get(allocation_id, 0) + int(delta)
    return raised


# --- what the pages read ----------------------------------------------------------------------------------

@dataclass
class EntryPage:
    entries: list
    corrected: dict  # entry id → (latest amount, id of the latest correction)
    next_before: int | None


def entries_page(fund: Fund, before: int | None = None, limit: int = PAGE_SIZE) -> EntryPage:
    """Newest first, one keyset page; with, for the entries shown, their latest corrections."""
    query = db.select(LedgerEntry).where(LedgerEntry.fund_id == fund.id).options(*_entry_loads())
    if before is not None:
        query = query.where(LedgerEntry.id < before)
    rows = db.session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return EntryPage(rows, corrections_of([r.id for r in rows]), rows[-1].id if more and rows else None)


def _entry_loads() -> list:
    """What a listed entry shows beside itself: its allocation, and the decision or ballot it links (each one
    query for the whole page, not one per row)."""
    from portal.committees.models import Decision
    from portal.votes.models import Ballot
    return [joinedload(LedgerEntry.allocation), selectinload(LedgerEntry.decision).selectinload(Decision.meeting),
            selectinload(LedgerEntry.ballot).selectinload(Ballot.community)]


def corrections_of(entry_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not entry_ids:
        return {}
    found = {}
    for corrects_id, amount, cid in db.session.execute(
            db.select(LedgerEntry.corrects_id, LedgerEntry.amount_fen, LedgerEntry.id)
            .where(LedgerEntry.corrects_id.in_(entry_ids)).order_by(LedgerEntry.id)).all():
        found[corrects_id] = (amount, cid)
    return found


def allocations_page(fund: Fund, before: int | None = None, limit: int = PAGE_SIZE) -> tuple[list, int | None]:
    from portal.actions.models import Action
    query = db.select(FundAllocation).where(FundAllocation.fund_id == fund.id).options(
        selectinload(FundAllocation.action).selectinload(Action.community))
    if before is not None:
        query = query.where(FundAllocation.id < before)
    rows = db.session.scalars(query.order_by(FundAllocation.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    return rows[:limit], (rows[limit - 1].id if more else None)


def months_of(fund: Fund, limit: int = 24) -> list[FundMonth]:
    return db.session.scalars(db.select(FundMonth).where(FundMonth.fund_id == fund.id)
                              .order_by(FundMonth.month.desc()).limit(limit)).all()


@dataclass
class Statement:
    fund: Fund
    month: str
    opening_fen: int
    figures: FundMonth
    closing_fen: int
    by_allocation: list  # (title, allocated, spent, refunded) of the month, per allocation
    entries: list
    more: int  # entries of the month not listed
    corrected: dict


def statement(fund: Fund, month: str, limit: int = STATEMENT_ROWS) -> Statement:
    """One month: opening balance (the months before, from their stored rows), the month's figures, what
    each allocation got and spent, and its entries (at most `limit`)."""
    before = db.session.execute(db.select(
        func.coalesce(func.sum(FundMonth.income_fen - FundMonth.spent_fen + FundMonth.refunded_fen), 0))
        .where(FundMonth.fund_id == fund.id, FundMonth.month < month)).scalar_one()
    figures = db.session.get(FundMonth, (fund.id, month)) or FundMonth(
        fund_id=fund.id, month=month, income_fen=0, allocated_fen=0, spent_fen=0, refunded_fen=0, entry_count=0)
    opening = int(before)
    per = {}
    for allocation_id, title, effect, total in db.session.execute(
            db.select(LedgerEntry.allocation_id, FundAllocation.title, LedgerEntry.effect_kind,
                      func.sum(LedgerEntry.delta_fen))
            .join(FundAllocation, LedgerEntry.allocation_id == FundAllocation.id)
            .where(LedgerEntry.fund_id == fund.id, LedgerEntry.month == month)
            .group_by(LedgerEntry.allocation_id, FundAllocation.title, LedgerEntry.effect_kind)).all():
        row = per.setdefault(allocation_id, {"title": title, "allocation": 0, "spending": 0, "refund": 0})
        row[effect] = int(total or 0)
    entries = db.session.scalars(db.select(LedgerEntry).where(LedgerEntry.fund_id == fund.id,
                                                              LedgerEntry.month == month)
                                 .options(joinedload(LedgerEntry.allocation))
                                 .order_by(LedgerEntry.id).limit(limit)).all() if limit else []
    return Statement(fund, month, opening, figures, opening + figures.net_fen,
                     [per[k] for k in sorted(per)], entries, max(0, figures.entry_count - len(entries)),
                     corrections_of([e.id for e in entries]))


def month_entries(fund: Fund, month: str) -> list[LedgerEntry]:
    """Every entry of a month, for the export (bounded by the month)."""
    return db.session.scalars(db.select(LedgerEntry).where(LedgerEntry.fund_id == fund.id,
                                                           LedgerEntry.month == month)
                              .options(selectinload(LedgerEntry.allocation)).order_by(LedgerEntry.id)).all()


def mask_person(name: str) -> str:
    """A person's name on a public page: the first character and a star for each other (张** ; "J***")."""
    name = (name or "").strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def payee_shown(viewer: User | None, entry: LedgerEntry) -> str | None:
    """Organizations paid with public money are named in full; a person's name is masked for everyone but
    those who keep the ledger (and admins)."""
    if entry.payee is None:
        return None
    return payee_text(entry, entry.payee_kind == "organization" or permissions.can_keep_fund_ledger(viewer, entry.fund))


def payee_text(entry: LedgerEntry, keeps: bool) -> str | None:
    """payee_shown() for a viewer who keeps (`keeps`) the entry's fund's ledger or not: a page of one fund's
    entries asks the rule once, not once per row."""
    if entry.payee is None:
        return None
    if keeps or entry.payee_kind == "organization":
        return entry.payee
    return mask_person(entry.payee)


def idle_since(now_day: date) -> date:
    return now_day - timedelta(days=IDLE_DAYS)
