"""Odd input never gives a 500 (issue #18), generated over every form of the portal. Every POST route of the URL
map is posted, by a person allowed to use it, a NUL character in each value its view reads and
99999999999999999999999 in each number or choice field of the forms it builds; every GET page that builds a
form from its query (a list's filters) is asked the same. Every answer is a form error (the form again with
200 or a 4xx, a 404 for an id that names nothing, a button's redirect back), never a 5xx, and nothing is
written.

Nothing here is written down per form: the test records, while a view runs, the FlaskForm subclasses it
builds and the posted names it reads (a recording request.form). What is written down is who may try
(PEOPLE, in order) and the world's ids. A form class of the portal that no route builds, or a POST route no one
in PEOPLE gets through to, fails the suite: a new form is covered as soon as a route uses it.

A button that reads nothing posted (support, delete, revoke) may write with a NUL beside it: the NUL never
reaches anything. A view that reads the whole form (form_view's guard does) must refuse it.

PostgreSQL refuses a NUL in text (SQLite keeps it) and a number beyond 32 bits even in a lookup: the suite
runs on both."""
import importlib
import pkgutil
import sys
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps

import pytest
from flask import request, url_for
from flask_wtf import FlaskForm
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import IntegerField, RadioField, SelectFieldBase

import portal
from portal.extensions import db
from tests.actions.conftest import world as actions_world  # noqa: F401
from tests.auth.test_authorization_matrix import ROUTES, _ids, voting_round_values
from tests.auth.test_authorization_matrix import world as matrix_world  # noqa: F401
from tests.conftest import Auth
from tests.csrf import TOKEN
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes.conftest import world as votes_world  # noqa: F401

NUL = "名\x00字"
HUGE = "99999999999999999999999"
PROBE = "zz-probe"  # a posted name no form has
WHOLE = "*"         # the view read every posted value (form_view's guard does)
NOT_FIELDS = {"csrf_token", PROBE}
VISITOR = "visitor"  # not signed in

# Routes with no form of ours: the Open311 API (its own parameters, tests/open311) and its fallback for
# unknown paths; signing out and acting for a resident, which read nothing posted (and would end the test's
# session, or make its person someone else's stand-in for the routes after).
NOT_FORMS = {"open311.api.create_request", "open311.api.unknown", "auth.logout", "residents.act_for"}

# Who may try a route, in this order: the first the view lets through to its form (not a 403 or a 404 for the
# page) is the one whose form is fuzzed. World attributes (tests/auth/test_authorization_matrix.py's world).
PEOPLE = ("admin", "chair_x", "hoa_chair", "official_a", "property_x", "resident_x", "reporter", "owner_a",
          "neighbour", "pending", "grid_worker_x", VISITOR)



def _own_residency(w, ids):
    return {"residency_id": ids["own_residency_id"]}, {}


def _done_action(w, ids):
    from portal.clock import utcnow
    from tests.actions import gen_action
    action = gen_action(w, title="修补2号楼屋顶")
    action.status, action.done_at = "done", utcnow()
    return {"action_id": action.id}, {}


def _handed_over(w, ids):
    from tests.issues import gen_issue
    issue = gen_issue(w, title="Gate of the garden stuck")
    issue.handover_org_id = w.pc_x.id
    return {"issue_id": issue.id}, {}


def _fresh_comment(w, ids):
    from tests.proposals import gen_comment
    return {"comment_id": gen_comment(w, w.proposal, author=w.resident_x, body="再补充一点。").id}, {}


def _draft(w, ids):
    from tests.proposals import gen_proposal
    return {"proposal_id": gen_proposal(w, author=w.resident_x, publish=False, title="Book corner").id}, {}


def _agenda_item(w, ids):
    from portal.committees.models import AgendaItem
    item = AgendaItem(meeting_id=w.meeting.id, position=90, title="其他事项")
    db.session.add(item)
    db.session.flush()
    return {"item_id": item.id}, {}


def _expected_rise(w, ids):
    from portal.insight import services as insight
    from portal.insight.models import Forecast
    forecast = Forecast(community_id=w.x.id, category_id=ids["lift"], month=insight.current_month(w.x),
                        expected=12, last_month=4, recent=4, method="glm", season_pct=150, trend_pct=5, rise=True)
    db.session.add(forecast)
    db.session.flush()
    return {"forecast_id": forecast.id}, {}


