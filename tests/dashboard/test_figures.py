"""Dashboard figures (portal.dashboard.services) on hand-made fixtures with known answers: every rate with
its numerator and denominator, zero denominators ("—"), local months at the boundary, medians (odd and even
counts), hotspots (mean + 2·SD exactly at and above the line, 3+ where none before), overdue issues and
actions (zone-aware), chases per organization, proposals by state, ballot participation. Runs on SQLite and,
with TEST_DATABASE_URL, PostgreSQL: the expected numbers are the same literals for both."""
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from portal.actions.models import Action, Chase
from portal.dashboard import services as S
from portal.extensions import db
from portal.issues.models import Issue, IssueCategory
from portal.proposals.models import Proposal
from portal.votes.models import Ballot, BallotLogEntry, BallotOption, BallotVote, BallotVoter
from tests.factories import gen_building, gen_community, gen_organization, gen_sub_district, gen_user

UTC = UTC
NOW = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)


def at(*args):
    return datetime(*args, tzinfo=UTC)


class World:
    pass


@pytest.fixture
def w(app):
    w = World()
    w.sd = gen_sub_district()
    w.other_sd = gen_sub_district()
    w.a = gen_community(w.sd, name="A community")
    w.b = gen_community(w.sd, name="B community")
    w.c = gen_community(w.other_sd, name="C elsewhere")
    w.b1, w.b2 = gen_building(w.a, code="1"), gen_building(w.a, code="2")
    w.b3 = gen_building(w.b, code="3")
    w.bc = gen_building(w.c, code="9")
    w.pc = gen_organization("property_company", community=w.a, name="PC A")
    w.dept = gen_organization("department", sub_district=w.sd, name="Dept")
    w.pc_c = gen_organization("property_company", community=w.c, name="PC C")
    w.user = gen_user()

    def cat(community, code, name):
        c = IssueCategory(community_id=community.id, code=code, name=name, respond_hours=24, resolve_hours=168)
        db.session.add(c)
        return c
    w.a_lift, w.a_water = cat(w.a, "lift", "Lift"), cat(w.a, "water", "Water")
    w.b_lift, w.c_lift = cat(w.b, "lift", "Lift"), cat(w.c, "lift", "Lift")
    db.session.commit()
    return w


def issue(w, community, category, submitted, *, respond_h=24, fr=None, resolved=None, rr=None, rs=None,
          status="in_progress", org=None, building=None, resolve_h=168):
    i = Issue(community_id=community.id, category_id=category.id, title="t", reporter_id=w.user.id,
              submitted_at=submitted, respond_by=submitted + timedelta(hours=respond_h),
              resolve_by=submitted + timedelta(hours=resolve_h),
              first_response_at=None if fr is None else submitted + timedelta(hours=fr),
              resolved_at=None if resolved is None else submitted + timedelta(hours=resolved),
              rating_resolved=rr, rating_satisfaction=rs, status=status,
              handling_org_id=org.id if org else None, building_id=building.id if building else None)
    db.session.add(i)
    return i


def filters(w, communities=None, f="2026-01", t="2026-03", **kw):
    return S.Filters(sub_district=w.sd, communities=communities, month_from=S.parse_month(f),
                     month_to=S.parse_month(t), **kw)


@pytest.fixture
def rated(w):
    jan = at(2026, 1, 10, 2)
    w.i1 = issue(w, w.a, w.a_lift, jan, fr=1, resolved=10, rr=True, rs="satisfied", status="closed", org=w.pc)
    w.i2 = issue(w, w.a, w.a_lift, jan, fr=30, resolved=50, rr=False, rs="dissatisfied", status="closed", org=w.pc)
    w.i3 = issue(w, w.a, w.a_lift, jan, org=w.pc)  # respond-by passed, never responded
    w.i4 = issue(w, w.a, w.a_water, at(2026, 2, 3), fr=2, resolved=4, rr=True, rs="basically_satisfied",
                 status="closed", org=w.dept)
    w.i5 = issue(w, w.a, w.a_water, at(2026, 2, 3), fr=1, status="duplicate", org=w.dept)  # left out
    w.i6 = issue(w, w.b, w.b_lift, at(2026, 3, 15, 0))  # respond-by still ahead of NOW
    # 2025-12-31 17:00 UTC is 2026-01-01 01:00 in Shanghai: January.
    w.i7 = issue(w, w.a, w.a_lift, at(2025, 12, 31, 17), fr=3)
    # 2026-03-31 16:30 UTC is 2026-04-01 00:30 in Shanghai: outside the period.
    w.i8 = issue(w, w.a, w.a_lift, at(2026, 3, 31, 16, 30), fr=1)
    w.i9 = issue(w, w.c, w.c_lift, jan, fr=1, rr=True, rs="satisfied")  # another sub-district
    db.session.commit()
    return w


