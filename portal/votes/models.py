"""Ballots (表决) on proposals: the frozen electorate, options, live votes, and the hash-chained log.

Three methods (DESIGN §3): "committee" (an organization's members), "residents" (verified adult residents,
or households) and "owners" (the homeowners' decision of Civil Code art. 278, counted per the SPC
building-ownership interpretation art. 9: by headcount and by exclusive area).

The electorate is frozen when voting opens: one `BallotVoter` row per vote that can be cast, with its
weights (headcount 1; area in integer hundredths of m²), and the accounts allowed to cast it
(`BallotCaster`: a co-owned unit may be cast by any co-owner, the developer's units by its representative,
a household by any of its verified adult residents). `BallotVote` holds the one live vote per voter (a
unique constraint); `BallotLogEntry` keeps every cast, chained by SHA-256, so a recount from the log can
be compared with the stored result and any changed row is named."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db

METHODS = ("committee", "residents", "owners")
METHOD_LABELS = {
    "committee": _l("Committee vote"),
    "residents": _l("Residents' vote"),
    "owners": _l("Homeowners' decision"),
}
STATES = ("scheduled", "open", "closed")
STATE_LABELS = {"scheduled": _l("Announced"), "open": _l("Voting open"), "closed": _l("Closed")}
RESULTS = ("passed", "failed", "tie", "no_quorum")
RESULT_LABELS = {"passed": _l("Passed"), "failed": _l("Failed"), "tie": _l("Tie"), "no_quorum": _l("No quorum")}

# Matters of Civil Code art. 278. Matters 6–8 need three quarters of the participating area and headcount;
# the others more than half of each.
MATTERS = tuple(range(1, 10))
SPECIAL_MATTERS = (6, 7, 8)
MATTER_LABELS = {
    1: _l("(1) Rules of procedure of the owners' assembly"),
    2: _l("(2) The management covenant"),
    3: _l("(3) Electing the homeowners' committee or its members"),
    4: _l("(4) Hiring or dismissing the property service company"),
    5: _l("(5) Using the building maintenance fund"),
    6: _l("(6) Raising the building maintenance fund"),
    7: _l("(7) Rebuilding or reconstructing buildings and attached facilities"),
    8: _l("(8) Changing the use of common parts or using them for business"),
    9: _l("(9) Other major matters of common management"),
}
OWNERS_NOTICE_DAYS = 15

RESIDENT_UNITS = ("person", "household")  # residents' method: one vote per adult, or per household
THRESHOLDS = ("simple", "two_thirds")  # residents' method: yes > 1/2 of yes+no, or yes ≥ 2/3 of yes+no
# Residents' method, chosen at opening: "simple" (the quorum and threshold set above, abstentions left out) or
# "meeting", the 居民会议 rule of the Organic Law of Urban Residents' Committees art. 10: more than half of the
# frozen electorate take part, and more than half of those taking part (abstentions included) vote yes.
RESIDENT_RULES = ("simple", "meeting")
# Owners' method: who decides (the owners concerned, SPC interpretation and the maintenance fund's charging scope):
# the whole estate, or the owners of listed buildings, or of listed entrances (单元) — rows of BallotScope.
SCOPES = ("estate", "buildings", "entrances")
# Owners' method, from the portal setting CO_OWNER_HEADCOUNT, frozen on the ballot at opening: how a person who
# co-owns one unit and solely owns others counts by headcount — "separate" (the co-owned unit is a head of its
# own: 2) or "once" (the co-owned unit's head merges into the person's: 1; its area still counts).
CO_OWNER_HEADCOUNTS = ("separate", "once")
# A unit with no current owner, resolved by the committee before an owners' ballot opens: counted with the
# developer's units, or excluded with a reason (e.g. demolished).
UNIT_RESOLUTIONS = ("developer", "excluded")
VOTER_KINDS = ("member", "resident", "household", "owner", "co_owned_unit", "developer")
OPTION_CODES = ("yes", "no", "abstain")


class Ballot(db.Model):
    __tablename__ = "ballot"
    __table_args__ = (
        CheckConstraint("method IN ('committee', 'residents', 'owners')", name="method"),
        CheckConstraint("status IN ('scheduled', 'open', 'closed')", name="status"),
        CheckConstraint("result IS NULL OR result IN ('passed', 'failed', 'tie', 'no_quorum')", name="result"),
        CheckConstraint("matter IS NULL OR (matter BETWEEN 1 AND 9)", name="matter"),
        CheckConstraint("method = 'owners' OR matter IS NULL", name="matter_for_owners"),
        CheckConstraint("resident_unit IS NULL OR resident_unit IN ('person', 'household')", name="resident_unit"),
        CheckConstraint("threshold IS NULL OR threshold IN ('simple', 'two_thirds')", name="threshold"),
        CheckConstraint("resident_rule IS NULL OR resident_rule IN ('simple', 'meeting')", name="resident_rule"),
        CheckConstraint("NOT (secret AND method = 'owners')", name="owners_public"),
        CheckConstraint("scope IS NULL OR scope IN ('estate', 'buildings', 'entrances')", name="scope"),
        CheckConstraint("method = 'owners' OR (estate_id IS NULL AND scope IS NULL)", name="scope_for_owners"),
        CheckConstraint("co_owner_headcount IS NULL OR co_owner_headcount IN ('separate', 'once')",
                        name="co_owner_headcount"),
        CheckConstraint("closes_at > opens_at", name="period"),
        Index("ix_ballot_status_closes", "status", "closes_at"),
        # One ballot at a time on a proposal: a second one cannot be opened while one is announced or open.
        Index("uq_ballot_proposal_live", "proposal_id", unique=True,
              sqlite_where=db.text("status IN ('scheduled', 'open')"),
              postgresql_where=db.text("status IN ('scheduled', 'open')")),
    )

    id = db.Column(db.Integer, primary_key=True)
    proposal_id = db.Column(db.Integer, db.ForeignKey("proposal.id"), nullable=False, index=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False)  # the opener
    opened_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    method = db.Column(db.String(16), nullable=False)
    matter = db.Column(db.SmallInteger)  # owners: art. 278 matter 1–9
    # Owners: the estate whose owners decide, and who of them (SCOPES; buildings / entrances: BallotScope rows).
    # NULL on owners' ballots from before estates: the whole community.
    estate_id = db.Column(db.Integer, db.ForeignKey("estate.id"), index=True)
    scope = db.Column(db.String(16))
    resident_unit = db.Column(db.String(16))  # residents: person | household
    quorum_percent = db.Column(db.Numeric(5, 2))  # residents: share of the electorate that must take part
    threshold = db.Column(db.String(16))  # residents, yes/no ballots: simple | two_thirds
    resident_rule = db.Column(db.String(16))  # residents: simple | meeting (RESIDENT_RULES); NULL for the others
    co_owner_headcount = db.Column(db.String(8))  # owners: CO_OWNER_HEADCOUNTS, frozen at opening; else NULL
    # Committee: "at least half" instead of "more than half", copied from the organization at opening.
    at_least_half = db.Column(db.Boolean, nullable=False, default=False)
    question = db.Column(db.String(300), nullable=False)
    notice = db.Column(db.Text)  # owners: the announcement sent to every owner
    secret = db.Column(db.Boolean, nullable=False, default=False)
    results_hidden = db.Column(db.Boolean, nullable=False, default=False)  # until close, from everyone

    status = db.Column(db.String(16), nullable=False, default="scheduled")
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    opens_at = db.Column(UTCDateTime, nullable=False)
    closes_at = db.Column(UTCDateTime, nullable=False)
    frozen_at = db.Column(UTCDateTime)  # the electorate was frozen (voting opened)
    extended_at = db.Column(UTCDateTime)
    extend_reason = db.Column(db.String(1000))
    original_closes_at = db.Column(UTCDateTime)
    closed_at = db.Column(UTCDateTime)
    closed_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))  # NULL: closed at its time
    close_reason = db.Column(db.String(1000))

    # Running head of the log (hex SHA-256) and the number of entries; both change with every cast.
    log_head = db.Column(db.String(64), nullable=False, default="0" * 64)
    log_length = db.Column(db.Integer, nullable=False, default=0)
    # Running totals, kept by services._append under the ballot's row lock in the same transaction as each
    # cast (votes.services.rebuild_running_totals recomputes them): the frozen electorate (set at opening)
    # and the voters with a live vote, by headcount and area (hundredths of m², owners' method; else 0). The
    # open ballot's page reads these instead of counting every voter; close and verification still recount.
    electorate_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    electorate_area_cm = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")
    voted_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    voted_area_cm = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")

    result = db.Column(db.String(16))
    # The figures at close, exact integers (areas in hundredths of m²), as counting.tally() returns them.
    figures = db.Column(db.JSON)
    outcome_statement = db.Column(db.Text)
    outcome_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    outcome_at = db.Column(UTCDateTime)

    proposal = db.relationship("Proposal")
    community = db.relationship("Community")
    organization = db.relationship("Organization")
    estate = db.relationship("Estate")
    opened_by = db.relationship("User", foreign_keys=[opened_by_id])
    options = db.relationship("BallotOption", back_populates="ballot", order_by="BallotOption.position")
    scope_rows = db.relationship("BallotScope", order_by="BallotScope.id", cascade="all, delete-orphan")
    exclusions = db.relationship("BallotExclusion", order_by="BallotExclusion.label", viewonly=True)

    @property
    def method_label(self):
        return METHOD_LABELS.get(self.method, self.method)

    @property
    def status_label(self):
        return STATE_LABELS.get(self.status, self.status)

    @property
    def result_label(self):
        return RESULT_LABELS.get(self.result, self.result) if self.result else None

    @property
    def is_yes_no(self) -> bool:
        return any(o.code == "yes" for o in self.options)

    def __repr__(self):
        return f"<Ballot {self.id} {self.method} {self.status}>"


class BallotScope(db.Model):
    """One building (entrance NULL) or one entrance of a building whose owners decide an owners' ballot of scope
    "buildings" or "entrances". Written at opening with the ballot, never changed."""

    __tablename__ = "ballot_scope"
    __table_args__ = (UniqueConstraint("ballot_id", "building_id", "entrance"),)

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False, index=True)
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"), nullable=False)
    entrance = db.Column(db.String(16))  # NULL: the whole building

    building = db.relationship("Building")


class BallotOption(db.Model):
    """yes / no / abstain (code set), or a named choice of a residents' multiple-choice ballot (code NULL)."""

    __tablename__ = "ballot_option"
    __table_args__ = (
        UniqueConstraint("ballot_id", "position"),
        CheckConstraint("code IS NULL OR code IN ('yes', 'no', 'abstain')", name="code"),
        CheckConstraint("live_count >= 0 AND live_area_cm >= 0", name="live_totals"),
    )

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False)
    position = db.Column(db.SmallInteger, nullable=False)
    code = db.Column(db.String(8))
    label = db.Column(db.String(200), nullable=False)
    # Running totals of the live votes for this option (headcount, and area in hundredths of m²), kept with
    # the ballot's (see Ballot.voted_count).
    live_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    live_area_cm = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")

    ballot = db.relationship("Ballot", back_populates="options")