def _hotspot(w, ids):
    return {}, {"community": w.x.slug, "building": ids["bx"], "category": ids["lift"], "month": ids["month"]}


def _issue_photo(w, ids):
    import secrets

    from portal.issues.models import IssuePhoto
    from tests.issues import gen_issue
    issue = gen_issue(w, title="Bikes in the stairwell")
    photo = IssuePhoto(issue_id=issue.id, key=secrets.token_urlsafe(16), width=64, height=48)
    db.session.add(photo)
    db.session.flush()
    return {"photo_id": photo.id}, {}


def _owners_ballot(w, ids):
    from tests.votes import gen_ballot
    return {"ballot_id": gen_ballot(w, "owners").id}, {}


def _proxy(w, ids):
    from datetime import date

    from portal.votes import services
    from tests.votes import gen_ballot
    ballot = gen_ballot(w, "owners")
    [(voter, _vote)] = services.my_votes(w.owner_a, ballot)
    proxy = services.record_proxy(w.hoa_chair, ballot, voter, proxy_name="王建国之女", signed_on=date(2026, 1, 5))
    return {"ballot_id": ballot.id, "proxy_id": proxy.id}, {}


def _reset_link(w, ids):
    from portal.auth import services as auth
    from portal.outbox import Notification
    from tests.factories import gen_user
    email = f"forgot{db.session.scalar(db.select(db.func.count(Notification.id)))}@example.org"
    person = gen_user(email=email, display_name="Forgetful F")
    auth.request_password_reset(email)
    note = db.session.scalar(db.select(Notification).where(Notification.recipient_id == person.id,
                                                           Notification.event == "password_reset_link"))
    return {"token": note.payload["url"].rsplit("/", 1)[1]}, {}


def _work_order(step):
    """A hotline issue (a 12345 work order) brought to the state the route acts on: "new" (waiting to be
    signed for), "sent_back", "signed", "extension" (a request waiting), "resolved", "rated" (unsolved and
    dissatisfied, after its one reopening), "appealed"."""
    def make(w, ids):
        from portal.clock import utcnow
        from portal.issues import services
        now = utcnow() - timedelta(hours=3)
        issue = services.report_from_hotline(w.x, category=w.categories["lift"], title="电梯停运", description="",
                                             reporter_name="王先生", reporter_phone="13512345678", now=now)
        if step == "sent_back":
            services.send_back(w.property_x, issue, "not_our_area", "不归我们", now=now)
        elif step != "new":
            services.sign_for(w.property_x, issue, now=now)
        if step == "extension":
            services.request_extension(w.property_x, issue, "等配件", issue.resolve_by + timedelta(days=2), now=now)
        if step in ("resolved", "rated", "appealed"):
            services.resolve_issue(w.property_x, issue, "修好了", caller_contacted=False, now=now)
        if step in ("rated", "appealed"):
            issue.reopen_count = 1
            services.record_return_visit(w.official_a, issue, contacted=True, solved=False,
                                         satisfaction="dissatisfied", now=now)
        if step == "appealed":
            services.appeal_rating(w.property_x, issue, "超出职权", now=now)
        return {"issue_id": issue.id}, {}
    return make
def _duplicate_owners(w, ids):
    from portal.places.models import Owner
    first = Owner(community=w.x, name="重复 甲", phone="13700009999")
    second = Owner(community=w.x, name="重复 乙", phone="13700009999")
    db.session.add_all([first, second])
    db.session.flush()
    return {"first_id": first.id, "second_id": second.id}, {"decision": "apart"}


def _summons(w, ids):
    """An issue whistle-blown (吹哨), its summons of the property company waiting for the report."""
    from portal.auth import roles
    from portal.issues import services
    from tests.issues import gen_issue
    issue = gen_issue(w, title="占道经营")
    [summons] = services.blow_whistle(w.official_a, issue, roles.organizations(w.property_x)[:1], report_within="",
                                      reason="联合处置")
    return {"issue_id": issue.id, "summons_id": summons.id}, {}


