"""Insight's rules: the monthly counts stay exact, the month's forecasts find a known seasonal rise and say why,
a rise becomes a proactive action in one step, grid workers patrol, and the proactive share on a hand-made
month. Runs on SQLite and, with TEST_DATABASE_URL, PostgreSQL."""
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.actions.models import Action
from portal.audit.models import AuditEntry
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.insight import rollup
from portal.insight import services as S
from portal.insight.models import Forecast, ForecastRun, IssueMonthCount, PatrolRound
from portal.issues import services as issues
from portal.issues.models import Issue
from tests.factories import gen_user
from tests.issues import gen_issue

# 1 July 2026, 10:00 in Shanghai: the month of the forecast is July 2026.
NOW = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
JULY = 2026 * 12 + 6


def stored() -> dict:
    return {(r.community_id, r.category_id, r.month): (r.issues, r.proactive)
            for r in db.session.scalars(db.select(IssueMonthCount)) if r.issues or r.proactive}


def history(w, code, counts_by_month: dict[int, int]) -> None:
    category = w.categories[code]
    for month, n in counts_by_month.items():
        db.session.add(IssueMonthCount(community_id=w.x.id, category_id=category.id, month=month, issues=n,
                                       proactive=0))
    db.session.flush()


def seasonal_lift_history(w):
    """Three years to June 2026: 6 lift issues a month, 16 every July; 5 rubbish issues every month."""
    lift = {m: (16 if m % 12 == 6 else 6) for m in range(JULY - 36, JULY)}
    history(w, "lift", lift)
    history(w, "rubbish", dict.fromkeys(range(JULY - 36, JULY), 5))


# --- the monthly counts -------------------------------------------------------------------------------------

def test_the_monthly_counts_follow_reports_patrols_merges_and_equal_a_rebuild(world):
    w = world
    first = gen_issue(w, title="Lift stuck")
    gen_issue(w, title="Lift noisy", now=NOW - timedelta(days=40))
    S.log_patrol(w.grid_worker, w.x, checked="Lifts of building 3", building=w.bx,
                 finding={"category": w.categories["lift"], "title": "Lift door does not close"})
    second = gen_issue(w, reporter=w.neighbour, title="Lift stuck again")
    issues.merge_duplicate(w.official_a, second, first)
    db.session.flush()
    direct = rollup.month_counts_direct([w.x.id, w.y.id])
    assert stored() == direct
    assert sum(p for _n, p in direct.values()) == 1
    rollup.rebuild_month_counts()
    assert stored() == direct
    db.session.execute(db.update(Issue).where(Issue.id == first.id).values(status="duplicate"))
    assert stored() == rollup.month_counts_direct([w.x.id, w.y.id])


# --- forecasts and rises ------------------------------------------------------------------------------------

def test_the_july_lift_rise_is_found_with_its_reason_and_flat_rubbish_is_not(world):
    w = world
    seasonal_lift_history(w)
    run = S.forecast_community(w.x, JULY, now=NOW)
    assert (run.series, run.rises) == (2, 1)
    lift = db.session.scalar(db.select(Forecast).where(Forecast.category_id == w.categories["lift"].id))
    rubbish = db.session.scalar(db.select(Forecast).where(Forecast.category_id == w.categories["rubbish"].id))
    assert lift.rise and not rubbish.rise
    assert Decimal("13") <= lift.expected <= Decimal("17")
    assert lift.last_month == 6 and lift.method == "glm"
    assert abs(rubbish.expected - 5) < 1
    rows = S.community_forecasts(w.x, now=NOW)
    assert [r.forecast.id for r in rows] == [lift.id, rubbish.id]
    assert "July" in rows[0].reason and "Huajiadi" in rows[0].reason and "vs 6 last month" in rows[0].reason
    assert [r.forecast.id for r in S.expected_rises([w.x, w.y], now=NOW)] == [lift.id]


def test_the_rise_margin_comes_from_the_settings(world, app):
    w = world
    seasonal_lift_history(w)
    app.config["FORECAST_RISE_MARGIN"] = "2.0"  # three times the recent level: 16 is not
    try:
        assert S.forecast_community(w.x, JULY, now=NOW).rises == 0
    finally:
        app.config["FORECAST_RISE_MARGIN"] = "0.5"
    app.config["FORECAST_RISE_MIN"] = 20
    try:
        assert S.forecast_community(w.x, JULY, now=NOW).rises == 0
    finally:
        app.config["FORECAST_RISE_MIN"] = 3
    assert S.forecast_community(w.x, JULY, now=NOW).rises == 1


