"""The month's problem and programmes (专项): picking (and changing, audited) the month's problem, opening a
programme from a topic or from scratch with its target, its monthly figure by its rule, the actions that
serve it (created in one step or linked), settling after the target month, the pages, and who may do what
(every role). Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""
from datetime import UTC, datetime, timedelta

import pytest
from flask_login import AnonymousUserMixin

from portal.actions.models import Action
from portal.audit.models import AuditEntry
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.insight import programmes as P
from portal.insight import topics as T
from portal.insight.models import MonthProblem, Programme, Topic
from tests.conftest import Auth
from tests.csrf import csrf_token
from tests.insight.test_topics import JUNE, NOW, hand_made_month
from tests.issues import gen_issue
from tests.queries import count_statements

JULY = JUNE + 1


def _topics(w):
    hand_made_month(w)
    T.run_topics(NOW)
    db.session.commit()
    rows = P.ranked_topics(w.sd_a, JUNE)
    return {frozenset(r.topic.word_list): r.topic for r in rows}, rows


def _charging_topic(rows):
    return next(r.topic for r in rows if "飞线充电" in r.topic.word_list)


def _open(w, topic=None, **kw):
    args = dict(name="Fewer wires", communities=[w.x, w.y], words="飞线充电", cut_percent=50, months=3, topic=topic,
                now=NOW)
    args.update(kw)
    return P.open_programme(w.official_a, w.sd_a, **args)


def test_the_months_problem_is_picked_changed_and_audited(world):
    w = world
    _by_words, rows = _topics(w)
    assert [r.topic.issues for r in rows] == sorted((r.topic.issues for r in rows), reverse=True)
    first, second = rows[0].topic, rows[1].topic
    P.pick_month_problem(w.official_a, first, now=NOW)
    P.pick_month_problem(w.official_a, second, now=NOW)
    problem = db.session.get(MonthProblem, (w.sd_a.id, JUNE))
    assert problem.topic_id == second.id
    assert db.session.scalar(db.select(db.func.count()).select_from(MonthProblem)) == 1
    entries = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "topic.month_problem")).all()
    assert len(entries) == 2
    assert [r.is_problem for r in P.ranked_topics(w.sd_a, JUNE) if r.topic.id == second.id] == [True]
    with pytest.raises(NotAllowed):
        P.pick_month_problem(w.official_b, first)
    with pytest.raises(NotAllowed):
        P.pick_month_problem(w.chair_x, first)


def test_the_ranked_topics_are_read_in_a_fixed_number_of_statements(world):
    """Each topic's representative issue comes with its category, each open programme with its communities:
    no statement per topic or per programme."""
    w = world
    _by_words, rows = _topics(w)
    assert len(rows) >= 3
    _open(w, topic=_charging_topic(rows), category_code=None, words="飞线充电")
    _open(w, name="Lifts", words="电梯")
    db.session.commit()
    db.session.expire_all()
    once = count_statements(lambda: P.ranked_topics(w.sd_a, JUNE))
    db.session.expire_all()
    assert once <= 6, once


def test_a_programme_from_a_topic_has_its_baseline_target_and_is_marked_on_the_topic(world):
    w = world
    _by_words, rows = _topics(w)
    topic = _charging_topic(rows)
    programme = _open(w, topic=topic, category_code=None, words=topic.words)
    assert programme.baseline == 5 and programme.target == 2  # 5 × 50 % rounded down
    assert programme.start_month == JULY and programme.target_month == JULY + 3
    assert programme.status == "open"
    marked = {r.topic.id: r.programme for r in P.ranked_topics(w.sd_a, JUNE)}
    assert marked[topic.id] == programme
    assert sum(1 for p in marked.values() if p is not None) == 1
    assert db.session.scalar(db.select(AuditEntry.id).where(AuditEntry.action == "programme.opened"))


def test_the_monthly_figure_counts_issues_by_the_rule(world):
    w = world
    hand_made_month(w)
    by_words = _open(w, words="飞线充电")
    counts = P.programme_monthly_counts(by_words, [JUNE - 2, JUNE - 1, JUNE, JULY])
    assert counts == {JUNE - 2: 2, JUNE - 1: 0, JUNE: 5, JULY: 0}
    only_x = _open(w, words="飞线充电", communities=[w.x])
    assert P.programme_monthly_counts(only_x, [JUNE])[JUNE] == 3  # two of the five were in y
    by_category = _open(w, words="", category_code="lift")
    assert P.programme_monthly_counts(by_category, [JUNE])[JUNE] == 6  # five lifts and a charging one filed as lift
    both = _open(w, words="电梯", category_code="lift")
    assert P.programme_monthly_counts(both, [JUNE, JUNE - 1]) == {JUNE: 5, JUNE - 1: 1}
    assert by_category.baseline == 6  # from scratch: the rule's figure of the last full month (June)
    gen_issue(w, title="飞线充电又来了", category="security", now=NOW + timedelta(days=2))
    figure = P.programme_figure(by_words, now=NOW + timedelta(days=3))
    assert figure.months[0] == JULY - 6 and figure.months[-1] == JULY
    assert figure.counts[JULY] == 1 and figure.current == JULY


def test_from_scratch_the_baseline_is_last_months_figure(world):
    w = world
    hand_made_month(w)
    programme = _open(w, words="电梯", cut_percent=40)
    assert programme.baseline == 5 and programme.target == 3


@pytest.mark.parametrize("change, field", [
    (dict(name=" "), "name"), (dict(name="x" * 121), "name"), (dict(words="", category_code=None), "words"),
    (dict(category_code="nope"), "category"), (dict(communities=[]), "communities"),
    (dict(cut_percent=0), "cut_percent"), (dict(cut_percent=101), "cut_percent"), (dict(months=0), "months"),
    (dict(months=25), "months"),
])
def test_a_programme_refuses_bad_input_and_writes_nothing(world, change, field):
    w = world
    with pytest.raises(DomainError) as refused:
        _open(w, **change)
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(Programme)) == 0


def test_a_programme_of_another_sub_district_community_is_refused(world):
    w = world
    with pytest.raises(DomainError):
        _open(w, communities=[w.x, w.z])


def test_actions_serve_a_programme_created_in_one_step_or_linked(world):
    w = world
    programme = _open(w, now=datetime.now(UTC))
    action = P.create_programme_action(w.official_a, programme, w.y)
    assert action.source == "programme" and action.programme_id == programme.id and action.community_id == w.y.id
    assert action.responsible_org_id == w.rc_y.id
    other = Action(community_id=w.x.id, title="Fix the bike shed wiring", source="hotspot",
                   responsible_org_id=w.rc_x.id, due_date=action.due_date, created_by_id=w.official_a.id)
    far = Action(community_id=w.z.id, title="Elsewhere", source="hotspot", responsible_org_id=w.rc_z.id,
                 due_date=action.due_date, created_by_id=w.official_b.id)
    db.session.add_all([other, far])
    db.session.flush()
    assert other in P.linkable_actions(programme) and far not in P.linkable_actions(programme)
    P.link_action(w.official_a, programme, other)
    assert other.programme_id == programme.id and other.source == "hotspot"
    assert [a.id for a in P.programme_actions(programme)] == sorted([action.id, other.id])
    with pytest.raises(DomainError):
        P.link_action(w.official_a, programme, other)  # already serves one
    with pytest.raises(DomainError):
        P.link_action(w.official_a, programme, far)
    with pytest.raises(DomainError):
        P.create_programme_action(w.official_a, programme, w.z)
    with pytest.raises(NotAllowed):
        P.create_programme_action(w.chair_x, programme, w.x)
    P.set_status(w.official_a, programme, "closed")
    with pytest.raises(DomainError):
        P.create_programme_action(w.official_a, programme, w.x)


def test_after_the_target_month_a_programme_is_settled_once(world):
    w = world
    hand_made_month(w)
    met = _open(w, words="电梯", months=1)  # target month August; baseline 5, target 2
    missed = _open(w, words="飞线充电", months=1)
    for n in range(3):
        gen_issue(w, title=f"飞线充电 {n}", category="security", now=datetime(2026, 8, 10 + n, 3, tzinfo=UTC))
    db.session.flush()
    assert P.settle_programmes(datetime(2026, 8, 20, tzinfo=UTC)) == 0  # August is not over
    assert P.settle_programmes(datetime(2026, 9, 1, 2, tzinfo=UTC)) == 2
    assert (met.status, missed.status) == ("achieved", "missed")
    assert P.settle_programmes(datetime(2026, 9, 2, tzinfo=UTC)) == 0


# --- who may do what ---------------------------------------------------------------------------------------

ROLES = ["official_a", "admin", "official_b", "department_a", "chair_x", "member_y", "member_z", "property_x",
         "reporter", "stranger", "anonymous"]


@pytest.mark.parametrize("role", ROLES)
def test_permissions_for_every_role(world, role):
    w = world
    user = AnonymousUserMixin() if role == "anonymous" else getattr(w, role)
    programme = _open(w, communities=[w.y])
    manages = role in ("official_a", "admin")
    assert permissions.can_view_topics(user, w.sd_a) == manages
    assert permissions.can_pick_month_problem(user, w.sd_a) == manages
    assert permissions.can_manage_programmes(user, w.sd_a) == manages
    assert permissions.can_view_programme(user, programme) == (manages or role == "member_y")
    assert permissions.can_view_topics(user, w.sd_b) == (role in ("admin", "official_b"))


# --- the pages ---------------------------------------------------------------------------------------------

def post(client, path, data=None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/c/x")})


def test_the_official_picks_the_problem_and_opens_a_programme_through_the_pages(client, world):
    w = world
    _by_words, rows = _topics(w)
    topic = _charging_topic(rows)
    Auth(client).login(w.official_a)
    dashboard = client.get(f"/dashboard?sub_district={w.sd_a.id}").get_data(as_text=True)
    assert "Topics of the month" in dashboard and "飞线充电" in dashboard
    page = client.get(f"/sub-districts/{w.sd_a.id}/topics?month=2026-06").get_data(as_text=True)
    assert "飞线充电" in page and "<svg" in page and "0 · 0 · 0 · 2 · 0 · 5" in page
    assert post(client, f"/sub-districts/{w.sd_a.id}/topics/problem", {"topic": topic.id}).status_code == 302
    assert db.session.get(MonthProblem, (w.sd_a.id, JUNE)).topic_id == topic.id
    form = client.get(f"/sub-districts/{w.sd_a.id}/programmes/new?topic={topic.id}").get_data(as_text=True)
    assert "飞线充电" in form and 'name="community"' in form
    bad = post(client, f"/sub-districts/{w.sd_a.id}/programmes/new",
               {"topic": topic.id, "name": "Fewer wires", "words": "飞线充电", "cut_percent": "half", "months": "3",
                "community": [w.x.id, w.y.id]})
    assert bad.status_code == 200 and "Give the cut as a percentage" in bad.get_data(as_text=True)
    assert 'value="Fewer wires"' in bad.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Programme)) == 0
    done = post(client, f"/sub-districts/{w.sd_a.id}/programmes/new",
                {"topic": topic.id, "name": "Fewer wires", "words": "飞线充电", "cut_percent": "50", "months": "3",
                 "community": [w.x.id, w.y.id]})
    assert done.status_code == 302
    programme = db.session.scalar(db.select(Programme))
    assert programme.topic_id == topic.id and programme.baseline == 5
    shown = client.get(f"/programmes/{programme.id}").get_data(as_text=True)
    assert "Fewer wires" in shown and "<svg" in shown and "<table" in shown
    made = post(client, f"/programmes/{programme.id}/act", {"community": w.x.id})
    assert made.status_code == 302 and "/actions/" in made.headers["Location"]
    assert db.session.scalar(db.select(Action.source).where(Action.programme_id == programme.id)) == "programme"
    assert post(client, f"/programmes/{programme.id}/status", {"status": "closed"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Programme, programme.id).status == "closed"
    listed = client.get(f"/sub-districts/{w.sd_a.id}/programmes").get_data(as_text=True)
    assert "Fewer wires" in listed


def test_others_are_refused_the_pages(client, world):
    w = world
    _by_words, rows = _topics(w)
    topic = rows[0].topic
    programme = _open(w, communities=[w.x])
    db.session.commit()
    for user in (w.chair_x, w.reporter, w.official_b):
        Auth(client).login(user)
        assert client.get(f"/sub-districts/{w.sd_a.id}/topics").status_code == 403
        assert post(client, f"/sub-districts/{w.sd_a.id}/topics/problem", {"topic": topic.id}).status_code == 403
        assert post(client, f"/programmes/{programme.id}/act", {"community": w.x.id}).status_code == 403
        Auth(client).logout()
    Auth(client).login(w.chair_x)  # a committee member of a covered community reads the programme
    assert client.get(f"/programmes/{programme.id}").status_code == 200
    assert db.session.scalar(db.select(MonthProblem.topic_id)) is None
    assert db.session.scalar(db.select(db.func.count()).select_from(Topic)) == 4


def test_a_programme_action_shows_its_before_after_on_the_rule_in_its_community(world):
    """The before/after of an action of source "programme" (portal/insight/effects.py) counts the issues
    matching the programme's rule in the action's own community."""
    from portal.insight import effects
    w = world
    hand_made_month(w)
    programme = _open(w, words="飞线充电")
    action = P.create_programme_action(w.official_a, programme, w.x, now=NOW)
    effect = effects.effect_of(action, now=NOW)
    assert effect is not None and effect.after_months == []
    expected = P.programme_monthly_counts(_open(w, words="飞线充电", communities=[w.x]), effect.before_months)
    assert effect.before == sum(expected.values()) > 0
    other = Action(community_id=w.x.id, title="Not a programme's", source="decision", responsible_org_id=w.rc_x.id,
                   due_date=action.due_date, created_by_id=w.official_a.id)
    db.session.add(other)
    db.session.flush()
    assert effects.effect_of(other, now=NOW) is None


def test_the_public_statistics_page_shows_the_programmes_covering_the_community(client, world):
    w = world
    hand_made_month(w)
    programme = _open(w, name="Fewer wires on the balconies", communities=[w.x])
    _open(w, name="Only elsewhere", communities=[w.y])
    db.session.commit()
    page = client.get("/c/x/statistics").get_data(as_text=True)
    assert programme.name in page and "Only elsewhere" not in page
    assert [p.id for p, _f in P.community_programmes(w.x)] == [programme.id]


@pytest.mark.parametrize("rule", [{"words": "飞线充电"}, {"words": "电梯 停运"}, {"words": "", "category_code": "lift"},
                                  {"words": "电梯", "category_code": "lift"}, {"words": "dog"},
                                  {"words": "飞线充电 dog"}, {"words": "100%_充电"}])
def test_the_figure_read_through_the_rules_prefilter_equals_reading_every_issue(world, rule):
    """rule_prefilter narrows the statement to the candidates; the counts stay those of matching every issue
    of the months by its words (Latin words, which words() folds, are matched without it)."""
    w = world
    hand_made_month(w)
    programme = _open(w, **rule)
    months = list(range(JUNE - 3, JULY + 1))
    every = T.month_issues(programme.communities, months)
    expected = {m: sum(1 for i in every[m] if P.matches(programme, i.category_code, i.terms)) for m in months}
    assert P.programme_monthly_counts(programme, months) == expected


@pytest.mark.parametrize("portal_language, title", [("en", "Programme: Fewer wires"), ("zh", "专项：Fewer wires")])
def test_a_programme_actions_words_are_in_the_portals_language_whoever_makes_it(app, world, monkeypatch,
                                                                                portal_language, title):
    from flask_babel import gettext
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", portal_language)
    w = world
    programme = _open(w, now=datetime.now(UTC))
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert gettext("Programme: %(name)s", name="x") == "专项：x"  # the official reads Chinese
        action = P.create_programme_action(w.official_a, programme, w.y)
    assert action.title == title
    assert ("Serves the programme" in action.description) == (portal_language == "en")