def parts(row):
    return tuple((r.numerator, r.denominator) for r in (row.response, row.resolution, row.satisfaction))


def test_rates_overall_with_numerators_and_denominators(rated):
    w = rated
    rates = S.three_rates(filters(w), now=NOW)
    (overall,) = rates["overall"]
    assert overall.issues == 6
    assert parts(overall) == ((3, 5), (2, 3), (2, 3))
    assert (overall.response.percent(), overall.resolution.percent(), overall.satisfaction.percent()) == \
        ("60.0", "66.7", "66.7")
    assert overall.resolution.percent(2) == "66.67"
    assert overall.resolution.fraction() == Fraction(2, 3)


def test_rates_by_community_category_org_month(rated):
    w = rated
    rates = S.three_rates(filters(w), now=NOW)
    by = {g: {r.key: r for r in rates[g]} for g in ("community", "category", "org", "month")}
    assert [r.label for r in rates["community"]] == ["A community", "B community"]
    assert parts(by["community"][w.a.id]) == ((3, 5), (2, 3), (2, 3))
    b = by["community"][w.b.id]
    assert b.issues == 1 and parts(b) == ((0, 0), (0, 0), (0, 0))
    assert b.response.percent() == "—" and str(b.satisfaction) == "—"
    assert by["category"]["lift"].issues == 5 and parts(by["category"]["lift"]) == ((2, 4), (1, 2), (1, 2))
    assert parts(by["category"]["water"]) == ((1, 1), (1, 1), (1, 1))
    assert parts(by["org"][w.pc.id]) == ((1, 3), (1, 2), (1, 2))
    assert by["org"][w.pc.id].label == "PC A"
    assert by["org"][w.dept.id].issues == 1
    assert by["org"][None].label == "—" and by["org"][None].issues == 2
    assert [r.key for r in rates["month"]] == ["2026-01", "2026-02", "2026-03"]
    assert by["month"]["2026-01"].issues == 4 and parts(by["month"]["2026-01"])[0] == (2, 4)
    assert parts(by["month"]["2026-02"])[0] == (1, 1)
    assert by["month"]["2026-03"].issues == 1 and by["month"]["2026-03"].response.percent() == "—"
    assert S.monthly_trend(filters(w), now=NOW) == rates["month"]


def test_rates_empty_period_show_dashes(w):
    (overall,) = S.three_rates(filters(w), now=NOW)["overall"]
    assert overall.issues == 0
    assert [r.percent() for r in (overall.response, overall.resolution, overall.satisfaction)] == ["—"] * 3


def test_filters_narrow_the_figures(rated):
    w = rated
    (o,) = S.three_rates(filters(w, communities=[w.b]), now=NOW)["overall"]
    assert o.issues == 1
    (o,) = S.three_rates(filters(w, category_code="water"), now=NOW)["overall"]
    assert o.issues == 1 and parts(o) == ((1, 1), (1, 1), (1, 1))
    (o,) = S.three_rates(filters(w, category_id=w.a_lift.id), now=NOW)["overall"]
    assert o.issues == 4
    (o,) = S.three_rates(filters(w, org_id=w.pc.id), now=NOW)["overall"]
    assert o.issues == 3
    (o,) = S.three_rates(filters(w, f="2026-02", t="2026-02"), now=NOW)["overall"]
    assert o.issues == 1