def test_the_run_due_step_forecasts_each_community_once_a_month(world):
    w = world
    seasonal_lift_history(w)
    assert S.run_forecasts(NOW) >= 2  # x and y (and z) in July
    assert S.run_forecasts(NOW + timedelta(days=3)) == 0  # already done this month
    assert db.session.get(ForecastRun, (w.x.id, JULY)).rises == 1
    assert S.run_forecasts(NOW + timedelta(days=31)) >= 2  # August
    assert db.session.scalar(db.select(db.func.count()).select_from(Forecast).where(
        Forecast.community_id == w.x.id, Forecast.month == JULY + 1)) == 2


def test_a_community_with_no_history_gets_no_forecast(world):
    assert S.forecast_community(world.y, JULY, now=NOW).series == 0
    assert S.community_forecasts(world.y, now=NOW) == []


# --- one step to a proactive action -------------------------------------------------------------------------

def _lift_rise(w):
    seasonal_lift_history(w)
    S.forecast_community(w.x, JULY, now=NOW)
    return db.session.scalar(db.select(Forecast).where(Forecast.rise.is_(True)))


def test_an_official_turns_the_rise_into_a_proactive_action_in_one_step(world):
    w = world
    rise = _lift_rise(w)
    action = S.act_on_rise(w.official_a, rise, now=NOW)
    assert action.source == "forecast" and rise.action_id == action.id
    assert action.hotspot_category_id == w.categories["lift"].id and action.hotspot_month == "2026-07"
    assert action.responsible_org_id == w.categories["lift"].default_org_id
    assert action.due_date == date(2026, 7, 31)
    assert "July" in action.description
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "forecast.acted_on"))
    assert entry.details["action_id"] == action.id
    with pytest.raises(DomainError):
        S.act_on_rise(w.chair_x, rise, now=NOW)  # once only
    assert db.session.scalar(db.select(db.func.count()).select_from(Action).where(Action.source == "forecast")) == 1


def test_a_committee_member_may_act_on_the_rise_a_resident_may_not(world):
    w = world
    rise = _lift_rise(w)
    for person in (w.reporter, w.property_x, w.official_b, w.member_y, w.grid_worker):
        with pytest.raises(NotAllowed):
            S.act_on_rise(person, rise, now=NOW)
    assert S.act_on_rise(w.member_x, rise, now=NOW).source == "forecast"


def test_a_rise_of_a_month_that_is_over_is_not_acted_on(world):
    w = world
    rise = _lift_rise(w)
    with pytest.raises(DomainError):
        S.act_on_rise(w.official_a, rise, now=NOW + timedelta(days=40))


def test_a_recomputed_month_keeps_the_action_taken(world):
    w = world
    rise = _lift_rise(w)
    action = S.act_on_rise(w.official_a, rise, now=NOW)
    S.forecast_community(w.x, JULY, now=NOW)
    db.session.refresh(rise)
    assert rise.action_id == action.id and rise.rise


# --- patrols ------------------------------------------------------------------------------------------------

def test_a_grid_worker_logs_a_round_and_files_what_they_found(world):
    w = world
    quiet = S.log_patrol(w.grid_worker, w.x, checked="Fire lanes and bicycle sheds", building=w.bx5, now=NOW)
    assert quiet.issue_id is None and quiet.grid_id == w.grid_x.id
    found = S.log_patrol(w.grid_worker, w.x, checked="Charging in the stairwell", building=w.bx,
                         place="Entrance 1", finding={"category": w.categories["security"],
                                                      "title": "飞线充电 from a window of 0301"}, now=NOW)
    issue = found.issue
    assert issue.source == "patrol" and issue.reporter_id == w.grid_worker.id and issue.building_id == w.bx.id
    assert [r.id for r in S.patrol_log(w.x)] == [found.id, quiet.id]
    assert [r.id for r in S.patrol_log(w.x, before_id=found.id)] == [quiet.id]
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "patrol.logged",
                                                          AuditEntry.object_id == found.id))
    assert entry.details["issue_id"] == issue.id


def test_a_round_that_checks_an_expected_rise_files_its_finding_as_forecast(world):
    w = world
    rise = _lift_rise(w)
    found = S.log_patrol(w.grid_worker, w.x, checked="Lifts before the July rise", building=w.bx, forecast=rise,
                         finding={"category": w.categories["lift"], "title": "Lift fan broken"}, now=NOW)
    assert found.issue.source == "forecast" and found.forecast_id == rise.id


