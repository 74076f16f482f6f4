"""Funds (社区公益金, 微实事 / 民生实事 budgets, an estate's 专项维修资金 account) and their append-only ledger.

Money is integer fen (BigInteger), never a float. A ledger entry is never edited or deleted: a mistake is
put right by a correction, a new entry that points at the entry it corrects and carries that entry's new
amount (`amount_fen`) and the change it makes (`delta_fen`). The database refuses an UPDATE of an entry
(a trigger on both SQLite and PostgreSQL, `LEDGER_TRIGGERS`), and the ORM refuses to delete one.

Money given to a purpose is an allocation (`FundAllocation`): to an agreed action, or to a named project
(a budget round's winning project will point here too). Spending always draws on an allocation; a refund
gives money back to the allocation it was spent from.

The figures a page shows are stored, never summed on view, and kept in the same transaction as the entry
(services.post_entry, under the fund's row lock): the fund's totals, each allocation's totals, and one
`FundMonth` row per fund and month for the monthly statement. `services.rebuild_figures` recomputes all of
them from the entries, and a test checks the two agree.

    balance     = income − spent + refunded
    committed   = allocated − (spent − refunded)     (given to a purpose, not yet paid out)
    available   = income − allocated                 (free to allocate)"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import DDL, CheckConstraint, Index, event
from sqlalchemy.orm import Session

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

KINDS = ("public_welfare", "livelihood", "maintenance", "other")
KIND_LABELS = {
    "public_welfare": _l("Community public-welfare fund"),
    "livelihood": _l("Livelihood projects budget"),
    "maintenance": _l("Maintenance fund account of an estate"),
    "other": _l("Other fund"),
}
ENTRY_KINDS = ("income", "allocation", "spending", "refund", "correction")
ENTRY_LABELS = {
    "income": _l("Income"),
    "allocation": _l("Allocation"),
    "spending": _l("Spending"),
    "refund": _l("Refund"),
    "correction": _l("Correction"),
}
PAYEE_KINDS = ("organization", "person")
RECEIPT_KINDS = ("image", "pdf")
MAX_FEN = 10**14  # one entry: at most a trillion yuan; sums of many stay far inside BigInteger


def _money():
    return db.Column(db.BigInteger, nullable=False, default=0, server_default="0")


class Fund(db.Model):
    __tablename__ = "fund"
    __table_args__ = (
        CheckConstraint("kind IN ('public_welfare', 'livelihood', 'maintenance', 'other')", name="kind"),
        CheckConstraint("estate_id IS NULL OR community_id IS NOT NULL", name="estate_in_community"),
        CheckConstraint("kind != 'maintenance' OR estate_id IS NOT NULL", name="maintenance_of_estate"),
        CheckConstraint("income_fen >= 0 AND allocated_fen >= 0 AND spent_fen >= 0 AND refunded_fen >= 0",
                        name="figures"),
    )

    id = db.Column(db.Integer, primary_key=True)
    # Whose fund: the sub-district always; a community's (community_id) or an estate's (estate_id too).
    sub_district_id = db.Column(db.Integer, db.ForeignKey("sub_district.id"), nullable=False, index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), index=True)
    estate_id = db.Column(db.Integer, db.ForeignKey("estate.id"), index=True)
    kind = db.Column(db.String(16), nullable=False)
    name = db.Column(db.String(120), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    managing_org_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    # Stored figures (see the module's docstring), in fen.
    income_fen = _money()
    allocated_fen = _money()
    spent_fen = _money()
    refunded_fen = _money()
    entry_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")

    sub_district = db.relationship("SubDistrict")
    community = db.relationship("Community")
    estate = db.relationship("Estate")
    managing_org = db.relationship("Organization")

    @property
    def kind_label(self):
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def balance_fen(self) -> int:
        return self.income_fen - self.spent_fen + self.refunded_fen

    @property
    def committed_fen(self) -> int:
        return self.allocated_fen - (self.spent_fen - self.refunded_fen)

    @property
    def available_fen(self) -> int:
        return self.income_fen - self.allocated_fen

    @property
    def time_zone(self) -> str:
        return self.community.time_zone if self.community is not None else "Asia/Shanghai"


class FundAllocation(db.Model):
    """Money given to one purpose: an agreed action, or a named project. Its figures are kept with the
    entries; spent − refunded never exceeds allocated (spending more needs a decision raising it)."""

    __tablename__ = "fund_allocation"
    __table_args__ = (
        CheckConstraint("allocated_fen >= 0 AND spent_fen >= 0 AND refunded_fen >= 0", name="figures"),
        CheckConstraint("spent_fen - refunded_fen <= allocated_fen", name="within_allocation"),
        Index("ix_fund_allocation_fund_id", "fund_id", "id"),
        # One allocation per action and fund: more money for it raises that allocation.
        Index("uq_fund_allocation_action", "fund_id", "action_id", unique=True,
              sqlite_where=db.text("action_id IS NOT NULL"), postgresql_where=db.text("action_id IS NOT NULL")),
    )

    id = db.Column(db.Integer, primary_key=True)
    fund_id = db.Column(db.Integer, db.ForeignKey("fund.id"), nullable=False)
    action_id = db.Column(db.Integer, db.ForeignKey("action.id"), index=True)
    title = db.Column(db.String(200), nullable=False)  # the project, or the action's title when allocated
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    allocated_fen = _money()
    raised_fen = _money()  # of allocated_fen, what recorded decisions added after the first allocation
    spent_fen = _money()
    refunded_fen = _money()
    last_spent_at = db.Column(UTCDateTime)  # NULL: nothing spent yet (idle after 90 days on the dashboard)

    fund = db.relationship("Fund")
    action = db.relationship("Action")

    @property
    def net_spent_fen(self) -> int:
        return self.spent_fen - self.refunded_fen

    @property
    def remaining_fen(self) -> int:
        return self.allocated_fen - self.net_spent_fen


class LedgerEntry(db.Model):
    """One line of a fund's ledger. Never updated, never deleted (see the module's docstring)."""

    __tablename__ = "fund_ledger_entry"
    __table_args__ = (
        CheckConstraint("kind IN ('income', 'allocation', 'spending', 'refund', 'correction')", name="kind"),
        CheckConstraint("amount_fen >= 0", name="amount"),
        CheckConstraint("kind = 'correction' OR (amount_fen > 0 AND delta_fen = amount_fen AND corrects_id IS NULL)",
                        name="plain_entry"),
        CheckConstraint("kind != 'correction' OR corrects_id IS NOT NULL", name="correction_points"),
        CheckConstraint("effect_kind IN ('income', 'allocation', 'spending', 'refund') "
                        "AND (kind = 'correction' OR effect_kind = kind)", name="effect_kind"),
        CheckConstraint("kind != 'income' OR source IS NOT NULL", name="income_source"),
        CheckConstraint("kind NOT IN ('allocation', 'spending', 'refund') OR allocation_id IS NOT NULL",
                        name="allocation_given"),
        CheckConstraint("kind != 'spending' OR (payee IS NOT NULL AND receipt_key IS NOT NULL)", name="spending"),
        CheckConstraint("kind != 'refund' OR refund_of_id IS NOT NULL", name="refund_of"),
        CheckConstraint("payee_kind IS NULL OR payee_kind IN ('organization', 'person')", name="payee_kind"),
        CheckConstraint("receipt_kind IS NULL OR receipt_kind IN ('image', 'pdf')", name="receipt_kind"),
        Index("ix_fund_ledger_entry_fund_id", "fund_id", "id"),
        Index("ix_fund_ledger_entry_fund_month", "fund_id", "month", "id"),
        Index("ix_fund_ledger_entry_allocation", "allocation_id", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    fund_id = db.Column(db.Integer, db.ForeignKey("fund.id"), nullable=False)
    kind = db.Column(db.String(16), nullable=False)
    # The figure it changes: its own kind, or for a correction the kind of the entry it corrects.
    effect_kind = db.Column(db.String(16), nullable=False)
    amount_fen = db.Column(db.BigInteger, nullable=False)  # a correction: the corrected entry's new amount
    delta_fen = db.Column(db.BigInteger, nullable=False)  # the change to the figures (a correction: ± )
    occurred_on = db.Column(db.Date, nullable=False)  # the day of the payment, in the fund's zone
    month = db.Column(db.String(7), nullable=False)  # "2026-11", of occurred_on: the statement it is on
    recorded_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)

    allocation_id = db.Column(db.Integer, db.ForeignKey("fund_allocation.id"))
    source = db.Column(db.String(200))  # income: where the money came from
    payee = db.Column(db.String(120))  # spending: who was paid
    payee_kind = db.Column(db.String(16))
    description = db.Column(db.String(500), nullable=False, default="")
    corrects_id = db.Column(db.Integer, db.ForeignKey("fund_ledger_entry.id"), index=True)
    refund_of_id = db.Column(db.Integer, db.ForeignKey("fund_ledger_entry.id"), index=True)
    # The recorded decision behind the entry: a meeting's decision or a ballot (raising an allocation; for a
    # maintenance fund, the owners' decision on using it).
    decision_id = db.Column(db.Integer, db.ForeignKey("meeting_decision.id"))
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"))

    receipt_key = db.Column(db.String(64), unique=True)
    receipt_kind = db.Column(db.String(8))
    receipt_filename = db.Column(db.String(120))
    receipt_size = db.Column(db.Integer)

    fund = db.relationship("Fund")
    allocation = db.relationship("FundAllocation")
    recorded_by = db.relationship("User")
    corrects = db.relationship("LedgerEntry", remote_side=[id], foreign_keys=[corrects_id])
    refund_of = db.relationship("LedgerEntry", remote_side=[id], foreign_keys=[refund_of_id])
    decision = db.relationship("Decision")
    ballot = db.relationship("Ballot")

    @property
    def kind_label(self):
        return ENTRY_LABELS.get(self.kind, self.kind)


class FundMonth(db.Model):
    """A fund's figures of one month (by the entries' `month`), kept with the entries: the statement's totals
    and, summed over the months before, its opening balance."""

    __tablename__ = "fund_month"

    fund_id = db.Column(db.Integer, db.ForeignKey("fund.id"), primary_key=True)
    month = db.Column(db.String(7), primary_key=True)
    income_fen = db.Column(db.BigInteger, nullable=False, default=0)
    allocated_fen = db.Column(db.BigInteger, nullable=False, default=0)
    spent_fen = db.Column(db.BigInteger, nullable=False, default=0)
    refunded_fen = db.Column(db.BigInteger, nullable=False, default=0)
    entry_count = db.Column(db.Integer, nullable=False, default=0)

    @property
    def net_fen(self) -> int:
        return self.income_fen - self.spent_fen + self.refunded_fen


# The database itself refuses to change a ledger entry. DELETE stays possible for the database's owner
# (emptying a test database, a restore); nothing in the application deletes one (_refuse_delete below).
LEDGER_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER fund_ledger_entry_no_update BEFORE UPDATE ON fund_ledger_entry "
        "BEGIN SELECT RAISE(ABORT, 'fund ledger entries are never updated'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION fund_ledger_entry_refuse() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'fund ledger entries are never updated'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER fund_ledger_entry_no_update BEFORE UPDATE ON fund_ledger_entry "
        "FOR EACH ROW EXECUTE FUNCTION fund_ledger_entry_refuse()",
    ],
}
LEDGER_TRIGGER_DROPS = {
    "sqlite": ["DROP TRIGGER IF EXISTS fund_ledger_entry_no_update"],
    "postgresql": ["DROP TRIGGER IF EXISTS fund_ledger_entry_no_update ON fund_ledger_entry",
                   "DROP FUNCTION IF EXISTS fund_ledger_entry_refuse()"],
}
for _dialect, _statements in LEDGER_TRIGGERS.items():
    for _statement in _statements:
        event.listen(LedgerEntry.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))


@event.listens_for(Session, "before_flush")
def _refuse_delete(session, _context, _instances):
    for obj in session.deleted:
        if isinstance(obj, LedgerEntry):
            raise ValueError("fund ledger entries are never deleted: record a correction")


from portal.funds.rounds_models import (  # noqa: E402,F401  (budget rounds: seen by Alembic and create_all)
    BudgetBallot,
    BudgetBallotChoice,
    BudgetLogEntry,
    BudgetProject,
    BudgetRound,
)
