"""The authorization matrix (issue #18): every GET route of the URL map, requested by eight kinds of person in
one seeded world, answers what the permission rules (portal/auth/permissions.py) say; every route that
changes something refuses a request without a CSRF token and changes nothing.

ROUTES is the one table: for each GET endpoint, the rule the view is meant to apply — "public", "signed in", or
a function of (person, world) calling the same `permissions.can_…` the view calls — what a refusal looks like
for a signed-in person (403, or 404 for things that are not there for outsiders), and what an allowed request
answers. A route added later without an entry here fails test_every_get_route_is_in_the_matrix.

The world is the actions tests' world (tests/actions/conftest.py, itself the votes, proposals and issues
worlds) plus an open issue, a proposal in consultation with a comment, an open ballot, a decided ballot with its
notice, an action, a non-public meeting with a decision, an Open311 key. Each test builds it once and collects
every mismatch into one failure message."""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin

from portal.auth import permissions, roles
from portal.extensions import db
from portal.privacy import services as privacy_services
from tests.actions.conftest import world as actions_world  # noqa: F401
from tests.conftest import Auth
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes.conftest import world as votes_world  # noqa: F401

LOGIN = "login"  # a visitor who is not signed in is sent to the sign-in page (302 to /login)

# The nine kinds of person: (label, attribute of the world; None for a visitor).
ROLES = (
    ("anonymous", None),
    ("unverified", "pending"),          # signed in, a claim in x still pending
    ("verified resident", "resident_x"),
    ("resident of another community", "resident_y"),
    ("property staff", "property_x"),
    ("committee chair", "chair_x"),
    ("sub-district official", "official_a"),
    ("admin", "admin"),
    ("grid worker", "grid_worker_x"),
)

# Framework endpoints with no rule of ours: static files, and /metrics (its own token or loopback check,
# tests/test_metrics.py).
NOT_IN_MATRIX = {"static", "metrics"}

# Routes whose POST is exempt from CSRF on purpose: the Open311 API (a key, not a session, authenticates it)
# and the e-mail unsubscribe link (the signed token is the proof; RFC 8058 one-click posts carry no form token).
CSRF_EXEMPT_PREFIXES = ("open311.api.",)
CSRF_EXEMPT = {"notifications.unsubscribe"}


@dataclass
class Route:
    rule: object                       # "public", "signed in", or rule(person, world) -> bool
    values: Callable = None            # world -> URL values (default: by argument name, see _values)
    refused: int = 403                 # what a signed-in person the rule refuses gets
    anonymous_refused: object = LOGIN  # what a visitor the rule refuses gets
    ok: tuple = (200,)                 # what an allowed request answers
    query: str = ""
    xfail: str | None = None           # a known authorization bug (strict: flips to a failure once fixed)


def community_page(u, w):
    return permissions.can_view_community(u, w.x)


def register_rule(u, w):
    return permissions.can_edit_register(u, w.x)


def open_ballot(rule):
    return lambda u, w: rule(u, w.open_ballot)


def closed_ballot(rule):
    return lambda u, w: rule(u, w.closed_ballot)


