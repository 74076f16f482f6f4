"""Rankings: competition ranking with ties (1, 2, 2, 4), "—" ranked last, by the three rates, demand per
1,000 households and the proactive share, on a hand-made month; who may see them; a bad month on the same
page. SQLite and PostgreSQL."""
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from portal.extensions import db
from portal.insight import rankings as R
from tests.conftest import Auth
from tests.factories import gen_building, gen_community, gen_household
from tests.issues import gen_issue

JUNE = 2026 * 12 + 5


def test_ties_share_a_rank_the_next_skips_and_nothing_to_count_comes_last():
    values = [Fraction(1, 2), Fraction(3, 4), None, Fraction(1, 2), Fraction(1, 4), None]
    assert R.competition_ranks(values) == [2, 1, 5, 2, 4, 5]
    assert R.competition_ranks([None, None]) == [1, 1]
    assert R.competition_ranks([]) == []


def june_world(w):
    """x: 2 issues, 2 households, both answered in time by its property company; y: 2 issues, 2 households, one
    answered in time by its residents' committee, one left past its respond-by time with the department;
    "Busy": 1 household and no issue; "Quiet": nothing at all."""
    from portal.issues import services as issues
    gen_household(w.by, entrance="2", room="0102")
    w.busy = gen_community(w.sd_a, name="Busy", slug="busy")
    gen_household(gen_building(w.busy, code="1", name="B1"))
    w.quiet = gen_community(w.sd_a, name="Quiet", slug="quiet")
    y_lift = next(c for c in issues.ensure_default_categories(w.y) if c.code == "lift")
    at = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
    made = [(gen_issue(w, title="Lift 1", now=at), w.pc_x, True),
            (gen_issue(w, title="Lift 2", now=at + timedelta(days=1)), w.pc_x, True),
            (gen_issue(w, reporter=w.resident_y, community=w.y, category=y_lift, title="Lift Y", now=at), w.rc_y,
             True),
            (gen_issue(w, reporter=w.resident_y, community=w.y, category=y_lift, title="Lift Y2", now=at), w.dept_a,
             False)]
    for issue, org, answered in made:
        issue.handling_org_id = org.id
        if answered:
            issue.first_response_at = issue.submitted_at + timedelta(hours=1)
    db.session.commit()


def rows(ranked):
    return [(r.label, r.rank, r.text) for r in ranked]


def test_demand_per_thousand_households_ties_and_a_community_without_households_comes_last(world):
    w = world
    june_world(w)
    found = R.rankings(w.sd_a, JUNE, "demand")
    assert rows(found["community"]) == [("Huajiadi", 1, "1000.0"), ("Nanhu", 1, "1000.0"), ("Busy", 3, "0.0"),
                                        ("Quiet", 4, "—")]
    assert found["org"] == []


def test_the_response_rate_ranks_organizations_with_a_tie_and_communities_with_dashes_last(world):
    w = world
    june_world(w)
    found = R.rankings(w.sd_a, JUNE, "response")
    assert rows(found["community"]) == [("Huajiadi", 1, "100.0%"), ("Nanhu", 2, "50.0%"), ("Busy", 3, "—"),
                                        ("Quiet", 3, "—")]
    orgs = rows(found["org"])
    assert orgs[:2] == sorted([(w.pc_x.name, 1, "100.0%"), (w.rc_y.name, 1, "100.0%")])
    assert orgs[2] == (w.dept_a.name, 3, "0.0%")
    satisfaction = R.rankings(w.sd_a, JUNE, "satisfaction")["community"]
    assert {r.rank for r in satisfaction} == {1} and {r.text for r in satisfaction} == {"—"}


def test_the_proactive_share_ties_at_zero(world):
    w = world
    june_world(w)
    assert rows(R.rankings(w.sd_a, JUNE, "proactive")["community"]) == [
        ("Huajiadi", 1, "0.0%"), ("Nanhu", 1, "0.0%"), ("Busy", 3, "—"), ("Quiet", 3, "—")]


def test_the_official_sees_the_rankings_with_their_formula_and_others_may_not(client, world):
    w = world
    june_world(w)
    path = f"/sub-districts/{w.sd_a.id}/rankings"
    Auth(client).login(w.official_a)
    page = client.get(f"{path}?month=2026-06&by=demand").get_data(as_text=True)
    assert "Demand per 1,000 households = issues submitted in the month" in page
    assert "competition ranking" in page and "<caption" in page and "1000.0" in page
    assert client.get(f"/dashboard?sub_district={w.sd_a.id}").get_data(as_text=True).count(path) == 1
    for person in (w.chair_x, w.reporter, w.official_b):
        Auth(client).logout()
        Auth(client).login(person)
        assert client.get(path).status_code == 403, person


def test_a_month_that_is_not_a_month_is_said_on_the_same_form_with_the_typing_kept(client, world):
    w = world
    Auth(client).login(w.official_a)
    answer = client.get(f"/sub-districts/{w.sd_a.id}/rankings?month=2026-13&by=nonsense")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'value="2026-13"' in page and 'aria-invalid="true"' in page and "not a real month" in page
    assert "Choose one of the measures listed." in page
