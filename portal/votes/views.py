"""Ballot pages: each view loads the ballot (applying its due steps, so a ballot whose time has come opens
or closes on first access), checks one permission rule, parses the input, calls one service, commits, then
redirects or renders.

Every page works without JavaScript; htmx only swaps the vote block after a cast. Numbers about how people
voted come from services.visible_tally alone (None while results are hidden), and the result figures are read
only once the ballot is closed, so a hidden result cannot leak through any page or partial rendered here. The
participation count (how many voted) is shown, except on an open secret ballot while fewer than three have
voted; who voted what is never shown for a secret ballot, nor its count by option before close, and a voter
sees only their own current choice."""
import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from flask import abort, current_app, make_response, render_template, request, url_for
from flask_babel import format_datetime, format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from portal import versions
from portal.auth import permissions
from portal.clock import in_zone, utcnow
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import local_time
from portal.formviews import db_int, form_view, posted_text
from portal.places.services import community_or_404
from portal.sharing import share_card
from portal.votes import bp, counting, scans, services
from portal.votes import log as ballot_log
from portal.votes.forms import (
    RECEIPT_MAX,
    BallotForm,
    CastForm,
    ExtendForm,
    MethodForm,
    OutcomeForm,
    PaperForm,
    ReasonForm,
    ReceiptForm,
    RepresentativeForm,
    UnitResolutionForm,
)
from portal.votes.models import (
    MATTER_LABELS,
    METHOD_LABELS,
    METHODS,
    OWNERS_NOTICE_DAYS,
    RESULT_LABELS,
    STATE_LABELS,
    Ballot,
    BallotVote,
    BallotVoter,
)
from portal.votes.scope import scope_label
from portal.votes.services import unowned
from portal.web import absolute_url, allow, datetime_local, public

MAX_ID = 2**31 - 1  # an id in the address beyond any row (and beyond what SQLite takes) is simply not there
PAPER_MATCHES = 20  # voters listed on the paper-ballot page for one search
INDEX_SIZE = 100  # the community's ballots listed, open first


# --- loading and parsing -----------------------------------------------------------------------------------

def _load(slug, ballot_id) -> Ballot:
    """The ballot of this community as this viewer may see it, its due steps applied (it opens or closes on
    first access once its time has come; nothing waits for `run-due`)."""
    # The community found with the ballot, in the same statement.
    ballot = services.ballot_at(slug, ballot_id) if 0 < ballot_id <= MAX_ID else None
    if ballot is None:
        abort(404)
    allow(permissions.can_view_ballot(current_user, ballot))
    if services.apply_due(ballot):
        db.session.commit()
    return ballot


def _detail_url(ballot, anchor=""):
    return url_for("votes.detail", slug=ballot.community.slug, ballot_id=ballot.id) + anchor


def _whole(value) -> int | None:
    """A posted id as an int; anything else (empty, words, huge numbers) is None."""
    text = (value or "").strip() if isinstance(value, str) else value
    if isinstance(text, int):
        return text
    if not text or not re.fullmatch(r"[0-9]{1,9}", text):
        return None
    return int(text)


def _local_text(value, zone) -> str:
    """A UTC time as the `datetime-local` field shows it, in the community's zone."""
    return in_zone(value, zone).strftime("%Y-%m-%dT%H:%M") if value else ""


def _percent(form_field) -> Decimal | None:
    text = re.sub(r"[\s%％]", "", form_field.data or "")[:20]
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise DomainError(_("Write the quorum as a number of per cent, such as 50."), form_field.short_name)
    return value


def _voter(ballot, voter_id) -> BallotVoter | None:
    """One frozen voter of this ballot (never another ballot's, whatever id was posted)."""
    if voter_id is None:
        return None
    return db.session.scalar(db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id,
                                                         BallotVoter.id == voter_id))


def _page_number():
    page = request.args.get("page", type=db_int) or 1
    return max(1, min(page, 100_000))


# --- what the templates show -------------------------------------------------------------------------------

def area_text(area_cm) -> str:
    """Hundredths of m² as square metres with two decimals, in the page's language ("1,414.25 m²")."""
    return _("%(area)s m²", area=format_decimal(counting.area_m2(int(area_cm or 0)), format="#,##0.00"))


