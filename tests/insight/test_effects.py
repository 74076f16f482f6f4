"""Did it work: the before/after of actions from a hotspot or an expected rise on hand-made months, the
Poisson rate test against hand computations, the not-enough-time and not-done cases, the registry others
extend, and the action page and dashboard showing it at a fixed cost. SQLite and PostgreSQL."""
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from portal.actions.services import create_action
from portal.extensions import db
from portal.insight import effects as E
from tests.conftest import Auth
from tests.issues import gen_issue
from tests.queries import recorded_statements

STARTED = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # March 2026 in Shanghai
DONE = datetime(2026, 4, 20, 2, 0, tzinfo=UTC)  # April 2026
LATER = datetime(2026, 8, 5, 2, 0, tzinfo=UTC)  # May, June and July have passed
MONTH = 2026 * 12


def at(month: int, day: int = 10) -> datetime:
    """A moment in month `month` (1 = January) of 2026, Shanghai time."""
    return datetime(2026, month, day, 2, 0, tzinfo=UTC)


# --- the test against hand computations --------------------------------------------------------------------

def test_twelve_before_and_two_after_in_equal_windows_gives_the_hand_computed_p_value():
    # Given 14 issues and equal windows, "after" ~ Binomial(14, 1/2); 2 or fewer, or 12 or more:
    # 2 × (1 + 14 + 91) / 2¹⁴ = 212 / 16384.
    assert E.poisson_rate_p_value(12, 3, 2, 3) == pytest.approx(212 / 16384, rel=1e-9)


def test_unequal_windows_add_the_outcomes_no_likelier_than_the_one_seen():
    # 6 before in 3 months, 0 after in 1: "after" ~ Binomial(6, 1/4). P(0) = 729/4096; the outcomes no likelier
    # are 0, 3, 4, 5 and 6: (729 + 540 + 135 + 18 + 1) / 4096.
    assert E.poisson_rate_p_value(6, 3, 0, 1) == pytest.approx(float(Fraction(1423, 4096)), rel=1e-9)


def test_nothing_on_either_side_is_no_evidence_at_all():
    assert E.poisson_rate_p_value(0, 3, 0, 3) == 1.0
    assert E.poisson_rate_p_value(5, 3, 5, 3) == pytest.approx(1.0)


# --- hand-made actions -------------------------------------------------------------------------------------

def hotspot_action(w, *, status="done"):
    action = create_action(w.official_a, w.x, source="hotspot", title="Lift overhaul at building 3",
                           responsible_org=w.pc_x, due_date=date(2026, 4, 30),
                           hotspot={"building": w.bx, "category": w.categories["lift"], "month": "2026-03"},
                           now=STARTED)
    action.started_at = STARTED
    if status == "done":
        action.status, action.done_at, action.progress = "done", DONE, 100
    db.session.flush()
    return action


def lift_issues(w, months: dict[int, int], building=None, category="lift"):
    for month, n in months.items():
        for i in range(n):
            gen_issue(w, category=category, title=f"Lift {month}-{i}", building=building, now=at(month, 3 + i))


def test_a_hotspot_action_with_twelve_issues_before_and_two_after_is_fewer_and_more_than_chance(world):
    w = world
    lift_issues(w, {1: 3, 2: 4, 3: 5}, building=w.bx)
    lift_issues(w, {5: 1, 7: 1}, building=w.bx)
    lift_issues(w, {1: 2, 6: 3}, building=w.bx5)  # another building: not related
    lift_issues(w, {6: 2}, building=w.bx, category="rubbish")  # another category: not related
    action = hotspot_action(w)
    effect = E.effect_of(action, now=LATER)
    assert effect.before_months == [MONTH + 0, MONTH + 1, MONTH + 2]
    assert effect.after_months == [MONTH + 4, MONTH + 5, MONTH + 6]
    assert (effect.before, effect.after) == (12, 2)
    assert effect.p_value == pytest.approx(212 / 16384)
    assert effect.direction == "fewer" and effect.significant
    assert effect.change_percent() == -83
    assert effect.verdict() == "Fewer than before; more than chance (Poisson rate test, p = 0.013)."
    assert "2026-01 – 2026-03" in effect.months_note() and "2026-05 – 2026-07" in effect.months_note()


def test_a_small_change_is_called_within_chance(world):
    w = world
    lift_issues(w, {2: 2, 3: 2}, building=w.bx)
    lift_issues(w, {5: 1, 6: 2}, building=w.bx)
    effect = E.effect_of(hotspot_action(w), now=LATER)
    assert (effect.before, effect.after) == (4, 3)
    assert not effect.significant
    assert effect.verdict() == "Fewer than before, but within chance (Poisson rate test, p = 1.00)."