ROUTES = {
    # home, accounts
    "home.index": Route("public"),
    "home.healthz": Route("public"),
    "home.set_language": Route("public", ok=(302,)),
    "home.set_text_size": Route("public", ok=(302,)),
    # the installable web app
    "webapp.manifest": Route("public"),
    "webapp.service_worker": Route("public"),
    "webapp.offline": Route("public"),
    "webapp.form_token": Route("signed in"),
    "auth.login": Route("public", ok=(200, 302)),        # a signed-in person is sent on
    "auth.register": Route("public", ok=(200, 302)),
    "auth.privacy": Route("public"),
    "auth.forgot_password": Route("public", ok=(200, 302)),
    "auth.reset_with_code": Route("public", ok=(200, 302)),
    "auth.reset_password": Route("public", ok=(200, 302, 400, 404), values=lambda w: {"token": "not-a-token"}),
    "auth.profile": Route("signed in"),
    "auth.change_password": Route("signed in"),
    "auth.issue_reset_code": Route(lambda u, w: permissions.can_issue_reset_code(u, w.resident_x),
                                   values=lambda w: {"user_id": w.resident_x.id}),
    "audit.index": Route(lambda u, w: permissions.can_read_audit_log(u)),
    # places
    "places.admin_index": Route(lambda u, w: permissions.can_manage_places(u)),
    "places.new_sub_district": Route(lambda u, w: permissions.can_manage_places(u)),
    "places.edit_sub_district": Route(lambda u, w: permissions.can_manage_places(u)),
    "places.new_community": Route(lambda u, w: permissions.can_manage_places(u)),
    "places.community": Route(community_page),
    "places.directory": Route("public"),
    "places.edit_community": Route(lambda u, w: permissions.can_edit_community(u, w.x)),
    "places.register": Route(lambda u, w: permissions.can_view_register(u, w.x)),
    "places.import_register": Route(lambda u, w: permissions.can_import_register(u, w.x)),
    "places.duplicates": Route(lambda u, w: permissions.can_decide_owner_duplicates(u, w.x)),
    "places.new_building": Route(register_rule),
    "places.edit_building": Route(register_rule),
    "places.estates": Route(lambda u, w: permissions.can_edit_estates(u, w.x)),
    "places.new_estate": Route(lambda u, w: permissions.can_edit_estates(u, w.x)),
    "places.edit_estate": Route(lambda u, w: permissions.can_edit_estates(u, w.x)),
    "places.household": Route(lambda u, w: permissions.can_view_register(u, w.x)),
    "places.new_household": Route(register_rule),
    "places.edit_household": Route(register_rule),
    "places.transfer": Route(register_rule),
    # residents
    "residents.claim": Route("signed in"),
    "residents.claim_units": Route("signed in", query="community=x"),
    "residents.mine": Route("signed in"),
    "residents.index": Route(lambda u, w: permissions.can_view_residents(u, w.x)),
    "residents.pending": Route(lambda u, w: permissions.can_verify_residents(u, w.x)),
    "residents.detail": Route(lambda u, w: permissions.can_view_residents(u, w.x),
                              values=lambda w: {"slug": "x", "user_id": w.resident_x.id}),
    "residents.register_on_behalf": Route(lambda u, w: permissions.can_register_on_behalf(u, w.x)),
    # organizations and meetings (w.meeting is not public: outsiders get 403 on its page, 404 on its prints)
    "committees.admin_organizations": Route(lambda u, w: permissions.can_manage_organizations(u)),
    "committees.organization": Route(community_page),
    "committees.manage": Route(lambda u, w: permissions.can_manage_members(u, w.rc_x)),
    "committees.meeting": Route(lambda u, w: permissions.can_view_meeting(u, w.meeting)),
    "committees.agenda_search": Route(lambda u, w: permissions.can_view_meeting(u, w.meeting)
                                      and permissions.can_manage_meeting(u, w.meeting)),
    "committees.schedule_meeting": Route(lambda u, w: permissions.can_schedule_meeting(u, w.rc_x)),
    "printing.agenda": Route(lambda u, w: permissions.can_view_meeting(u, w.meeting), refused=404,
                             anonymous_refused=404),
    "printing.agenda_qr": Route(lambda u, w: permissions.can_view_meeting(u, w.meeting), refused=404,
                                anonymous_refused=404),
    "printing.decision": Route(lambda u, w: permissions.can_view_meeting(u, w.meeting), refused=404,
                               anonymous_refused=404),
    "printing.decision_qr": Route(lambda u, w: permissions.can_view_meeting(u, w.meeting), refused=404,
                                  anonymous_refused=404),
    "calendar.page": Route(community_page),
    "calendar.feed": Route(community_page),
    # issues
    "issues.index": Route(community_page),
    "issues.responsibilities": Route(community_page),
    "issues.detail": Route(lambda u, w: permissions.can_view_issue(u, w.issue)),
    "issues.new": Route(lambda u, w: permissions.can_report_issue(u, w.x)),
    "issues.similar": Route(lambda u, w: u.is_authenticated and community_page(u, w), query="title=lift"),
    "issues.suggest_category": Route(lambda u, w: permissions.can_report_issue(u, w.x), query="title=lift"),
    "issues.categories": Route(lambda u, w: permissions.can_manage_issue_categories(u, w.x)),
    "issues.mine": Route("signed in"),
    "issues.queue": Route("signed in"),
    # no photo with this key: not there for anyone
    "issues.caller": Route(lambda u, w: permissions.can_see_caller_phone(u, w.hotline),
                           values=lambda w: {"slug": w.x.slug, "issue_id": w.hotline.id}),
    "issues.photo": Route("public", ok=(404,), values=lambda w: {"key": "0" * 32, "size": 640}),
    # proposals
    "proposals.index": Route(community_page),
    "proposals.feed": Route(community_page),
    "proposals.detail": Route(lambda u, w: permissions.can_view_proposal(u, w.proposal)),
    "proposals.history": Route(lambda u, w: permissions.can_view_proposal(u, w.proposal)),
    "proposals.replies": Route(lambda u, w: permissions.can_view_proposal(u, w.proposal)),
    "proposals.new": Route(lambda u, w: permissions.can_create_proposal(u, w.x)),
    "proposals.edit": Route(lambda u, w: permissions.can_edit_proposal(u, w.proposal)),
    "proposals.withdraw": Route(lambda u, w: permissions.can_withdraw_proposal(u, w.proposal)),
    "proposals.deliberate": Route(lambda u, w: permissions.can_move_to_deliberation(u, w.collecting),
                                  values=lambda w: {"slug": "x", "proposal_id": w.collecting.id}),
    "proposals.close_deliberation": Route(lambda u, w: permissions.can_close_deliberation(u, w.proposal)),
    "proposals.summary": Route(lambda u, w: permissions.can_write_summary(u, w.proposal)),
    "proposals.settings": Route(lambda u, w: permissions.can_manage_proposal_settings(u, w.x)),
    "proposals.reply": Route(lambda u, w: permissions.can_comment(u, w.proposal)),
    "proposals.edit_comment": Route(lambda u, w: permissions.can_edit_comment(u, w.comment)),
    "proposals.comment_history": Route(lambda u, w: permissions.can_moderate(u, w.x)),
    # the proposal is checked first, then the file (there is none with this key)
    "proposals.attachment": Route(lambda u, w: permissions.can_view_proposal(u, w.proposal), ok=(404,),
                                  values=lambda w: {"slug": "x", "proposal_id": w.proposal.id, "key": "0" * 32,
                                                    "size": 640}),
    # moderation
    "moderation.index": Route(lambda u, w: permissions.can_view_moderation_queue(u)),
    "moderation.hidden": Route(lambda u, w: permissions.can_view_moderation_queue(u)),
    "moderation.flag": Route(lambda u, w: permissions.can_flag(u, w.x)),
    "moderation.hide": Route(lambda u, w: permissions.can_moderate(u, w.x)),
    # votes
    "votes.index": Route(community_page),
    "votes.detail": Route(open_ballot(permissions.can_view_ballot)),
    "votes.log": Route(closed_ballot(permissions.can_view_ballot),
                       values=lambda w: {"slug": "x", "ballot_id": w.closed_ballot.id}),
    "votes.receipt": Route(open_ballot(permissions.can_view_ballot)),
    "votes.new": Route(lambda u, w: permissions.can_open_ballot(u, w.proposal)),
    "votes.paper": Route(open_ballot(permissions.can_enter_paper)),
    "votes.extend": Route(open_ballot(permissions.can_extend_ballot)),
    "votes.close": Route(open_ballot(permissions.can_close_ballot)),
    "votes.outcome": Route(closed_ballot(permissions.can_record_outcome),
                           values=lambda w: {"slug": "x", "ballot_id": w.closed_ballot.id}),
    "votes.owner_roll": Route(lambda u, w: permissions.can_keep_owner_roll(u, w.x)),
    "votes.resolve_unit": Route(lambda u, w: permissions.can_keep_owner_roll(u, w.x),
                                values=lambda w: {"slug": "x", "household_id": w.empty_unit.id}),
    "votes.name_representative": Route(lambda u, w: permissions.can_keep_owner_roll(u, w.x),
                                       values=lambda w: {"slug": "x", "household_id": w.co_unit.id}),
    # paper ballots and proxies (owners' ballots only: on w.open_ballot, a committee vote, nobody prints)
    "votes.print_announcement": Route(open_ballot(permissions.can_print_ballot)),
    "votes.print_forms": Route(open_ballot(permissions.can_print_ballot)),
    "votes.print_form": Route(open_ballot(permissions.can_print_ballot), values=lambda w: {
        "slug": "x", "ballot_id": w.open_ballot.id, "voter_id": _first_voter(w.open_ballot)}),
    "votes.print_tally": Route(open_ballot(permissions.can_print_ballot)),
    "votes.proxies": Route(open_ballot(permissions.can_record_proxy)),
    # A form's QR code: the committee's entering page, everyone else sent on to their vote or the receipt check.
    "votes.paper_form": Route(lambda u, w: u.is_authenticated and permissions.can_view_ballot(u, w.open_ballot),
                              ok=(200, 302), values=lambda w: _paper_form_values(w)),
    "votes.scan": Route(open_ballot(permissions.can_view_ballot_scan), ok=(404,)),  # no scan has this key
    # notices
    "notices.index": Route(community_page),
    "notices.detail": Route(lambda u, w: permissions.can_view_proposal(u, w.notice.proposal)),
    # sharing: the short link redirects whoever asks (the page then applies its own rule); the preview
    # image exists only for what a card may name (what an anonymous visitor may read), whoever asks
    "share.short": Route("public", ok=(302,), values=lambda w: {"code": _short_code(w)}),
    "share.qr": Route("public", values=lambda w: {"code": _short_code(w)}),
    "share.preview": Route(lambda u, w: permissions.can_share_card("proposal", w.proposal), refused=404,
                           anonymous_refused=404, values=lambda w: {"kind": "proposal", "target_id": w.proposal.id}),
    "printing.notice": Route(lambda u, w: permissions.can_view_proposal(u, w.notice.proposal)),
    "printing.notice_qr": Route(lambda u, w: permissions.can_view_proposal(u, w.notice.proposal)),
    # actions
    "actions.index": Route(community_page),
    "actions.detail": Route(community_page),
    "actions.new": Route(lambda u, w: permissions.can_create_action(u, w.x, w.passed),
                         query="source=proposal&id={passed}"),
    "actions.evidence": Route("public", ok=(404,), values=lambda w: {"key": "0" * 32, "size": 640}),
    # dashboard
    "dashboard.index": Route(lambda u, w: permissions.can_view_dashboard(u)),
    "dashboard.issues": Route(lambda u, w: permissions.can_view_dashboard(u)),
    "dashboard.export": Route(lambda u, w: permissions.can_export_personal_data(u), query="format=csv&personal=1"),
    "dashboard.funds_dashboard": Route(lambda u, w: permissions.can_view_dashboard(u, community=w.x)),
    "dashboard.fund_export": Route(lambda u, w: permissions.can_view_fund(u, w.fund),
                                   values=lambda w: {"fund_id": w.fund.id, "month": "2026-01", "fmt": "csv"}),
    # funds: the page, its statement and export are as public as the community; receipts for its people
    "funds.index": Route(community_page),
    "funds.create": Route(lambda u, w: permissions.can_create_fund(u, w.x)),
    "funds.detail": Route(lambda u, w: permissions.can_view_fund(u, w.fund)),
    "funds.statement": Route(lambda u, w: permissions.can_view_fund(u, w.fund)),
    "funds.record": Route(lambda u, w: permissions.can_keep_fund_ledger(u, w.fund)),
    # budget rounds: the round page is as public as its fund; its managing organization opens rounds
    "funds.round_create": Route(lambda u, w: permissions.can_manage_budget_round(u, w.fund)),
    "funds.round_detail": Route(lambda u, w: permissions.can_view_budget_round(u, w.budget_round)),
    "funds.receipt": Route(lambda u, w: permissions.can_see_fund_receipts(u, w.fund),
                           values=lambda w: {"key": w.fund_receipt.receipt_key, "size": 400}),
    # a budget round's ballot page and receipt check: as public as the fund (casting is a POST)
    "funds.ballot": Route(lambda u, w: permissions.can_view_budget_round(u, w.voting_round),
                          values=lambda w: voting_round_values(w)),
    "funds.ballot_receipt": Route(lambda u, w: permissions.can_view_budget_round(u, w.voting_round),
                                  values=lambda w: voting_round_values(w)),
    "dashboard.hotspot_action": Route(lambda u, w: permissions.can_create_action(u, w.x, {"hotspot": True}),
                                      query="community=x&building={bx}&category={lift}&month={month}"),
    # insight: forecasts, expected rises, patrols
    "insight.sub_district": Route(lambda u, w: permissions.can_view_forecasts(u, sub_district=w.sd_a)),
    "insight.community": Route(lambda u, w: permissions.can_view_forecasts(u, community=w.x)),
    "insight.patrol": Route(lambda u, w: permissions.can_view_patrol_log(u, w.x)),
    "insight.rankings": Route(lambda u, w: permissions.can_view_rankings(u, w.sd_a)),
    "insight.statistics": Route(lambda u, w: permissions.can_view_public_statistics(u, w.x)),
    "insight.mine": Route(lambda u, w: bool(roles.official_sub_district_ids(u) or roles.committee_community_ids(u)),
                          ok=(302,)),
    "insight.topics_page": Route(lambda u, w: permissions.can_view_topics(u, w.sd_a),
                                 values=lambda w: {"sub_district_id": w.sd_a.id}),
    "insight.programme_list": Route(lambda u, w: permissions.can_view_topics(u, w.sd_a),
                                    values=lambda w: {"sub_district_id": w.sd_a.id}),
    "insight.new_programme": Route(lambda u, w: permissions.can_manage_programmes(u, w.sd_a),
                                   values=lambda w: {"sub_district_id": w.sd_a.id}),
    "insight.programme": Route(lambda u, w: permissions.can_view_programme(u, w.programme),
                               values=lambda w: {"programme_id": w.programme.id}),
    # notifications
    "notifications.index": Route("signed in"),
    "notifications.preferences": Route("signed in"),
    "notifications.unread_count": Route("public", ok=(200, 286)),
    # someone else's notification is not there
    "notifications.open": Route(lambda u, w: u.is_authenticated and u.id == w.notification.recipient_id,
                                refused=404, ok=(302, 410)),
    "notifications.unsubscribe": Route("public", values=lambda w: {"token": "not-a-token"}, ok=(200, 400)),
    # text messages: sign-in by SMS code (a signed-in person is sent on), settings, the administrator's counts
    "sms.sign_in_request": Route("public", ok=(200, 302)),
    "sms.sign_in_code": Route("public", ok=(200, 302)),
    "sms.settings": Route("signed in"),
    "sms.usage": Route(lambda u, w: permissions.can_view_sms_usage(u)),
    # personal information (a ready copy is its owner's alone: any other id is not there)
    "privacy.mine": Route("signed in"),
    "privacy.accept_notice": Route("signed in"),
    "privacy.download_export": Route("signed in", ok=(404,), values=lambda w: {"export_id": 2**31 - 1}),
    "privacy.delete_at_counter": Route(lambda u, w: privacy_services.can_delete_at_counter(u, w.resident_x),
                                       values=lambda w: {"user_id": w.resident_x.id}),
    # Open311: the documentation and the API are public; keys are for admins
    "open311.docs": Route("public"),
    "open311.keys": Route(lambda u, w: permissions.is_admin(u)),
    "open311.edit_key": Route(lambda u, w: permissions.is_admin(u)),
    "open311.webhook": Route(lambda u, w: permissions.is_admin(u)),
    "open311.api.discovery": Route("public", values=lambda w: {"fmt": "json"}),
    "open311.api.service_list": Route("public", values=lambda w: {"fmt": "json"}, ok=(200, 400)),
    "open311.api.service_definition": Route("public", values=lambda w: {"service_code": "lift", "fmt": "json"},
                                            ok=(200, 400, 404)),
    "open311.api.request_list": Route("public", values=lambda w: {"fmt": "json"}, ok=(200, 400)),
    "open311.api.request_detail": Route("public", values=lambda w: {"request_id": str(w.issue.id), "fmt": "json"},
                                        ok=(200, 400, 404)),
    "open311.api.unknown": Route("public", values=lambda w: {"rest": "nothing"}, ok=(404,)),
}