def rule_lines(ballot) -> list[str]:
    """How this ballot is decided, in words."""
    if ballot.method == "committee":
        lines = [_("Valid when more than half of all members of %(org)s vote.", org=ballot.organization.name)]
        lines.append(_("Passes when at least half of all members vote yes.") if ballot.at_least_half
                     else _("Passes when more than half of all members vote yes."))
        return lines
    if ballot.method == "residents":
        unit = _("one vote per household") if ballot.resident_unit == "household" \
            else _("one vote per verified adult resident")
        lines = [_("Residents' vote: %(unit)s.", unit=unit)]
        if ballot.resident_rule == "meeting":
            lines.append(_("Residents' meeting rule (居民会议, Organic Law of Urban Residents' Committees art. 10)."))
            lines.append(_("Valid when more than half of the households, as frozen when voting opened, take part.")
                         if ballot.resident_unit == "household" else
                         _("Valid when more than half of the verified adult residents, as frozen when voting "
                           "opened, take part."))
            lines.append(_("Passes when more than half of those taking part vote yes; abstentions count among "
                           "those taking part."))
            return lines
        if ballot.quorum_percent is not None:
            lines.append(_("Valid when at least %(quorum)s%% of the electorate vote.",
                           quorum=format_decimal(ballot.quorum_percent, format="0.##")))
        if not ballot.is_yes_no:
            lines.append(_("The choice with the most votes wins; equal top counts are a tie."))
        elif ballot.threshold == "two_thirds":
            lines.append(_("Passes with at least two thirds of the yes and no votes."))
        else:
            lines.append(_("Passes with more than half of the yes and no votes."))
        return lines
    lines = [_("Valid when owners holding at least two thirds of the area and at least two thirds of the owners "
               "vote (abstaining is taking part).")]
    if counting.MATTER_RULE(ballot.matter) == "three_quarters":
        lines.append(_("Passes with at least three quarters of the participating area and of the participating "
                       "owners voting yes."))
    else:
        lines.append(_("Passes with more than half of the participating area and of the participating owners "
                       "voting yes."))
    return [*lines, co_owner_reading(ballot)]


def co_owner_reading(ballot) -> str:
    """The co-owner reading this owners' ballot froze at opening, in words (the law is unsettled)."""
    if ballot.co_owner_headcount == "once":
        return _("Co-owners: a person who co-owns one unit and solely owns another counts once by headcount; "
                 "the area of every unit counts (the portal's reading, fixed when voting opened).")
    return _("Co-owners: a co-owned unit counts as one owner of its own, so a person who co-owns one unit and "
             "solely owns another counts twice by headcount (the portal's reading, fixed when voting opened).")


def exclusions_text(ballot) -> str | None:
    """“N units excluded: …” for an owners' ballot that froze excluded units at opening, else None."""
    if ballot.method != "owners" or ballot.frozen_at is None:
        return None
    # Frozen with the ballot's opening (which changes the community's version): read once per version.
    excluded = versions.remember_item("ballot_exclusions", ballot.community, ballot.id,
                                      lambda: tuple((e.label, e.reason) for e in ballot.exclusions))
    if not excluded:
        return None
    units = "; ".join(_("%(unit)s (%(reason)s)", unit=label,
                        reason=reason or _("no owner and no decision recorded when voting opened"))
                      for label, reason in excluded)
    return ngettext("%(num)d unit excluded: %(units)s", "%(num)d units excluded: %(units)s", len(excluded),
                    units=units)


def option_text(option) -> str:
    """An option as the page's language says it: yes / no / abstain are translated, named choices as written."""
    if option.code in services.YES_NO_LABELS:
        return str(services.YES_NO_LABELS[option.code])
    return option.label


def option_label(ballot, option_id) -> str:
    for o in ballot.options:
        if o.id == option_id:
            return option_text(o)
    return ""


def tie_names(ballot, option_ids) -> str:
    return ", ".join(f"“{option_label(ballot, i)}”" for i in option_ids or ())


def result_of(ballot) -> dict | None:
    """The result and its figures, only once the ballot is closed (never earlier, whatever was chosen): the
    numbers are those services.visible_tally and services.result_details give this viewer."""
    if ballot.status != "closed" or not ballot.result:
        return None
    if services.visible_tally(current_user, ballot) is None:
        return None
    details = services.result_details(current_user, ballot)
    if not details:
        return None
    by_proxy = db.session.scalar(db.select(db.func.count()).select_from(BallotVote).where(
        BallotVote.ballot_id == ballot.id, BallotVote.proxy_id.is_not(None))) if ballot.method == "owners" else 0
    return {"result": ballot.result, "label": RESULT_LABELS.get(ballot.result, ballot.result), "details": details,
            "by_proxy": by_proxy}