def test_click_through_sets_match_the_numbers(rated):
    w = rated
    f = filters(w)
    assert set(S.issue_ids_behind(f, "response", "numerator", now=NOW)) == {w.i1.id, w.i4.id, w.i7.id}
    assert set(S.issue_ids_behind(f, "response", "denominator", now=NOW)) == {w.i1.id, w.i2.id, w.i3.id,
                                                                             w.i4.id, w.i7.id}
    assert set(S.issue_ids_behind(f, "resolution", "numerator", now=NOW)) == {w.i1.id, w.i4.id}
    assert set(S.issue_ids_behind(f, "satisfaction", "denominator", now=NOW)) == {w.i1.id, w.i2.id, w.i4.id}
    assert S.issue_ids_behind(f, "response", "denominator", group="month", key="2026-02", now=NOW) == [w.i4.id]
    assert set(S.issue_ids_behind(f, "response", "numerator", group="category", key="lift", now=NOW)) == \
        {w.i1.id, w.i7.id}
    assert set(S.issue_ids_behind(f, "response", "denominator", group="org", key=None, now=NOW)) == {w.i7.id}
    assert S.issue_ids_behind(f, "response", "denominator", group="community", key=w.b.id, now=NOW) == []
    assert len(S.issue_ids_behind(f, "response", "denominator", now=NOW, limit=2)) == 2
    for bad in (("speed", "numerator"), ("response", "top")):
        with pytest.raises(S.FilterError):
            S.issues_behind(f, *bad)
    with pytest.raises(S.FilterError):
        S.issues_behind(f, "response", "numerator", group="month", key="2026-13")


def test_medians_even_and_odd_counts(rated):
    w = rated
    first = S.median_hours(filters(w), "first_response")  # 1, 2, 3, 30 hours → 2.5
    assert first.count == 4 and first.hours == Fraction(5, 2) and first.text() == "2.5"
    res = S.median_hours(filters(w), "resolution")  # 4, 10, 50 → 10
    assert res.count == 3 and res.hours == 10 and res.text() == "10.0"
    empty = S.median_hours(filters(w, f="2025-01", t="2025-02"), "resolution")
    assert empty.count == 0 and empty.text() == "—"
    with pytest.raises(S.FilterError):
        S.median_hours(filters(w), "lunch")


def test_median_truncates_to_whole_seconds(w):
    t = at(2026, 1, 5, 8, 0, 0)
    i = issue(w, w.a, w.a_lift, t.replace(microsecond=900000), fr=None)
    i.first_response_at = t + timedelta(seconds=10, microseconds=100000)
    db.session.commit()
    assert S.median_hours(filters(w), "first_response").seconds == 10


def test_bad_filters(w):
    for bad in ("2026-13", "2026-00", "26-01", "", "abc", "2026-1"):
        with pytest.raises(S.FilterError):
            S.parse_month(bad)
    with pytest.raises(S.FilterError):
        S.three_rates(filters(w, f="2026-03", t="2026-01"))
    with pytest.raises(S.FilterError):
        S.three_rates(filters(w, communities=[w.c]))


def test_hotspots(w):
    def series(building, category, counts, march):
        months = [date(2025, 9, 1), date(2025, 10, 1), date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1),
                  date(2026, 2, 1)]
        community = {w.b1.id: w.a, w.b2.id: w.a, w.b3.id: w.b}[building.id]
        for m, n in list(zip(months, counts)) + [(date(2026, 3, 1), march)]:
            for k in range(n):
                issue(w, community, category, at(m.year, m.month, 10 + k), building=building)
    series(w.b1, w.a_lift, [1, 1, 1, 1, 1, 1], 2)  # SD 0: 2 > 1 → hotspot
    series(w.b1, w.a_water, [0, 2, 0, 2, 0, 2], 3)  # mean 1, SD 1: 3 is not above 3
    series(w.b2, w.a_lift, [0] * 6, 3)  # none before, 3 now → new
    series(w.b2, w.a_water, [0] * 6, 2)  # none before, only 2
    series(w.b3, w.b_lift, [0, 2, 0, 2, 0, 2], 4)  # 4 > 3 → hotspot
    issue(w, w.a, w.a_water, at(2026, 3, 20), building=w.b2, status="duplicate")  # left out
    for _ in range(5):
        issue(w, w.a, w.a_water, at(2026, 3, 20), building=None)  # no building: not counted
    db.session.commit()
    found = S.hotspots(filters(w), date(2026, 3, 1))
    got = {(h.building_id, h.category_code): (h.count, h.baseline, h.reason) for h in found}
    assert got == {
        (w.b1.id, "lift"): (2, (1, 1, 1, 1, 1, 1), "above_baseline"),
        (w.b2.id, "lift"): (3, (0,) * 6, "new"),
        (w.b3.id, "lift"): (4, (0, 2, 0, 2, 0, 2), "above_baseline"),
    }
    assert [h.count for h in found] == [4, 3, 2]
    assert found[0].community_name == "B community" and found[0].month == "2026-03" and found[0].mean == 1
    assert S.hotspots(filters(w, communities=[w.a]), date(2026, 3, 1))[0].building_id == w.b2.id
    assert {h.category_code for h in S.hotspots(filters(w, category_code="water"), date(2026, 3, 1))} == set()
    # One more water issue in March on building 1 crosses the line (4 > 1 + 2·1).
    issue(w, w.a, w.a_water, at(2026, 3, 25), building=w.b1)
    db.session.commit()
    assert any(h.building_id == w.b1.id and h.category_code == "water"
               for h in S.hotspots(filters(w), date(2026, 3, 1)))
    # The building rollups read what the issues say, whatever the filters.
    for f in (filters(w), filters(w, communities=[w.a]), filters(w, category_code="lift"),
              filters(w, category_id=w.a_water.id), filters(w, org_id=w.pc.id)):
        for month in (date(2026, 3, 1), date(2026, 2, 1), date(2026, 4, 1)):
            assert S.hotspots(f, month) == S.hotspots_direct(f, month)