class BallotVoter(db.Model):
    """One vote that can be cast, frozen at opening with its weights."""

    __tablename__ = "ballot_voter"
    __table_args__ = (
        CheckConstraint("kind IN ('member', 'resident', 'household', 'owner', 'co_owned_unit', 'developer')",
                        name="kind"),
        # Each voter counts once — but for a co-owned unit whose head merged into a co-owner's under the "once"
        # reading (Ballot.co_owner_headcount): headcount 0, its area still counts.
        CheckConstraint("headcount IN (0, 1) AND area_cm >= 0", name="weights"),
    )

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False, index=True)
    kind = db.Column(db.String(16), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))  # member / resident
    owner_id = db.Column(db.Integer, db.ForeignKey("owner.id"))  # owner / developer
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"))  # household / co_owned_unit
    # co_owned_unit: the co-owners' named representative at opening (the only caster); NULL: any co-owner
    representative_id = db.Column(db.Integer, db.ForeignKey("owner.id"))
    label = db.Column(db.String(200), nullable=False)  # name, or "Building 3, 1-0201" (for public ballots)
    headcount = db.Column(db.Integer, nullable=False, default=1)
    area_cm = db.Column(db.BigInteger, nullable=False, default=0)  # hundredths of m² (owners' method)


class BallotCaster(db.Model):
    """An account allowed to cast a voter's vote (frozen at opening)."""

    __tablename__ = "ballot_caster"
    __table_args__ = (
        UniqueConstraint("voter_id", "user_id"),
        Index("ix_ballot_caster_ballot_user", "ballot_id", "user_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False)
    voter_id = db.Column(db.Integer, db.ForeignKey("ballot_voter.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)


PROXY_WHERE = "proxy_id IS NOT NULL"


class BallotVote(db.Model):
    """The live vote of one voter: the latest cast. The unique constraint is the database's guarantee of one
    live ballot per voter; every cast is also in the log."""

    __tablename__ = "ballot_vote"
    __table_args__ = (
        UniqueConstraint("ballot_id", "voter_id"),
        Index("ix_ballot_vote_ballot_option", "ballot_id", "option_id"),
        # The votes cast by proxies, which a closed ballot's result counts: a few among hundreds of thousands.
        Index("ix_ballot_vote_by_proxy", "ballot_id", postgresql_where=text(PROXY_WHERE),
              sqlite_where=text(PROXY_WHERE)),
    )

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False)
    voter_id = db.Column(db.Integer, db.ForeignKey("ballot_voter.id"), nullable=False)
    option_id = db.Column(db.Integer, db.ForeignKey("ballot_option.id"), nullable=False)
    entry_id = db.Column(db.Integer, db.ForeignKey("ballot_log_entry.id"), nullable=False)
    cast_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    is_paper = db.Column(db.Boolean, nullable=False, default=False)
    cast_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    proxy_id = db.Column(db.Integer, db.ForeignKey("ballot_proxy.id"))  # cast by this proxy (书面委托), else NULL


class BallotLogEntry(db.Model):
    """One cast, in order. hash = SHA-256(prev_hash + canonical entry), see votes.log."""

    __tablename__ = "ballot_log_entry"
    __table_args__ = (
        UniqueConstraint("ballot_id", "seq"),
        Index("ix_ballot_log_entry_voter", "ballot_id", "voter_id", "seq"),  # "replaced at" for a receipt
    )

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False)
    seq = db.Column(db.Integer, nullable=False)  # 1, 2, …
    voter_id = db.Column(db.Integer, db.ForeignKey("ballot_voter.id"), nullable=False)
    option_id = db.Column(db.Integer, db.ForeignKey("ballot_option.id"), nullable=False)
    headcount = db.Column(db.Integer, nullable=False)  # the voter's weights, copied so the log stands alone
    area_cm = db.Column(db.BigInteger, nullable=False)
    cast_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    is_paper = db.Column(db.Boolean, nullable=False, default=False)
    at = db.Column(UTCDateTime, nullable=False)
    receipt = db.Column(db.String(32), nullable=False, unique=True)  # given to the voter
    # Cast by this proxy for the voter; hashed with the entry when set (votes.log.canonical).
    proxy_id = db.Column(db.Integer, db.ForeignKey("ballot_proxy.id"))
    prev_hash = db.Column(db.String(64), nullable=False)
    hash = db.Column(db.String(64), nullable=False)


class BallotExclusion(db.Model):
    """A unit with no owner left out of an owners' ballot, frozen at opening with the committee's reason
    (NULL: no owner and nothing recorded by the time voting opened), shown on the result."""

    __tablename__ = "ballot_exclusion"
    __table_args__ = (UniqueConstraint("ballot_id", "household_id"),)

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False, index=True)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), nullable=False)
    label = db.Column(db.String(200), nullable=False)  # "Building 3, 1-0201"
    reason = db.Column(db.String(500))