def clock_text(value, zone) -> str:
    """When a vote was cast: "14:02" today, the date and time otherwise (in the community's zone)."""
    if value is None:
        return ""
    local, today = in_zone(value, zone), in_zone(utcnow(), zone)
    if local.date() == today.date():
        return format_datetime(local.replace(tzinfo=None), "HH:mm", rebase=False)
    return datetime_local(value, zone)


def bar_width(part, whole) -> int:
    """A bar's width in 5 % steps (a class name, as the proposals' tally bar: no inline style)."""
    if not whole or not part:
        return 0
    return max(5, min(100, round(part * 20 / whole) * 5))


def _template_context(ballot=None):
    context = {"method_labels": METHOD_LABELS, "matter_labels": MATTER_LABELS, "state_labels": STATE_LABELS,
               "result_labels": RESULT_LABELS, "area_text": area_text, "percent": counting.percent,
               "bar_width": bar_width, "rule_lines": rule_lines, "option_label": option_label,
               "option_text": option_text, "tie_names": tie_names, "clock_text": clock_text,
               "co_owner_reading": co_owner_reading, "exclusions_text": exclusions_text,
               "notice_days": OWNERS_NOTICE_DAYS, "scope_label": scope_label}
    if ballot is not None:
        context.update(ballot=ballot, community=ballot.community, proposal=ballot.proposal,
                       zone=ballot.community.time_zone)
    return context


def _vote_context(ballot, *, errors=None, chosen=None, receipt=None, notice=None):
    """What the vote block needs: this person's votes (one per voter they may cast), their current choices
    and receipts, and how many have voted (a count, never by option). A refusal's message goes next to the
    vote it concerns, or above the forms when it concerns none of them."""
    scheduled = ballot.status == "scheduled"  # nothing frozen yet: no voters, no votes
    block = services.VoteBlock([], {}, {}, {}) if scheduled else services.vote_block(current_user, ballot)
    mine = block.mine
    voted, electorate = (0, 0) if scheduled else services.participation(ballot)
    known = {voter.id for voter, _vote in mine}
    by_voter, general, picked = {}, [], {}
    only = mine[0][0].id if len(mine) == 1 else None  # a message without a voter id is about the only vote
    for key, message in (errors or {}).items():
        key = only if key is None else key
        if key in known:
            by_voter[key] = message
        else:
            general.append(message)
    for key, option_id in (chosen or {}).items():
        picked[only if key is None else key] = option_id
    return {"my_votes": mine, "receipts": block.receipts, "held_proxies": block.held,
            "granted": block.granted, "vote_errors": by_voter, "block_errors": general,
            "chosen": picked, "new_receipt": receipt, "vote_notice": notice, "voted_count": voted,
            "electorate_count": electorate, "participation_shown": services.participation_shown(ballot)}


def _detail_page(ballot, **vote_state):
    viewer = current_user
    return render_template(
        "votes/detail.html", live_html=_live_html(ballot), result_html=_result_html(ballot),
        can_paper=permissions.can_enter_paper(viewer, ballot),
        can_print=permissions.can_print_ballot(viewer, ballot),
        can_proxy=permissions.can_record_proxy(viewer, ballot),
        can_extend=permissions.can_extend_ballot(viewer, ballot),
        can_close=permissions.can_close_ballot(viewer, ballot),
        can_outcome=permissions.can_record_outcome(viewer, ballot), share=_share(ballot), about=_about(ballot),
        **_vote_context(ballot, **vote_state), **_template_context(ballot))


# The ballot's columns that move with every cast (kept on the ballot under its row lock): what _about shows
# reads none of them, so a vote leaves it as it is. Every other column is part of its version.
_RUNNING = frozenset({"log_head", "log_length", "electorate_count", "electorate_area_cm", "voted_count",
                      "voted_area_cm"})
_ABOUT_VERSION = tuple(column.key for column in Ballot.__table__.columns if column.key not in _RUNNING)


class _About(NamedTuple):
    heading: Markup
    statements: Markup
    facts: Markup


def _about(ballot) -> _About:
    """What the page says of the ballot itself (votes/_about.html: its heading, statements, rule and times,
    links), the same for every viewer and rendered once per ballot and language. Kept under the community's
    version (the names of the organization, estate, buildings and community it shows; the excluded units,
    frozen at opening) and every column of the ballot but the running totals, since not every column it shows
    changes the version (an extension's reason, the close reason, the outcome statement)."""
    def render():
        parts = current_app.jinja_env.get_template("votes/_about.html").make_module(_template_context(ballot))
        return _About(Markup(parts.heading()), Markup(parts.statements()), Markup(parts.facts()))
    return versions.remember("ballot_about", ballot.community, render, ballot.id, str(get_locale()),
                             also=tuple(getattr(ballot, name) for name in _ABOUT_VERSION))