def _first_voter(ballot) -> int:
    from portal.votes.models import BallotVoter
    return db.session.scalar(db.select(BallotVoter.id).where(BallotVoter.ballot_id == ballot.id)
                             .order_by(BallotVoter.id).limit(1))


def _paper_form_values(w) -> dict:
    from portal.votes import services
    voter_id = _first_voter(w.open_ballot)
    return {"slug": "x", "ballot_id": w.open_ballot.id, "voter_id": voter_id,
            "token": services.form_token(w.open_ballot, voter_id)}


def _short_code(w) -> str:
    from portal.sharing import short_link_for
    code = short_link_for("proposal", w.proposal.id).code
    db.session.commit()
    return code


def _ids(w) -> dict:
    """URL values by argument name, from the world: what most routes take."""
    from tests.actions import local_today
    return {
        "slug": w.x.slug, "sub_district_id": w.sd_a.id, "building_id": w.bx.id, "household_id": w.hx.id,
        "estate_id": w.bx.estate_id,
        "user_id": w.resident_x.id, "org_id": w.rc_x.id, "meeting_id": w.meeting.id, "decision_id": w.decision.id,
        "issue_id": w.issue.id, "proposal_id": w.proposal.id, "comment_id": w.comment.id,
        "ballot_id": w.open_ballot.id, "notice_id": w.notice.id, "action_id": w.action.id, "key_id": w.key.id,
        "notification_id": w.notification.id, "item_type": "proposal", "item_id": w.proposal.id,
        "passed": w.passed.id, "bx": w.bx.id, "lift": w.categories["lift"].id,
        "month": local_today(w.x).strftime("%Y-%m"),
        # for POST routes only (the CSRF check comes before the view looks anything up)
        "residency_id": 1, "objection_id": 1, "membership_id": 1, "token": "t", "key": "k", "photo_id": 1,
        "voter_id": 1, "proxy_id": 1, "summons_id": 1, "subscription_id": 1,
        "size": 640, "fmt": "json", "request_id": "1", "service_code": "lift", "rest": "x",
        "first_id": 1, "second_id": 2, "forecast_id": 1, "fund_id": w.fund.id,
        "programme_id": w.programme.id, "round_id": w.budget_round.id, "project_id": 1,
    }