def _action_summons(w, ids):
    """An agreed action whistle-blown (吹哨), its summons of the property company waiting for the report."""
    from portal.actions import services
    from tests.actions import gen_action
    action = gen_action(w, title="清理消防通道")
    [summons] = services.blow_whistle_on_action(w.official_a, action, [w.pc_x], report_within="", reason="联合推进")
    return {"action_id": action.id, "summons_id": summons.id}, {}


# What a route needs that the world's ids do not give: URL values of an object in the right state (made for
# the route, so that a button another route pressed does not spoil it), and posted values the view reads
# before its form (they are fuzzed too).
def _push_browser(w, ids):
    from portal.notifications.models import PushSubscription
    browser = PushSubscription(user=w.admin, endpoint="https://push.example.org/send/fuzz", p256dh="k", auth="a")
    db.session.add(browser)
    db.session.flush()
    return {"subscription_id": browser.id}, {}


def _topic(w, ids):
    from portal.insight.models import Topic
    topic = Topic(sub_district_id=w.sd_a.id, month=2026 * 12, words="飞线充电", representative_id=w.issue.id,
                  issues=1, community_ids=[w.x.id], trend=[0, 0, 0, 0, 0, 1])
    db.session.add(topic)
    db.session.flush()
    return {}, {"topic": topic.id}


def _budget_project(w, ids):
    """A project proposed in the world's budget round (proposing now), waiting for its review."""
    from portal.funds import rounds
    project = rounds.propose_project(w.resident_x, w.budget_round, title="健身器材", summary="在花园里",
                                     location="花园", estimated_cost="50")
    return {"project_id": project.id}, {}


STATE = {
    "funds.round_review": _budget_project,
    "notifications.push_remove": _push_browser,
    "residents.consent": _own_residency,
    "residents.move_out": _own_residency,
    "actions.rate": _done_action,
    "issues.accept_handover": _handed_over,
    "issues.rate": lambda w, ids: ({"issue_id": w.resolved.id}, {}),
    "issues.categories": lambda w, ids: ({}, {"category_id": ids["lift"]}),
    "proposals.delete_comment": _fresh_comment,
    "proposals.publish": _draft,
    "proposals.support": lambda w, ids: ({"proposal_id": w.collecting.id}, {}),
    "committees.remove_agenda_item": _agenda_item,
    "dashboard.hotspot_action": _hotspot,
    "insight.act": _expected_rise,
    "insight.grid_buildings": lambda w, ids: ({"org_id": w.grid_x.id}, {}),
    "insight.pick_problem": _topic,
    "insight.programme_act": lambda w, ids: ({}, {"community": w.x.id}),
    "insight.programme_status": lambda w, ids: ({}, {"status": "open"}),
    "votes.new": lambda w, ids: ({}, {"method": "committee"}),
    "funds.ballot_cast": lambda w, ids: (voting_round_values(w), {"do": "cast"}),
    "funds.ballot_check": lambda w, ids: (voting_round_values(w), {}),
    "votes.proxies": _owners_ballot,
    "votes.revoke_proxy": _proxy,
    "auth.reset_password": _reset_link,
    "privacy.remove_photo": _issue_photo,
    "issues.sign_for": _work_order("new"),
    "issues.send_back": _work_order("new"),
    "issues.reroute": _work_order("sent_back"),
    "issues.return_to_hotline": _work_order("sent_back"),
    "issues.request_extension": _work_order("signed"),
    "issues.decide_extension": _work_order("extension"),
    "issues.return_visit": _work_order("resolved"),
    "issues.appeal": _work_order("rated"),
    "issues.decide_appeal": _work_order("appealed"),
    "places.decide_duplicate": _duplicate_owners,
    "issues.report_in": _summons,
    "actions.report_in": _action_summons,
}


def portal_form_classes() -> set[type]:
    """Every FlaskForm subclass the portal defines (bases named with a leading underscore excepted)."""
    for module in pkgutil.walk_packages(portal.__path__, "portal."):
        importlib.import_module(module.name)
    found, pending = set(), [FlaskForm]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("portal.") and not sub.__name__.startswith("_") and _current(sub):
                found.add(sub)
    return found