def test_open_and_overdue_by_community(w):
    issue(w, w.a, w.a_lift, NOW - timedelta(days=10), fr=1)  # responded, resolve-by passed → overdue
    issue(w, w.a, w.a_lift, NOW - timedelta(days=2))  # never responded, respond-by passed → overdue
    issue(w, w.a, w.a_lift, NOW - timedelta(hours=1))  # open, in time
    issue(w, w.a, w.a_lift, NOW - timedelta(days=30), fr=1, resolved=2, status="resolved")  # not open
    issue(w, w.a, w.a_lift, NOW - timedelta(days=30), status="duplicate")
    issue(w, w.c, w.c_lift, NOW - timedelta(days=30))  # another sub-district
    db.session.commit()
    rows = S.open_and_overdue_by_community(filters(w), now=NOW)
    assert rows == [{"community_id": w.a.id, "name": "A community", "open": 3, "overdue": 2},
                    {"community_id": w.b.id, "name": "B community", "open": 0, "overdue": 0}]


def test_overdue_actions_by_org_in_the_community_zone(w):
    now = at(2026, 3, 15, 20)  # 2026-03-16 04:00 in Shanghai

    def action(org, due, status="in_progress", community=None):
        a = Action(community_id=(community or w.a).id, title="x", source="issue", responsible_org_id=org.id,
                   due_date=due, status=status, created_by_id=w.user.id, created_at=now - timedelta(days=40),
                   blocked_reason="waiting" if status == "blocked" else None)
        db.session.add(a)
    action(w.pc, date(2026, 3, 15))  # due yesterday in Shanghai (today in UTC) → overdue
    action(w.pc, date(2026, 3, 16))  # due today: not yet
    action(w.pc, date(2026, 1, 1), status="done")  # done: neither
    action(w.dept, date(2026, 2, 1), status="blocked", community=w.b)
    action(w.pc_c, date(2026, 1, 1), community=w.c)  # another sub-district
    db.session.commit()
    assert S.overdue_actions_by_org(filters(w), now=now) == [
        {"org_id": w.dept.id, "name": "Dept", "open": 1, "overdue": 1},
        {"org_id": w.pc.id, "name": "PC A", "open": 2, "overdue": 1}]
    assert S.overdue_actions_by_org(filters(w, org_id=w.dept.id), now=now)[0]["org_id"] == w.dept.id