def _programme(w):
    """A programme (专项) of sub-district A covering x."""
    from portal.insight.programmes import open_programme
    return open_programme(w.official_a, w.sd_a, name="Fewer wires", communities=[w.x], words="飞线充电")


def _fund(w):
    """x's public-welfare fund, kept by its residents' committee, with a spending and its receipt."""
    from portal.funds import services as funds
    from tests.funds import png_bytes
    fund = funds.create_fund(w.chair_x, kind="public_welfare", name="社区公益金", community=w.x, managing_org=w.rc_x)
    funds.record_income(w.chair_x, fund, 100_000, source="街道拨款")
    allocation = funds.allocate(w.chair_x, fund, 50_000, action=w.action).allocation
    spent = funds.record_spending(w.chair_x, fund, allocation, 1000, payee="王小明", payee_kind="person",
                                  receipt=funds.Receipt(png_bytes(), "receipt.png"))
    return fund, spent


def voting_round_values(w) -> dict:
    """URL values of a budget round on x's fund in its voting phase, with one accepted project (made once)."""
    if getattr(w, "voting_round", None) is None:
        from portal.clock import utcnow
        from portal.funds.rounds_models import BudgetProject, BudgetRound
        from portal.proposals.models import Proposal
        now, day = utcnow(), timedelta(days=1)
        w.voting_round = BudgetRound(fund_id=w.fund.id, title="微实事", total_fen=50_000, ballot_kind="knapsack",
                                     voter_unit="resident", tie_rule="lower_cost", proposing_from=now - 30 * day,
                                     review_from=now - 10 * day, voting_from=now - day, voting_until=now + 7 * day,
                                     results_from=now + 8 * day, created_by_id=w.chair_x.id)
        proposal = Proposal(community_id=w.x.id, author_id=w.resident_x.id, title="长椅", status="deliberation",
                            kind="project", published_at=now - 20 * day)
        db.session.add_all([w.voting_round, proposal])
        db.session.flush()
        db.session.add(BudgetProject(round_id=w.voting_round.id, proposal_id=proposal.id, estimated_cost_fen=20_000,
                                     reviewed_cost_fen=20_000, review_state="accepted"))
        db.session.commit()
    return {"round_id": w.voting_round.id}