def _current(cls: type) -> bool:
    """The class its module holds now: a test that imports a module afresh (the layering test) leaves the
    earlier class object behind among FlaskForm's subclasses."""
    holder = sys.modules.get(cls.__module__)
    for name in cls.__qualname__.split("."):
        holder = getattr(holder, name, None)
    return holder is cls


class Seen:
    """What the running view did: the form classes it built (with their number and choice fields) and the
    names it read from the request."""
    def __init__(self):
        self.clear()

    def clear(self):
        self.forms, self.fields, self.numbers, self.read = [], set(), set(), set()


def _reads_all(name):
    def read_all(self, *args, **kwargs):
        self.seen.read.add(WHOLE)
        return getattr(ImmutableMultiDict, name)(self, *args, **kwargs)
    return read_all


class Reading(ImmutableMultiDict):
    """request.form or request.args, noting in `seen` the names a view reads."""
    seen = None

    def __contains__(self, key):
        self.seen.read.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        self.seen.read.add(key)
        return super().__getitem__(key)

    def get(self, key, *args, **kwargs):
        self.seen.read.add(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key, *args, **kwargs):
        self.seen.read.add(key)
        return super().getlist(key, *args, **kwargs)

    lists, items, keys, values, listvalues, to_dict, __iter__ = (
        _reads_all(name) for name in ("lists", "items", "keys", "values", "listvalues", "to_dict", "__iter__"))


def _recording(values, seen):
    reading = Reading(list(ImmutableMultiDict.items(values, multi=True)))
    reading.seen = seen
    return reading


@contextmanager
def recording(app, monkeypatch):
    """A Seen filled while each view runs: request.form and request.args record what is read, FlaskForm what
    is built."""
    seen = Seen()
    original = FlaskForm.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.forms.append(type(self))
        for field in self:
            seen.fields.add(field.name)
            if isinstance(field, (IntegerField, SelectFieldBase, RadioField)):
                seen.numbers.add(field.name)
    monkeypatch.setattr(FlaskForm, "__init__", init)
    for endpoint, view in list(app.view_functions.items()):
        def recorded(*args, _view=view, **kwargs):
            current = request._get_current_object()
            current.__dict__["form"] = _recording(current.form, seen)
            current.__dict__["args"] = _recording(current.args, seen)
            return _view(*args, **kwargs)
        monkeypatch.setitem(app.view_functions, endpoint, wraps(view)(recorded))
    yield seen


def route_ids(w) -> dict:
    """The world's ids by URL argument name, with what only POST routes take: a pending claim, an objection,
    a membership."""
    from portal.committees.models import OrgMembership
    from portal.notices import services as notices
    from portal.places.models import Residency
    ids = _ids(w)
    ids["residency_id"] = db.session.scalar(db.select(Residency.id).where(Residency.user_id == w.pending.id))
    ids["own_residency_id"] = db.session.scalar(db.select(Residency.id).where(Residency.user_id == w.resident_x.id))
    ids["objection_id"] = notices.lodge_objection(w.neighbour, w.notice, "电梯井占用绿地").id
    ids["membership_id"] = db.session.scalar(db.select(OrgMembership.id).where(
        OrgMembership.organization_id == w.rc_x.id, OrgMembership.user_id != w.chair_x.id).limit(1))
    db.session.commit()
    return ids


def route_request(app, rule, ids, w) -> tuple[str, dict]:
    """The address of a route in the world (with the values and query its GET page takes, the matrix's
    table), and the values posted with every request to it."""
    route = ROUTES.get(rule.endpoint)
    if route is not None and route.values:
        values = route.values(w)
    else:
        values = {name: ids[name] for name in rule.arguments}
    override, base = STATE[rule.endpoint](w, ids) if rule.endpoint in STATE else ({}, {})
    db.session.commit()
    with app.test_request_context():
        url = url_for(rule.endpoint, **{**values, **override})
    return url + ("?" + route.query.format(**ids) if route is not None and route.query else ""), base


def row_counts() -> dict:
    """Every table's number of rows, in one query."""
    db.session.expire_all()
    tables = db.metadata.sorted_tables
    counts = db.session.execute(db.select(*(db.select(db.func.count()).select_from(t).scalar_subquery()
                                            for t in tables))).one()
    db.session.rollback()
    return dict(zip((t.name for t in tables), counts, strict=True))