def test_chases_by_org(w):
    def chase(org, kind, created, community=None):
        db.session.add(Chase(item_type=kind, item_id=1, community_id=(community or w.a).id, organization_id=org.id,
                             official_id=w.user.id, note="n", new_due=created + timedelta(days=3),
                             created_at=created))
    chase(w.pc, "issue", at(2026, 1, 5))
    chase(w.pc, "issue", at(2026, 3, 31, 15))  # 23:00 in Shanghai, still March
    chase(w.dept, "action", at(2026, 2, 5), community=w.b)
    chase(w.pc, "action", at(2025, 12, 31, 15))  # 23:00 Dec 31 local: before the period
    chase(w.pc_c, "issue", at(2026, 1, 5), community=w.c)
    db.session.commit()
    assert S.chases_by_org(filters(w)) == [
        {"org_id": w.pc.id, "name": "PC A", "issues": 2, "actions": 0, "total": 2},
        {"org_id": w.dept.id, "name": "Dept", "issues": 0, "actions": 1, "total": 1}]


def test_proposals_by_state_and_ballot_participation(w):
    def proposal(community, status):
        p = Proposal(community_id=community.id, author_id=w.user.id, title="p", status=status)
        db.session.add(p)
        db.session.flush()
        return p
    p1 = proposal(w.a, "voting")
    proposal(w.a, "voting")
    proposal(w.b, "implementing")
    proposal(w.a, "draft")
    proposal(w.c, "voting")
    counts = {r["state"]: r["count"] for r in S.proposals_by_state(filters(w))}
    assert counts["voting"] == 2 and counts["implementing"] == 1 and counts["evaluated"] == 0
    assert "draft" not in counts

    def ballot(p, community, frozen, electorate, cast):
        b = Ballot(proposal_id=p.id, community_id=community.id, organization_id=w.pc.id, opened_by_id=w.user.id,
                   method="residents", question="q?", status="closed", opens_at=frozen,
                   closes_at=frozen + timedelta(days=7), frozen_at=frozen)
        db.session.add(b)
        db.session.flush()
        opt = BallotOption(ballot_id=b.id, position=1, code="yes", label="Yes")
        db.session.add(opt)
        db.session.flush()
        for k in range(electorate):
            v = BallotVoter(ballot_id=b.id, kind="resident", label=f"v{k}")
            db.session.add(v)
            db.session.flush()
            if k < cast:
                e = BallotLogEntry(ballot_id=b.id, seq=k + 1, voter_id=v.id, option_id=opt.id, headcount=1,
                                   area_cm=0, cast_by_id=w.user.id, at=frozen, receipt=f"r{b.id}-{k}",
                                   prev_hash="0" * 64, hash="1" * 64)
                db.session.add(e)
                db.session.flush()
                db.session.add(BallotVote(ballot_id=b.id, voter_id=v.id, option_id=opt.id, entry_id=e.id,
                                              cast_by_id=w.user.id))
        return b
    b1 = ballot(p1, w.a, at(2026, 1, 10), 4, 3)
    b2 = ballot(p1, w.a, at(2026, 2, 10), 3, 0)
    ballot(p1, w.a, at(2025, 11, 10), 5, 5)  # before the period
    db.session.commit()
    got = S.ballot_participation(filters(w))
    assert [(r["ballot_id"], r["rate"]) for r in got["rows"]] == [(b2.id, S.Rate(0, 3)), (b1.id, S.Rate(3, 4))]
    assert got["overall"] == S.Rate(3, 7) and got["overall"].percent() == "42.9"
    assert got["rows"][1]["rate"].percent() == "75.0"


def test_rate_percent_rounding():
    assert S.Rate(1, 8).percent() == "12.5"
    assert S.Rate(1, 8).percent(0) == "13"
    assert S.Rate(1, 3).percent(2) == "33.33"
    assert S.Rate(2, 3).percent(2) == "66.67"
    assert S.Rate(1, 200).percent(1) == "0.5"
    assert S.Rate(0, 5).percent() == "0.0"
    assert S.Rate(5, 5).percent() == "100.0"
    assert S.Rate(0, 0).percent() == "—"


def test_summary_runs_in_constant_statements(rated):
    from tests.queries import count_statements
    w = rated
    few = count_statements(lambda: S.summary(filters(w), now=NOW))
    for k in range(30):
        issue(w, w.b, w.b_lift, at(2026, 2, 1 + k % 27), fr=k % 40, rr=bool(k % 2), rs="satisfied",
              building=w.b3)
    db.session.commit()
    assert count_statements(lambda: S.summary(filters(w), now=NOW)) == few == 13  # 12 figures, +1 communities