@pytest.fixture
def world(actions_world):
    """The actions world plus what every route needs (see the module docstring)."""
    from portal.clock import utcnow
    from portal.notices.models import Notice
    from portal.open311 import services as open311
    from portal.outbox import Notification
    from tests.actions import gen_action
    from tests.issues import gen_issue
    from tests.notices import decide
    from tests.proposals import gen_comment, gen_in_deliberation, gen_proposal
    from tests.votes import gen_ballot
    w = actions_world
    w.resident_x = w.supporters[-1]
    w.issue = gen_issue(w, title="Door of building 3 broken")
    from portal.issues import services as issues
    w.hotline = issues.report_from_hotline(w.x, category=w.categories["lift"], title="电梯停运", description="",
                                           reporter_name="王先生", reporter_phone="13512345678")
    w.proposal = gen_in_deliberation(w, title="Benches in the garden")
    w.comment = gen_comment(w, w.proposal, author=w.resident_x)
    w.collecting = gen_proposal(w, title="Bicycle shed")
    w.open_ballot = gen_ballot(w, "committee")
    w.closed_ballot = decide(w, now=utcnow() - timedelta(minutes=1))
    w.notice = db.session.scalar(db.select(Notice).where(Notice.proposal_id == w.closed_ballot.proposal_id))
    w.action = gen_action(w)
    from tests.insight.conftest import add_grid
    w.grid_worker_x = add_grid(w).grid_worker
    w.fund, w.fund_receipt = _fund(w)
    w.programme = _programme(w)
    from portal.clock import local_today
    from portal.funds import rounds
    w.budget_round = rounds.create_round(
        w.chair_x, w.fund, title="微实事 2027", total="100", ballot_kind="knapsack", tie_rule="lower_cost",
        dates={k: local_today(w.x.time_zone) + timedelta(days=n * 10) for n, k in enumerate(
            ("proposing_from", "review_from", "voting_from", "voting_until", "results_from"))})
    w.meeting.is_public = False
    w.key, _token = open311.create_key(w.admin, name="City hotline", communities=[w.x])
    db.session.flush()
    w.notification = db.session.scalar(db.select(Notification).where(
        Notification.recipient_id == w.chair_x.id).order_by(Notification.id).limit(1))
    assert w.notification is not None, "the world has no notification for the committee chair"
    db.session.commit()
    return w