class People:
    """One signed-in test client per person, and its CSRF token."""
    def __init__(self, app, w):
        self.app, self.w, self.clients, self.tokens = app, w, {}, {}

    def client(self, attribute):
        if attribute not in self.clients:
            client = self.app.test_client()
            if attribute != VISITOR:
                assert Auth(client).login(getattr(self.w, attribute)).status_code == 302, attribute
            match = TOKEN.search(client.get("/login" if attribute == VISITOR else "/account").get_data(as_text=True))
            assert match, f"no csrf_token for {attribute}"
            self.clients[attribute], self.tokens[attribute] = client, match.group(1)
        return self.clients[attribute]


def let_through(response) -> bool:
    """The view went past its permission check: not a 403, a 404 for the page, or the sign-in page."""
    return response.status_code < 500 and response.status_code not in (403, 404) and not (
        response.status_code == 302 and "/login" in response.headers.get("Location", ""))


def form_error(response) -> bool:
    """A form error: the form again (200 or a 4xx; a 404 for a posted id that names nothing), or a button's
    redirect back."""
    return response.status_code < 500 and response.status_code != 403 and not (
        response.status_code == 302 and "/login" in response.headers.get("Location", ""))


class Fuzz:
    """Posts (or gets) odd values and collects every answer that is not a form error, or that wrote."""
    def __init__(self, app, world, seen):
        self.app, self.w, self.seen = app, world, seen
        self.people = People(app, world)
        self.problems, self.covered = [], set()
        for attribute in PEOPLE:
            self.people.client(attribute)
        self.counts = row_counts()

    def send(self, attribute, method, url, data, what, *, writes_ok=False, headers=None):
        self.seen.clear()
        client = self.people.client(attribute)
        if method == "POST":
            response = client.post(url, data={"csrf_token": self.people.tokens[attribute], **data}, headers=headers)
        else:
            response = client.get(url, query_string=data)
        after = row_counts()
        changed = {name: (self.counts[name], after[name]) for name in after if self.counts[name] != after[name]}
        self.counts, self.last_changed = after, changed
        if response.status_code >= 500:
            self.problems.append(f"{what}: {response.status_code}")
        elif changed and not writes_ok:
            self.problems.append(f"{what} wrote rows (before, after): {changed}")
        return response

    def each_field(self, attribute, method, url, endpoint, base):
        """A NUL in each name the view read; a huge number in each number or choice field, and in each name
        it read itself (an id to look up, a page number)."""
        seen = self.seen
        read, numbers, fields = set(seen.read), set(seen.numbers), set(seen.fields)
        for name in sorted(read - NOT_FIELDS - {WHOLE}):
            for value in (NUL, HUGE) if name in numbers or name not in fields else (NUL,):
                what = f"{method} {endpoint} as {attribute}, {name}={value!r}"
                # a number in a value the view reads as text itself (minutes) is fine text
                fine_text = value == HUGE and name not in fields
                response = self.send(attribute, method, url, {**base, name: value}, what,
                                     writes_ok=fine_text or method == "GET")
                self.covered.update(self.seen.forms)  # a form built for odd values only (a kept list's filters)
                if response.status_code < 500 and not form_error(response):
                    self.problems.append(f"{what}: {response.status_code} {response.headers.get('Location', '')}")


@pytest.fixture
def fuzz(app, matrix_world, monkeypatch):  # noqa: F811
    with recording(app, monkeypatch) as seen:
        ids = route_ids(matrix_world)
        yield Fuzz(app, matrix_world, seen), ids


def post_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods and r.endpoint not in NOT_FORMS),
                  key=lambda r: r.rule)


