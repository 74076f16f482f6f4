"""Budget rounds (participatory budgeting, 微实事 by residents' choice): a round on a community's fund, the
projects residents propose for it, their ballots and the round's hash-chained log.

A round's phase (proposing → review → voting → results → implementing) is never stored: it follows from the
dates and the clock (portal.funds.rounds.round_phase). A project IS a proposal of kind "project"; the row
here carries what a round needs beside it (where, the estimated and the reviewed cost in fen, the review, the
votes and the result). Ballots are one per voter key per round (a resident, or a household when the round
counts households); `vote_count` on a project and the log are kept by the casting service in the same
transaction as the ballot."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Index, UniqueConstraint

from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

BALLOT_KINDS = ("knapsack", "approval")
BALLOT_KIND_LABELS = {
    "knapsack": _l("Choose projects within the total (knapsack ballot)"),
    "approval": _l("Approve up to a number of projects (approval ballot)"),
}
VOTER_UNITS = ("resident", "household")
VOTER_UNIT_LABELS = {"resident": _l("One ballot per verified resident"),
                     "household": _l("One ballot per household")}
TIE_RULES = ("lower_cost", "earlier_proposed")
TIE_RULE_LABELS = {
    "lower_cost": _l("Equal votes: the project with the lower reviewed cost comes first."),
    "earlier_proposed": _l("Equal votes: the project proposed earlier comes first."),
}
REVIEW_STATES = ("pending", "accepted", "merged", "rejected")
REVIEW_STATE_LABELS = {
    "pending": _l("Awaiting review"),
    "accepted": _l("Passed the review"),
    "merged": _l("Merged into another project"),
    "rejected": _l("Rejected"),
}
ZERO_HASH = "0" * 64


class BudgetRound(db.Model):
    __tablename__ = "budget_round"
    __table_args__ = (
        CheckConstraint("total_fen >= 0", name="total"),
        CheckConstraint("ballot_kind IN ('knapsack', 'approval')", name="ballot_kind"),
        CheckConstraint("ballot_kind != 'approval' OR max_approvals >= 1", name="max_approvals"),
        CheckConstraint("voter_unit IN ('resident', 'household')", name="voter_unit"),
        CheckConstraint("tie_rule IN ('lower_cost', 'earlier_proposed')", name="tie_rule"),
        CheckConstraint("proposing_from <= review_from AND review_from <= voting_from "
                        "AND voting_from < voting_until AND voting_until <= results_from", name="phases"),
        CheckConstraint("log_length >= 0", name="log_length"),
    )

    id = db.Column(db.Integer, primary_key=True)
    fund_id = db.Column(db.Integer, db.ForeignKey("fund.id"), nullable=False, index=True)
    title = db.Column(db.String(120), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    total_fen = db.Column(db.BigInteger, nullable=False)
    ballot_kind = db.Column(db.String(16), nullable=False)
    max_approvals = db.Column(db.Integer)
    voter_unit = db.Column(db.String(16), nullable=False, default="resident")
    tie_rule = db.Column(db.String(16), nullable=False)
    proposing_from = db.Column(UTCDateTime, nullable=False)
    review_from = db.Column(UTCDateTime, nullable=False)
    voting_from = db.Column(UTCDateTime, nullable=False)
    voting_until = db.Column(UTCDateTime, nullable=False)
    results_from = db.Column(UTCDateTime, nullable=False)
    results_published_at = db.Column(UTCDateTime)  # implementing from then on
    # The head of the ballot log (portal.votes.log's chain) and its length, kept by the casting service.
    log_head = db.Column(db.String(64), nullable=False, default=ZERO_HASH, server_default=ZERO_HASH)
    log_length = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    fund = db.relationship("Fund")
    created_by = db.relationship("User")
    projects = db.relationship("BudgetProject", back_populates="round", order_by="BudgetProject.id",
                               foreign_keys="BudgetProject.round_id")

    @property
    def community(self):
        return self.fund.community

    @property
    def ballot_kind_label(self):
        return BALLOT_KIND_LABELS.get(self.ballot_kind, self.ballot_kind)

    @property
    def voter_unit_label(self):
        return VOTER_UNIT_LABELS.get(self.voter_unit, self.voter_unit)

    @property
    def tie_rule_label(self):
        return TIE_RULE_LABELS.get(self.tie_rule, self.tie_rule)

    def __repr__(self):
        return f"<BudgetRound {self.id}>"


class BudgetProject(db.Model):
    __tablename__ = "budget_project"
    __table_args__ = (
        CheckConstraint("review_state IN ('pending', 'accepted', 'merged', 'rejected')", name="review_state"),
        CheckConstraint("estimated_cost_fen >= 0", name="estimated_cost"),
        CheckConstraint("reviewed_cost_fen IS NULL OR reviewed_cost_fen >= 0", name="reviewed_cost"),
        CheckConstraint("review_state != 'accepted' OR reviewed_cost_fen IS NOT NULL", name="accepted_cost"),
        CheckConstraint("review_state != 'merged' OR merged_into_id IS NOT NULL", name="merged_into"),
        CheckConstraint("review_state != 'rejected' OR review_reason IS NOT NULL", name="rejected_reason"),
        CheckConstraint("vote_count >= 0", name="vote_count"),
        Index("ix_budget_project_round_state", "round_id", "review_state", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    round_id = db.Column(db.Integer, db.ForeignKey("budget_round.id"), nullable=False)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), nullable=False, unique=True)
    location = db.Column(db.String(200), nullable=False, default="")
    estimated_cost_fen = db.Column(db.BigInteger, nullable=False)
    reviewed_cost_fen = db.Column(db.BigInteger)
    review_state = db.Column(db.String(16), nullable=False, default="pending", server_default="pending")
    merged_into_id = db.Column(db.Integer, db.ForeignKey("budget_project.id"))
    review_reason = db.Column(db.String(1000))  # public
    reviewed_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    reviewed_at = db.Column(UTCDateTime)
    vote_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    result_rank = db.Column(db.Integer)
    funded = db.Column(db.Boolean)
    result_note = db.Column(db.String(500))
    action_id = db.Column(db.Integer, db.ForeignKey("action.id"))
    allocation_id = db.Column(db.Integer, db.ForeignKey("fund_allocation.id"))

    round = db.relationship("BudgetRound", back_populates="projects", foreign_keys=[round_id])
    proposal = db.relationship("Proposal")
    merged_into = db.relationship("BudgetProject", remote_side=[id])
    reviewed_by = db.relationship("User")
    action = db.relationship("Action")
    allocation = db.relationship("FundAllocation")

    @property
    def review_state_label(self):
        return REVIEW_STATE_LABELS.get(self.review_state, self.review_state)

    def __repr__(self):
        return f"<BudgetProject {self.id} {self.review_state}>"


class BudgetBallot(db.Model):
    """A voter's current choice in a round (one per voter key); changed in place until voting closes."""

    __tablename__ = "budget_ballot"
    __table_args__ = (UniqueConstraint("round_id", "voter_key"),)

    id = db.Column(db.Integer, primary_key=True)
    round_id = db.Column(db.Integer, db.ForeignKey("budget_round.id"), nullable=False)
    voter_key = db.Column(db.String(24), nullable=False)  # f"u{user_id}" or f"h{household_id}"
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)  # who cast last
    cast_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    receipt = db.Column(db.String(64), nullable=False)


class BudgetBallotChoice(db.Model):
    __tablename__ = "budget_ballot_choice"

    ballot_id = db.Column(db.Integer, db.ForeignKey("budget_ballot.id"), primary_key=True)
    project_id = db.Column(db.Integer, db.ForeignKey("budget_project.id"), primary_key=True, index=True)


class BudgetLogEntry(db.Model):
    """One cast (or change) in a round's hash-chained log: what the voter key chose, chained to the entry
    before it."""

    __tablename__ = "budget_log_entry"
    __table_args__ = (UniqueConstraint("round_id", "seq"),)

    id = db.Column(db.Integer, primary_key=True)
    round_id = db.Column(db.Integer, db.ForeignKey("budget_round.id"), nullable=False)
    seq = db.Column(db.Integer, nullable=False)
    voter_key = db.Column(db.String(24), nullable=False)
    project_ids = db.Column(db.Text, nullable=False)  # canonical JSON list, e.g. "[3,7,12]"
    receipt = db.Column(db.String(64), nullable=False)
    cast_at = db.Column(UTCDateTime, nullable=False)
    prev_hash = db.Column(db.String(64), nullable=False)
    hash = db.Column(db.String(64), nullable=False)