def _methods(rule) -> set:
    return set(rule.methods) - {"HEAD", "OPTIONS"}


def _url(app, endpoint, route, w, rule):
    ids = _ids(w)
    values = route.values(w) if route.values else {name: ids[name] for name in rule.arguments}
    with app.test_request_context():
        from flask import url_for
        url = url_for(endpoint, **values)
    return url + ("?" + route.query.format(**ids) if route.query else "")


def _expected(route, user, w):
    """(what the rule says, the answers that match it)."""
    signed_in = user.is_authenticated
    if route.rule == "public":
        allowed = True
    elif route.rule == "signed in":
        allowed = signed_in
    else:
        allowed = bool(route.rule(user, w))
    if allowed:
        return "allowed", route.ok
    refusal = route.refused if signed_in else route.anonymous_refused
    return "refused", (refusal,)


def _answer(response):
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return LOGIN
    return response.status_code


def _clients(app, w):
    clients = {}
    for label, attribute in ROLES:
        client = app.test_client()
        if attribute is not None:
            response = Auth(client).login(getattr(w, attribute))
            assert response.status_code == 302, f"{label} could not sign in"
        clients[label] = (client, getattr(w, attribute) if attribute else AnonymousUserMixin())
    return clients


def _get_rules(app):
    return [r for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint not in NOT_IN_MATRIX]