def test_fewer_months_after_are_compared_and_stated_and_none_yet_says_so(world):
    w = world
    lift_issues(w, {1: 3, 2: 3, 3: 3, 5: 1}, building=w.bx)
    action = hotspot_action(w)
    none_yet = E.effect_of(action, now=datetime(2026, 5, 20, 2, 0, tzinfo=UTC))
    assert none_yet.after_months == [] and none_yet.p_value is None
    assert none_yet.verdict() == "Not enough time has passed: no whole month since it was done yet."
    one = E.effect_of(action, now=datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    assert one.after_months == [MONTH + 4] and (one.before, one.after) == (9, 1) and one.short
    assert one.p_value == pytest.approx(E.poisson_rate_p_value(9, 3, 1, 1))
    assert "only 1 of 3 months have passed so far" in one.months_note()


def test_an_action_not_done_shows_only_the_months_before(world):
    w = world
    lift_issues(w, {3: 2}, building=w.bx)
    effect = E.effect_of(hotspot_action(w, status="in_progress"), now=LATER)
    assert effect.before == 2 and effect.after_months == [] and not effect.done
    assert effect.verdict().startswith("Not done yet")


def test_a_forecast_action_counts_the_whole_community_and_category(world):
    w = world
    lift_issues(w, {1: 2, 3: 2}, building=w.bx)
    lift_issues(w, {2: 2}, building=w.bx5)
    lift_issues(w, {3: 3}, building=None, category="rubbish")
    action = create_action(w.official_a, w.x, source="forecast", title="Before the complaints come: lifts",
                           responsible_org=w.pc_x, due_date=date(2026, 3, 31),
                           forecast={"category": w.categories["lift"], "month": "2026-03"}, now=STARTED)
    effect = E.effect_of(action, now=LATER)
    assert effect.before == 6 and effect.verdict().startswith("Not done yet")


def test_an_action_from_a_proposal_has_no_before_and_after_until_its_source_is_registered(world, monkeypatch):
    w = world
    lift_issues(w, {3: 2}, building=w.bx)
    action = create_action(w.official_a, w.x, source="hotspot", title="x", responsible_org=w.pc_x,
                           due_date=date(2026, 4, 30), now=STARTED,
                           hotspot={"building": w.bx, "category": w.categories["lift"], "month": "2026-03"})
    action.source = "decision"  # as if it came from a meeting: nothing registered for it
    assert E.effect_of(action, now=LATER) is None
    monkeypatch.setitem(E._RELATED, "decision",
                        lambda a: E.CommunityCategory(a.community_id, w.categories["lift"].id))
    assert E.effect_of(action, now=LATER).before == 2


def test_the_dashboards_list_costs_the_same_few_statements_for_one_action_or_four(world):
    w = world
    lift_issues(w, {1: 2, 5: 1}, building=w.bx)
    first = hotspot_action(w)
    db.session.commit()
    db.session.expire_all()
    with recorded_statements() as one:
        assert len(E.recent_done_effects(sub_district_id=w.sd_a.id, now=LATER)) == 1
    for _ in range(3):
        hotspot_action(w)
    forecast = create_action(w.official_a, w.x, source="forecast", title="Lifts", responsible_org=w.pc_x,
                             due_date=date(2026, 3, 31), now=STARTED,
                             forecast={"category": w.categories["lift"], "month": "2026-03"})
    forecast.status, forecast.done_at = "done", DONE + timedelta(days=1)
    db.session.commit()
    db.session.expire_all()
    with recorded_statements() as five:
        found = E.recent_done_effects(sub_district_id=w.sd_a.id, now=LATER)
    assert len(found) == 5 and found[0].action.source == "forecast"
    assert len(five) == len(one) + 1  # one more kind of related issues, not one more per action
    assert next(e for e in found if e.action.id == first.id).before == 2


# --- pages -------------------------------------------------------------------------------------------------

def test_the_action_page_shows_the_before_and_after_and_the_dashboard_lists_it(client, world):
    w = world
    lift_issues(w, {1: 3, 2: 4, 3: 5}, building=w.bx)
    lift_issues(w, {5: 1, 7: 1}, building=w.bx)
    action = hotspot_action(w)
    db.session.commit()
    page = client.get(f"/c/x/actions/{action.id}").get_data(as_text=True)
    assert "Did it work?" in page and "Poisson rate test" in page
    Auth(client).login(w.official_a)
    page = client.get(f"/dashboard?sub_district={w.sd_a.id}").get_data(as_text=True)
    assert 'id="effects"' in page and "Lift overhaul at building 3" in page
    assert f"/sub-districts/{w.sd_a.id}/rankings" in page


def test_an_action_without_related_issues_shows_no_section(client, world):
    w = world
    action = create_action(w.official_a, w.x, source="hotspot", title="Steps", responsible_org=w.pc_x,
                           due_date=date(2026, 4, 30), now=STARTED,
                           hotspot={"building": w.bx, "category": w.categories["lift"], "month": "2026-03"})
    step = create_action(w.official_a, w.x, source="hotspot", title="A step", responsible_org=w.pc_x,
                         due_date=date(2026, 4, 30), parent=action, now=STARTED)
    db.session.commit()
    assert "Did it work?" not in client.get(f"/c/x/actions/{step.id}").get_data(as_text=True)


def test_the_demo_shows_a_real_drop_after_its_done_hotspot_action_and_fills_rankings_and_statistics(runner):
    from portal.actions.models import Action
    from portal.insight import public, rankings
    from portal.insight.services import current_month
    from portal.places.models import Community, SubDistrict
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    done = db.session.scalars(db.select(Action).where(Action.source == "hotspot", Action.status == "done",
                                                      Action.parent_id.is_(None))).all()
    found = E.effects_of(done)
    assert found and any(e.direction == "fewer" and e.significant and len(e.after_months) == 3 for e in found)
    community = db.session.scalar(db.select(Community).where(Community.slug == "huajiadi"))
    month = current_month(community) - 1
    ranked = rankings.rankings(db.session.get(SubDistrict, community.sub_district_id), month, "demand")
    assert len(ranked["community"]) >= 3 and all(r.value is not None for r in ranked["community"])
    stats = public.community_statistics(community)
    assert sum(stats.totals.values()) > 100 and stats.done_count >= 1