def _live_html(ballot):
    """An open ballot's live count and log head, rendered (votes/_live.html). What it shows depends on the
    ballot alone for everyone the page is served to (services.visible_tally, participation_shown), and every
    cast moves the log head with the totals: kept per head of the log and language."""
    if ballot.status != "open":
        return None

    def render():
        return Markup(render_template("votes/_live.html", tally=services.visible_tally(current_user, ballot),
                                      participation_shown=services.participation_shown(ballot),
                                      **_template_context(ballot)))
    return versions.remember("ballot_live", ballot.community, render, ballot.id, str(get_locale()),
                             also=(ballot.log_head, ballot.log_length, ballot.voted_count, ballot.voted_area_cm,
                                   ballot.electorate_count, ballot.results_hidden, ballot.secret))


def _result_html(ballot):
    """A closed ballot's result, rendered. The same for every viewer the page is served to (the figures stored
    at the close; whether they show depends on the ballot alone, services.results_visible), so kept under the
    community's version (the names of the places it decided for) per ballot, close and language."""
    if ballot.status != "closed" or not ballot.result:
        return None

    def render():
        result = result_of(ballot)
        if result is None:
            return None
        return Markup(render_template("votes/_result_block.html", result=result, **_template_context(ballot)))
    return versions.remember("ballot_result", ballot.community, render, ballot.id, ballot.closed_at, ballot.log_head,
                             ballot.result, str(get_locale()))


def _share(ballot):
    """The card says what the page says to anyone: the question, the method and the state, and the result
    only once the ballot has closed (a result hidden until the close is never there before it)."""
    community = ballot.community
    parts = [str(ballot.method_label), str(ballot.status_label)]
    if ballot.status == "closed" and ballot.result:
        parts.append(str(ballot.result_label))
    return share_card("ballot", ballot.id, public=permissions.can_share_card("ballot", ballot),
                      url=absolute_url("votes.detail", slug=community.slug, ballot_id=ballot.id),
                      title=ballot.question, description=" · ".join([*parts, community.name]),
                      community=community, image_parts=(ballot.question, community.name, ballot.status_label))


# --- lists -------------------------------------------------------------------------------------------------