def test_every_get_route_is_in_the_matrix(app):
    missing = sorted({r.endpoint for r in _get_rules(app)} - set(ROUTES))
    assert not missing, ("GET routes without an entry in ROUTES (tests/auth/test_authorization_matrix.py): add "
                         "each with the permission rule its view applies: " + ", ".join(missing))
    stale = sorted(set(ROUTES) - {r.endpoint for r in _get_rules(app)})
    assert not stale, "entries in ROUTES for endpoints that no longer exist: " + ", ".join(stale)


# Community x as it is, then "members only" (its pages closed to outsiders), seen by the people on either side
# of that line.
MEMBERS_ONLY_ROLES = ("anonymous", "verified resident", "resident of another community")


@pytest.mark.parametrize("members_only", [False, True], ids=["open community", "members-only community"])
def test_every_get_route_answers_what_its_rule_says(app, world, members_only):
    if members_only:
        world.x.members_only = True
        db.session.commit()
    clients = _clients(app, world)
    if members_only:
        clients = {label: found for label, found in clients.items() if label in MEMBERS_ONLY_ROLES}
    mismatches = []
    for rule in sorted(_get_rules(app), key=lambda r: r.rule):
        route = ROUTES[rule.endpoint]
        url = _url(app, rule.endpoint, route, world, rule)
        for label, (client, user) in clients.items():
            response = client.get(url)
            db.session.expire_all()  # the request may have applied due steps: the rule reads what it sees now
            says, matching = _expected(route, user, world)
            got = _answer(response)
            if got not in matching:
                mismatches.append(f"GET {url} ({rule.endpoint}) as {label}: {got}, the rule says {says} "
                                  f"({' or '.join(map(str, matching))})"
                                  + (f" [known: {route.xfail}]" if route.xfail else ""))
    known = [m for m in mismatches if "[known:" in m]
    unknown = [m for m in mismatches if "[known:" not in m]
    assert not unknown, f"{len(unknown)} answers differ from the rules:\n" + "\n".join(unknown)
    stale_known = sorted(e for e, r in ROUTES.items() if r.xfail and not any(f"({e})" in m for m in known))
    assert not stale_known, "known authorization bugs now fixed: remove their xfail: " + ", ".join(stale_known)
    if known:
        pytest.xfail(f"{len(known)} known authorization bugs:\n" + "\n".join(known))