class UnownedUnit(db.Model):
    """How a unit with no current owner counts in owners' ballots, recorded by the committee that opens them
    (one row per unit, changed in place, every change audited): with the developer's units ("developer",
    `owner_id` the developer) or left out ("excluded", with a reason), from `since` on. Ignored while the
    unit has an owner on the register."""

    __tablename__ = "unowned_unit"
    __table_args__ = (
        CheckConstraint("resolution IN ('developer', 'excluded')", name="resolution"),
        CheckConstraint("(resolution = 'developer') = (owner_id IS NOT NULL)", name="developer_owner"),
        CheckConstraint("resolution = 'developer' OR reason IS NOT NULL", name="reason"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), nullable=False, unique=True)
    resolution = db.Column(db.String(16), nullable=False)
    owner_id = db.Column(db.Integer, db.ForeignKey("owner.id"))  # developer: the developer's register entry
    reason = db.Column(db.String(500))
    since = db.Column(db.Date, nullable=False)  # in the community's time zone
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    recorded_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    household = db.relationship("Household")


class UnitRepresentative(db.Model):
    """The representative the co-owners of a unit named (recorded by the committee, audited): the only one
    who casts the unit's vote in owners' ballots opened while it is recorded."""

    __tablename__ = "unit_representative"

    id = db.Column(db.Integer, primary_key=True)
    household_id = db.Column(db.Integer, db.ForeignKey("household.id"), nullable=False, unique=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("owner.id"), nullable=False)
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    recorded_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    owner = db.relationship("Owner")
class BallotProxy(db.Model):
    """An owner's written authorization (书面委托) for one ballot, recorded by the committee: the proxy is an
    account, or a person named on paper (who votes through the committee's paper entry). See
    votes.services.proxies for the rules (no chains, the cap, revoking, the owner's own vote overriding)."""

    __tablename__ = "ballot_proxy"
    __table_args__ = (
        # One live authorization per vote: a second one is recorded only after the first is revoked.
        Index("uq_ballot_proxy_live", "voter_id", unique=True,
              sqlite_where=db.text("revoked_at IS NULL"), postgresql_where=db.text("revoked_at IS NULL")),
        Index("ix_ballot_proxy_holder", "ballot_id", "proxy_user_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False, index=True)
    voter_id = db.Column(db.Integer, db.ForeignKey("ballot_voter.id"), nullable=False)  # the principal's vote
    proxy_user_id = db.Column(db.Integer, db.ForeignKey("user.id"))  # NULL: a person named on paper
    proxy_name = db.Column(db.String(100), nullable=False)
    signed_on = db.Column(db.Date, nullable=False)  # the date on the written authorization
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    recorded_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at = db.Column(UTCDateTime)
    revoked_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))

    voter = db.relationship("BallotVoter")
    proxy_user = db.relationship("User", foreign_keys=[proxy_user_id])