def fuzz_posts(app, fuzz, ids):
    """Every POST route, with a NUL beside its form, then in each value its view reads."""
    for rule in post_rules(app):
        url, base = route_request(app, rule, ids, fuzz.w)
        fuzz.counts = row_counts()
        answers, through = [], None
        for attribute in PEOPLE:
            probe = fuzz.send(attribute, "POST", url, {**base, PROBE: NUL},
                              f"POST {rule.endpoint} as {attribute} with a NUL beside the form", writes_ok=True)
            seen = fuzz.seen
            if let_through(probe):
                through = through or attribute
                if seen.forms or WHOLE in seen.read:  # its form, not a page that sends this person on
                    break
            answers.append(f"{attribute} {probe.status_code}")
        else:
            if through is None:
                fuzz.problems.append(f"POST {rule.endpoint}: no one in PEOPLE gets through to its form "
                                     f"({', '.join(answers)})")
            continue  # else a button that reads nothing posted
        if WHOLE in seen.read and fuzz.last_changed:
            fuzz.problems.append(f"POST {rule.endpoint} as {attribute} read every posted value and wrote with a "
                                 f"NUL beside the form: {fuzz.last_changed}")
        # the same from htmx, whose answer is the form's partial
        fuzz.send(attribute, "POST", url, {**base, PROBE: NUL}, f"POST {rule.endpoint} as {attribute} from htmx",
                  writes_ok=WHOLE not in seen.read, headers={"HX-Request": "true"})
        fuzz.covered.update(seen.forms)
        fuzz.each_field(attribute, "POST", url, rule.endpoint, base)


def get_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint in ROUTES
                   and not r.endpoint.startswith("open311.api.")), key=lambda r: r.rule)


def fuzz_pages(app, fuzz, ids):
    """Every GET page, with odd values in whatever it reads from its query: a list's filters, a search's
    words, a page number."""
    for rule in get_rules(app):
        url, _base = route_request(app, rule, ids, fuzz.w)
        url, _mark, query = url.partition("?")
        base = dict(pair.split("=", 1) for pair in query.split("&")) if query else {}
        for attribute in PEOPLE:
            probe = fuzz.send(attribute, "GET", url, base, f"GET {rule.endpoint} as {attribute}", writes_ok=True)
            if let_through(probe):
                break
        else:
            continue  # the matrix checks who may see it; nothing of its query is read before that
        fuzz.covered.update(fuzz.seen.forms)
        fuzz.each_field(attribute, "GET", url, rule.endpoint, base)


def test_every_form_and_page_refuses_nul_and_out_of_range_input(app, fuzz):
    fuzz, ids = fuzz
    fuzz_posts(app, fuzz, ids)
    fuzz_pages(app, fuzz, ids)
    assert not fuzz.problems, f"{len(fuzz.problems)} answers to odd input:\n" + "\n".join(fuzz.problems)
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in portal_form_classes() - fuzz.covered)
    assert not missing, ("form classes no route built (POST, as someone in PEOPLE; or a GET page from its "
                         "query): " + ", ".join(missing))


# The Open311 API's parameters (GeoReport v2), read and create; each gets every odd value.
OPEN311_READ = ("service_request_id", "service_code", "start_date", "end_date", "status", "page", "page_size",
                "lat", "long", "api_key")
OPEN311_CREATE = ("service_code", "lat", "long", "address_string", "address_id", "description", "media_url",
                  "email", "phone", "first_name", "last_name", "device_id", "account_id", "attribute[floor]")
OPEN311_ODD = (HUGE, "-" + HUGE, "2147483648", "1e309", "nan", "inf", "-0", "１２", "\u202e", "名" * 5000)


def test_open311_parameters_never_give_a_server_error(client, matrix_world):  # noqa: F811
    """NUL is refused before anything looks (tests/open311); numbers and text of every odd kind here."""
    from portal.open311 import services as open311
    w = matrix_world
    _key, token = open311.create_key(w.admin, name="Fuzz hotline", communities=[w.x])
    db.session.commit()
    wrong = []
    for name in OPEN311_READ:
        for value in OPEN311_ODD:
            for path in ("/open311/v2/requests.json", f"/open311/v2/requests/{w.issue.id}.json",
                         "/open311/v2/services.json"):
                response = client.get(path, query_string={name: value})
                if response.status_code >= 500:
                    wrong.append(f"GET {path} {name}={value[:30]!r}: {response.status_code}")
    valid = {"api_key": token, "service_code": "lift", "lat": "39.98", "long": "116.47",
             "description": "Lift stuck on floor 3", "address_string": "1号楼"}
    for name in OPEN311_CREATE:
        for value in OPEN311_ODD:
            response = client.post("/open311/v2/requests.json", data={**valid, name: value})
            if response.status_code >= 500:
                wrong.append(f"POST requests.json {name}={value[:30]!r}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