def _row_counts():
    return {table.name: db.session.execute(db.select(db.func.count()).select_from(table)).scalar_one()
            for table in db.metadata.sorted_tables}


def test_every_post_route_refuses_a_request_without_csrf_token(app, world):
    client, _ = _clients(app, world)["admin"]
    ids = _ids(world)
    before = _row_counts()
    wrong = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.startswith(CSRF_EXEMPT_PREFIXES) or rule.endpoint in CSRF_EXEMPT:
            continue
        for method in sorted(_methods(rule) - {"GET"}):
            with app.test_request_context():
                from flask import url_for
                url = url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})
            response = client.open(url, method=method, data={"x": "1"})
            if response.status_code != 400:
                wrong.append(f"{method} {url} ({rule.endpoint}) as admin without a CSRF token: "
                             f"{response.status_code}, expected 400")
    db.session.expire_all()
    after = _row_counts()
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    assert not wrong, "\n".join(wrong)
    assert not changed, f"requests without a CSRF token changed rows (before, after): {changed}"
    # still signed in: the refused logout did not sign the admin out
    assert client.get("/account").status_code == 200


def test_open311_api_and_unsubscribe_are_the_only_csrf_exemptions(app):
    """A new exemption must be a decision: listed here, with its reason in CSRF_EXEMPT's comment."""
    from portal.extensions import csrf
    exempt_views = set(csrf._exempt_views)
    exempt_blueprints = {getattr(b, "name", b) for b in csrf._exempt_blueprints}
    assert exempt_blueprints == {"api"}  # portal.open311's nested blueprint, endpoints open311.api.*
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("open311.api.")}
    exempt_endpoints = {e for e, view in app.view_functions.items()
                        if f"{view.__module__}.{view.__name__}" in exempt_views}
    assert exempt_endpoints == CSRF_EXEMPT