def test_patrol_rounds_are_refused_outside_the_grid_and_to_anyone_else(world):
    w = world
    with pytest.raises(DomainError) as refused:
        S.log_patrol(w.grid_worker, w.x, checked="Lifts", building=w.bx9)
    assert refused.value.field == "building"
    with pytest.raises(DomainError):
        S.log_patrol(w.grid_worker, w.x, checked="  ")
    with pytest.raises(DomainError):
        S.log_patrol(w.grid_worker, w.x, checked="Lifts")  # nowhere
    for person in (w.reporter, w.chair_x, w.official_a, w.admin, w.grid_worker_y):
        with pytest.raises(NotAllowed):
            S.log_patrol(person, w.x, checked="Lifts", place="Gate")
    with pytest.raises(NotAllowed):  # a grid worker files patrol findings in their own name only
        issues.report_issue(w.reporter, w.x, category=w.categories["lift"], title="x", source="patrol")
    assert db.session.scalar(db.select(db.func.count()).select_from(PatrolRound)) == 0


# --- the proactive share ------------------------------------------------------------------------------------

def test_the_proactive_share_of_a_hand_made_month(world):
    w = world
    at = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
    for n in range(3):
        gen_issue(w, title=f"Resident's issue {n}", now=at)
    S.log_patrol(w.grid_worker, w.x, checked="Sheds", building=w.bx, now=at,
                 finding={"category": w.categories["rubbish"], "title": "Rubbish by the shed"})
    merged = S.log_patrol(w.grid_worker, w.x, checked="Lifts", building=w.bx, now=at,
                          finding={"category": w.categories["lift"], "title": "Lift reported already"})
    merged.issue.status = "duplicate"  # a resident had reported it first: counts in neither part
    gen_issue(w, reporter=w.resident_y, community=w.y, title="Y's issue", now=at)
    db.session.flush()
    june = JULY - 1
    shares = S.proactive_share([w.x.id, w.y.id], [june - 1, june])
    assert shares[(w.x.id, june)] == S.Share(1, 4) and shares[(w.x.id, june)].percent() == "25.0%"
    assert shares[(w.y.id, june)] == S.Share(0, 1) and shares[(w.y.id, june)].percent() == "0.0%"
    assert shares[(w.x.id, june - 1)].percent() == "—"


# --- who may do what ----------------------------------------------------------------------------------------

def test_grid_worker_permissions_for_every_role(world):
    from flask_login import AnonymousUserMixin

    from portal.auth import permissions as P
    w = world
    rise = _lift_rise(w)
    unverified = gen_user(display_name="Unverified U")
    people = {"anonymous": AnonymousUserMixin(), "unverified": unverified, "verified resident": w.reporter,
              "resident of another community": w.resident_y, "property staff": w.property_x,
              "committee chair": w.chair_x, "sub-district official": w.official_a, "admin": w.admin,
              "grid worker": w.grid_worker, "grid worker of another community": w.grid_worker_y,
              "official of another sub-district": w.official_b}
    expected = {  # (patrol in x, read x's patrol log, see x's forecasts, act on x's rise)
        "anonymous": (False, False, False, False), "unverified": (False, False, False, False),
        "verified resident": (False, False, False, False),
        "resident of another community": (False, False, False, False),
        "property staff": (False, False, False, False), "committee chair": (False, True, True, True),
        "sub-district official": (False, True, True, True), "admin": (False, True, True, True),
        "grid worker": (True, True, False, False), "grid worker of another community": (False, False, False, False),
        "official of another sub-district": (False, False, False, False),
    }
    got = {label: (P.can_patrol(u, w.x), P.can_view_patrol_log(u, w.x), P.can_view_forecasts(u, community=w.x),
                   P.can_act_on_rise(u, rise)) for label, u in people.items()}
    assert got == expected


@pytest.mark.parametrize("portal_language, start", [("en", "Before the complaints come: "), ("zh", "未诉先办：")])
def test_a_forecast_actions_words_are_in_the_portals_language_whoever_acts(app, world, monkeypatch, portal_language,
                                                                           start):
    from flask_babel import gettext
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", portal_language)
    w = world
    rise = _lift_rise(w)
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert gettext("Comment deleted") != "Comment deleted"  # the official reads Chinese
        action = S.act_on_rise(w.official_a, rise, now=NOW)
    assert action.title.startswith(start) and action.title.endswith("2026-07")
    assert ("July" in action.description) == (portal_language == "en")