SCAN_PURPOSES = ("paper_ballot", "proxy")


class BallotScan(db.Model):
    """A scan of a signed paper ballot form or of a written authorization: a photo (re-encoded) or a PDF
    (rewritten), checked by content as proposal attachments are (proposals.attachments.prepare)."""

    __tablename__ = "ballot_scan"
    __table_args__ = (
        CheckConstraint("purpose IN ('paper_ballot', 'proxy')", name="purpose"),
        CheckConstraint("kind IN ('image', 'pdf')", name="kind"),
        Index("ix_ballot_scan_voter", "ballot_id", "voter_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    ballot_id = db.Column(db.Integer, db.ForeignKey("ballot.id"), nullable=False)
    voter_id = db.Column(db.Integer, db.ForeignKey("ballot_voter.id"), nullable=False)
    proxy_id = db.Column(db.Integer, db.ForeignKey("ballot_proxy.id"))  # purpose "proxy"
    purpose = db.Column(db.String(16), nullable=False)  # SCAN_PURPOSES
    key = db.Column(db.String(64), nullable=False, unique=True)  # random: the stored file's name
    kind = db.Column(db.String(8), nullable=False)  # image | pdf
    filename = db.Column(db.String(120), nullable=False)  # for display only
    size = db.Column(db.Integer, nullable=False)
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    uploaded_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

# The calendar keeps a ballot's question and times between requests, the notice board its owners' ballots
# announced or open and who decides them (portal.versions): its running totals, written with every vote, change
# nothing kept.
versions.track("ballot", columns=("question", "opens_at", "closes_at", "proposal_id", "status", "method", "estate_id",
                                  "scope"))
versions.track("ballot_scope", community_of=versions.through("ballot_id", "ballot"))