@bp.get("/c/<slug>/ballots")
@public
def index(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    ballots = [b for b in services.community_ballots(community, current_user, limit=INDEX_SIZE)
               if permissions.can_view_ballot(current_user, b)]
    waiting = [b for b in services.needs_my_vote(current_user, limit=100) if b.community_id == community.id]
    return render_template("votes/index.html", community=community, ballots=ballots, waiting=waiting,
                           **_template_context())


@bp.app_template_global()
def proposal_ballots(proposal) -> list[Ballot]:
    """The ballots of a proposal for its page, newest first, their due steps applied (a ballot whose time
    has come opens or closes here too, committed as every page load that applies due steps does)."""
    ballots = services.ballots_for_proposal(proposal)
    if any([services.apply_due(b) for b in ballots]):  # noqa: C419  (a list: every ballot's steps must run)
        db.session.commit()
    return ballots


@bp.app_template_global()
def ballots_needing_my_vote() -> list:
    """Open ballots where the signed-in person still has a vote to cast (the home page's list)."""
    if not current_user.is_authenticated:
        return []
    return services.needs_my_vote(current_user, limit=10)


# --- opening a ballot --------------------------------------------------------------------------------------

def _committees_of(user, community):
    from portal.auth import roles
    return [o for o in roles.organizations(user) if o.community_id == community.id and o.is_committee]


def _ballot_fields(form, method, community, now) -> dict:
    """The service's keywords from the form; only the parsing is done here, every rule is the service's."""
    zone = community.time_zone
    fields = {"method": method, "question": (form.question.data or "").strip(),
              "closes_at": local_time(form.closes_at, zone, message=_("Say when voting closes."))}
    opens_at = local_time(form.opens_at, zone, required=method == "owners",
                           message=_("Say when voting opens: at least %(days)d days after the announcement.",
                                     days=OWNERS_NOTICE_DAYS))
    fields["opens_at"] = opens_at or now
    fields["results_hidden"] = bool(form.results_hidden.data)
    if method == "owners":
        fields["matter"] = _whole(form.matter.data)
        fields["notice"] = (form.notice.data or "").strip()
        fields.update(_scope_fields(form))
        return fields
    fields["secret"] = bool(form.secret.data)
    if method == "committee":
        organization_id = _whole(form.organization.data)
        fields["organization"] = next((o for o in _committees_of(current_user, community)
                                       if o.id == organization_id), None)
        if fields["organization"] is None:
            raise DomainError(_("Choose the committee that votes."), "organization")
        return fields
    fields["resident_unit"] = form.resident_unit.data or None
    fields["resident_rule"] = form.resident_rule.data or None
    if fields["resident_rule"] == "meeting":  # the rule fixes quorum and threshold; choices are refused
        if form.kind.data == "choices":
            fields["options"] = [line.strip() for line in (form.options.data or "").splitlines() if line.strip()]
        return fields
    fields["quorum_percent"] = _percent(form.quorum_percent)
    if form.kind.data == "choices":
        fields["options"] = [line.strip() for line in (form.options.data or "").splitlines() if line.strip()]
    else:
        fields["threshold"] = form.threshold.data or None
    return fields


def _scope_fields(form) -> dict:
    """The estate and the ticked buildings or entrances ("<building id>:<entrance>"); a value that is not one
    is kept as an unknown building (id 0), so the service names the list as wrong instead of ignoring it."""
    scope_kind = posted_text(form.scope.data or "")[:16] or "estate"
    buildings = [_whole(v) or 0 for v in request.form.getlist("scope_building")]
    entrances = []
    for value in request.form.getlist("scope_entrance"):
        building, _sep, entrance = posted_text(value).partition(":")
        entrances.append((_whole(building) or 0, entrance[:17]))
    estate = posted_text(form.estate.data or "").strip()
    return {"estate": (_whole(estate) or 0) if estate else None, "scope_kind": scope_kind, "scope_buildings": buildings,
            "scope_entrances": entrances}


def _ballot_defaults(form, method, proposal, now):
    zone = proposal.community.time_zone
    # Other methods open now when "voting opens" is left empty, so it is left empty: a prefilled time a few
    # minutes ahead would schedule the ballot instead of opening it.
    start = now.replace(second=0, microsecond=0)
    if method == "owners":
        start = (now + timedelta(days=OWNERS_NOTICE_DAYS + 1)).replace(minute=0, second=0, microsecond=0)
        form.opens_at.data = _local_text(start, zone)
    else:
        form.opens_at.data = ""
    form.question.data = proposal.title[:300]
    form.closes_at.data = _local_text(start + timedelta(days=7 if method != "owners" else 14), zone)
    form.resident_unit.data = "person"
    form.scope.data = "estate"
    form.resident_rule.data = "simple"
    form.kind.data = "yes_no"
    form.threshold.data = "simple"
    form.quorum_percent.data = "50"


def _remember_decision(proposal):
    """A ballot opened from a meeting's "open a ballot" decision (votes.new?decision=<id>) is linked to it:
    the id is kept in the session across the steps of this form."""
    from flask import session
    if request.values.get("decision"):
        session["ballot_decision"] = [proposal.id, request.values["decision"][:12]]


def _link_decision(proposal, ballot):
    from flask import session

    from portal.committees import meetings
    kept = session.pop("ballot_decision", None)
    if not kept or kept[0] != proposal.id:
        return
    decision = meetings.decision_for_ballot(current_user, kept[1], proposal)
    if decision is not None:
        meetings.link_ballot(decision, ballot)


@bp.route("/c/<slug>/proposals/<int:proposal_id>/ballots/new", methods=["GET", "POST"])
def new(slug, proposal_id):
    from portal.proposals import services as proposal_services
    community = community_or_404(slug)
    proposal = proposal_services.proposal_in(community, proposal_id) if 0 < proposal_id <= MAX_ID else None
    if proposal is None:
        abort(404)
    if proposal_services.apply_due(proposal):
        db.session.commit()
    allow(permissions.can_open_ballot(current_user, proposal))
    _remember_decision(proposal)
    method = request.values.get("method")
    if method not in METHODS:  # the first step: who votes decides which questions follow
        return render_template("votes/new.html", community=community, proposal=proposal, method=None,
                               method_form=MethodForm(request.args), form=None, **_template_context())
    form = BallotForm()
    committees = _committees_of(current_user, community)
    form.organization.choices = [SelectChoice(str(o.id), o.name) for o in committees]
    places = services.entrances_by_building(community) if method == "owners" else []
    form.estate.choices = [SelectChoice("", _("Choose the estate"))] + [
        SelectChoice(str(estate.id), estate.name) for estate, _buildings in places]
    now = utcnow()
    if request.method != "POST":
        _ballot_defaults(form, method, proposal, now)
        if committees:
            form.organization.data = str(committees[0].id)

    unresolved = unowned.unresolved_units(community, unowned.today_in(community)) if method == "owners" else []

    def open_ballot():
        ballot = services.open_ballot(current_user, proposal, **_ballot_fields(form, method, community, now))
        _link_decision(proposal, ballot)
        return ballot

    def opened(ballot):
        if ballot.status == "open":
            return _("Voting is open. Everyone who may vote is told.")
        if ballot.method == "owners" and ballot.scope in ("buildings", "entrances"):
            return _("The ballot is announced to the owners it concerns (%(scope)s); voting opens on %(when)s.",
                     scope=scope_label(ballot), when=datetime_local(ballot.opens_at, community.time_zone))
        if ballot.method == "owners":
            return _("The ballot is announced to every owner; voting opens on %(when)s.",
                     when=datetime_local(ballot.opens_at, community.time_zone))
        return _("The ballot is announced; voting opens on %(when)s.",
                 when=datetime_local(ballot.opens_at, community.time_zone))
    return form_view(form, open_ballot, validate=False, message=opened, done=_detail_url,
                     page="votes/new.html",
                     context={"community": community, "proposal": proposal, "method": method, "form": form,
                              "committees": committees, "zone": community.time_zone, "places": places,
                              "ticked_buildings": set(request.form.getlist("scope_building")),
                              "ticked_entrances": set(request.form.getlist("scope_entrance")),
                              "unresolved": unresolved,
                              "may_keep_roll": permissions.can_keep_owner_roll(current_user, community),
                              **_template_context()})


# --- one ballot --------------------------------------------------------------------------------------------

@bp.get("/c/<slug>/ballots/<int:ballot_id>")
@public
def detail(slug, ballot_id):
    return _detail_page(_load(slug, ballot_id))


@bp.post("/c/<slug>/ballots/<int:ballot_id>/vote")
def cast(slug, ballot_id):
    ballot = _load(slug, ballot_id)
    form = CastForm()
    voter_id = _whole(form.voter_id.data)
    option_id = _whole(form.option_id.data)
    if ballot.status == "closed":  # a page left open past the close: say so rather than a bare 403
        return _vote_refused(ballot, _("Voting has closed: your vote was not cast."), voter_id, option_id)
    allow(permissions.can_vote(current_user, ballot))

    def cast_vote():
        if option_id is None:
            raise DomainError(_("Choose one of the options."), "option_id")
        voter = _voter(ballot, voter_id)
        if voter_id is not None and voter is None:
            raise DomainError(_("That vote is not one you may cast. Reload the page and try again."), "voter_id")
        return services.cast(current_user, ballot, option_id, voter=voter)

    def counted(entry):
        if not request.htmx:
            return _detail_url(ballot, "#vote")
        # The block, and the live count and log head beside it (out of band).
        notice = _("Your vote is counted. Keep your receipt to check it later.")
        context = {**_vote_context(ballot, receipt=entry.receipt, notice=notice), **_template_context(ballot)}
        return make_response(render_template("votes/_vote.html", **context) + render_template(
            "votes/_live.html", oob=True, tally=services.visible_tally(current_user, ballot), **context))
    # Both fields are read as ids (_whole) and never stored: a NUL in them is "choose one of the options".
    return form_view(form, cast_vote, validate=False, guard_input=False, done=counted,
                     message=lambda entry: None if request.htmx else _(
                         "Your vote is counted. Keep your receipt to check it later: %(receipt)s",
                         receipt=entry.receipt),
                     refused=lambda error: _vote_refused(ballot, str(error.message), voter_id, option_id))


def _vote_refused(ballot, message, voter_id, option_id):
    """The vote block again with the message next to the vote it concerns and the choice kept: the block
    alone for htmx, the whole page otherwise. Nothing was written."""
    state = {"errors": {voter_id: message}, "chosen": {voter_id: option_id}}
    if request.htmx:
        return render_template("votes/_vote.html", **_vote_context(ballot, **state), **_template_context(ballot))
    return _detail_page(ballot, **state)


def _search_voters(ballot, words, also=None) -> list[BallotVoter]:
    """Voters of the ballot whose label holds the words (a name, or "5号楼 1-0301"), at most PAPER_MATCHES;
    the voter already picked stays listed so the choice is kept when the form comes back."""
    query = db.select(BallotVoter).where(BallotVoter.ballot_id == ballot.id)
    if words:
        query = query.where(BallotVoter.label.icontains(words, autoescape=True))
    found = list(db.session.scalars(query.order_by(BallotVoter.label, BallotVoter.id).limit(PAPER_MATCHES)))
    if also is not None and all(v.id != also.id for v in found):
        found.insert(0, also)
    return found


@bp.route("/c/<slug>/ballots/<int:ballot_id>/paper", methods=["GET", "POST"])
def paper(slug, ballot_id):
    ballot = _load(slug, ballot_id)
    allow(permissions.can_enter_paper(current_user, ballot))
    words = posted_text(request.values.get("q")).strip()[:100]
    form = PaperForm()
    picked = option_id = None
    if request.method == "POST":
        voter_id, option_id = _whole(form.voter_id.data), _whole(form.option_id.data)
        picked = _voter(ballot, voter_id)

    def enter():
        if picked is None:
            raise DomainError(_("Choose whose paper ballot it is."), "voter_id")
        if option_id is None:
            raise DomainError(_("Choose what the paper ballot says."), "option_id")
        upload = request.files.get(form.scan.name)
        scan = (upload.filename, upload.read()) if upload and upload.filename else None
        return services.enter_paper(current_user, ballot, picked, option_id, by_proxy=bool(form.by_proxy.data),
                                    scan=scan)

    def page():
        matches = _search_voters(ballot, words, also=picked)
        form.voter_id.choices = [SelectChoice(str(v.id), v.label) for v in matches]
        form.option_id.choices = [SelectChoice(str(o.id), option_text(o)) for o in ballot.options]
        return render_template("votes/paper.html", form=form, words=words, matches=matches,
                               accepted=scans.accepted_label(), **_template_context(ballot))
    return form_view(form, enter, validate=False, page=page,
                     message=lambda entry: _("The paper ballot of %(name)s is entered. Its receipt: %(receipt)s",
                                             name=picked.label, receipt=entry.receipt),
                     done=url_for("votes.paper", slug=slug, ballot_id=ballot.id))


def _committee_form(ballot, form, run, *, template, done, fallback, **extra):
    """Extend, close early, record the outcome: the form, its service call, and the form again with the
    message and the typing kept when the service says no."""
    return form_view(form, run, validate=False, field=fallback, message=done, done=_detail_url(ballot),
                     page=template, context={"form": form, **extra, **_template_context(ballot)})


@bp.route("/c/<slug>/ballots/<int:ballot_id>/extend", methods=["GET", "POST"])
def extend(slug, ballot_id):
    ballot = _load(slug, ballot_id)
    allow(permissions.can_extend_ballot(current_user, ballot))
    zone = ballot.community.time_zone
    form = ExtendForm()
    if request.method == "GET":
        form.closes_at.data = _local_text(ballot.closes_at + timedelta(days=7), zone)

    def run():
        services.extend(current_user, ballot, local_time(form.closes_at, zone, message=_("Say when voting closes.")),
                        (form.reason.data or "").strip())
    voted, electorate = services.participation(ballot)
    return _committee_form(ballot, form, run, template="votes/extend.html", fallback="reason",
                           done=_("Voting is extended. Everyone who may vote sees the new closing time."),
                           voted_count=voted, electorate_count=electorate,
                           participation_shown=services.participation_shown(ballot))


@bp.route("/c/<slug>/ballots/<int:ballot_id>/close", methods=["GET", "POST"])
def close(slug, ballot_id):
    ballot = _load(slug, ballot_id)
    allow(permissions.can_close_ballot(current_user, ballot))
    form = ReasonForm()
    return _committee_form(
        ballot, form, lambda: services.close(current_user, ballot, (form.reason.data or "").strip()),
        template="votes/close.html", fallback="reason", done=_("The ballot is closed and counted."))


@bp.route("/c/<slug>/ballots/<int:ballot_id>/outcome", methods=["GET", "POST"])
def outcome(slug, ballot_id):
    ballot = _load(slug, ballot_id)
    allow(permissions.can_record_outcome(current_user, ballot))
    form = OutcomeForm()
    if request.method == "GET" and ballot.outcome_statement:
        form.statement.data = ballot.outcome_statement
    return _committee_form(
        ballot, form, lambda: services.record_outcome(current_user, ballot, (form.statement.data or "").strip()),
        template="votes/outcome.html", fallback="statement", done=_("The outcome is recorded on the ballot."))


# --- the log and receipts ----------------------------------------------------------------------------------

@bp.get("/c/<slug>/ballots/<int:ballot_id>/log")
@public
def log(slug, ballot_id):
    ballot = _load(slug, ballot_id)
    entries = services.log_entries(current_user, ballot, _page_number()) if ballot.status == "closed" else None
    return render_template("votes/log.html", entries=entries, participation_shown=services.participation_shown(ballot),
                           scans=scans.scan_rows(current_user, ballot), **_template_context(ballot))


@bp.route("/c/<slug>/ballots/<int:ballot_id>/receipt", methods=["GET", "POST"])
@public
def receipt(slug, ballot_id):
    ballot = _load(slug, ballot_id)
    form = ReceiptForm()
    checked = None
    if request.method == "POST":
        text = (form.receipt.data or "")[:RECEIPT_MAX * 2]
        code = ballot_log.normalize_receipt(text)
        if not text.strip():
            form.receipt.errors = [_("Paste the receipt you were given when you voted.")]
        elif code is None:  # not the shape of a receipt: it cannot be one of this ballot's
            checked = ("unknown", None)
        else:
            checked = services.check_receipt(ballot, code)
    return render_template("votes/receipt.html", form=form, checked=checked, **_template_context(ballot))


# --- the owner roll before owners' ballots -----------------------------------------------------------------

@bp.get("/c/<slug>/owner-roll")
def owner_roll(slug):
    community = community_or_404(slug)
    allow(permissions.can_keep_owner_roll(current_user, community))
    today = unowned.today_in(community)
    return render_template("votes/owner_roll.html", community=community,
                           units=unowned.units_without_owner(community, today),
                           co_owned=unowned.co_owned_units(community, today),
                           shown_max=unowned.UNITS_SHOWN_MAX)


def _roll_unit(community, household_id):
    from portal.places.models import Building, Household
    row = db.session.execute(
        db.select(Household, Building).join(Building, Building.id == Household.building_id)
        .where(Household.id == household_id, Building.community_id == community.id)).first() \
        if 0 < household_id <= MAX_ID else None
    if row is None:
        abort(404)
    return row


@bp.route("/c/<slug>/owner-roll/units/<int:household_id>", methods=["GET", "POST"])
def resolve_unit(slug, household_id):
    community = community_or_404(slug)
    allow(permissions.can_keep_owner_roll(current_user, community))
    household, building = _roll_unit(community, household_id)
    standing = next(iter(unowned.units_without_owner(community, unowned.today_in(community),
                                                     household_id=household.id)), None)
    form = UnitResolutionForm()
    if request.method != "POST" and standing is not None:
        form.resolution.data = standing.resolution
        form.reason.data = standing.reason

    def run():
        return unowned.resolve_unit(current_user, community, household.id, resolution=form.resolution.data or "",
                                    reason=posted_text(form.reason.data))
    return form_view(form, run, validate=False, field="resolution",
                     message=_("Recorded. Owners' ballots opened from today count the unit this way."),
                     done=url_for("votes.owner_roll", slug=community.slug), page="votes/resolve_unit.html",
                     context={"community": community, "household": household, "building": building,
                              "standing": standing, "form": form})


@bp.route("/c/<slug>/owner-roll/co-owned/<int:household_id>", methods=["GET", "POST"])
def name_representative(slug, household_id):
    community = community_or_404(slug)
    allow(permissions.can_keep_owner_roll(current_user, community))
    household, building = _roll_unit(community, household_id)
    unit = next(iter(unowned.co_owned_units(community, unowned.today_in(community), household_id=household.id)),
                None)
    if unit is None:
        abort(404)
    form = RepresentativeForm()
    form.owner_id.choices = [SelectChoice("", _("None: any co-owner casts, the latest cast counts"))] + [
        SelectChoice(str(o.id), o.name) for o in unit.co_owners]
    if request.method != "POST":
        form.owner_id.data = str(unit.representative.id) if unit.representative else ""

    def run():
        chosen = posted_text(form.owner_id.data).strip()
        owner_id = None if not chosen else (_whole(chosen) or -1)  # -1: not one of the co-owners, refused
        return unowned.name_representative(current_user, community, household.id, owner_id)
    return form_view(form, run, validate=False, field="owner_id",
                     message=_("Recorded. Owners' ballots opened from now on follow it."),
                     done=url_for("votes.owner_roll", slug=community.slug), page="votes/representative.html",
                     context={"community": community, "unit": unit, "form": form})
