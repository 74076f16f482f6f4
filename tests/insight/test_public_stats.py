"""A community's public statistics (居务公开): issues by category and month, the three rates, actions done and
the proactive share, no person named; the community page links to it; anyone sees a public community's,
only members a members-only one's; an anonymous visitor's answer may be cached and is revalidated by its
ETag. SQLite and PostgreSQL."""
from datetime import date, timedelta

from portal.actions.services import create_action
from portal.clock import utcnow
from portal.extensions import db
from portal.insight import public as P
from portal.insight import services as S
from tests.conftest import Auth
from tests.issues import gen_issue


def some_issues(w):
    now = utcnow()
    gen_issue(w, title="Lift stuck", now=now - timedelta(minutes=5))
    gen_issue(w, title="Lift noisy", now=now - timedelta(minutes=4))
    gen_issue(w, category="rubbish", title="Bins full", now=now - timedelta(minutes=3))
    S.log_patrol(w.grid_worker, w.x, checked="Lifts of building 3", building=w.bx,
                 finding={"category": w.categories["lift"], "title": "Lift door does not close"})
    done = create_action(w.official_a, w.x, source="hotspot", title="Lift overhaul", responsible_org=w.pc_x,
                         due_date=date.today() + timedelta(days=20),
                         hotspot={"building": w.bx, "category": w.categories["lift"],
                                  "month": S.month_text(S.current_month(w.x))})
    done.status, done.done_at = "done", utcnow()
    create_action(w.official_a, w.x, source="hotspot", title="Not done yet", responsible_org=w.pc_x,
                  due_date=date.today() + timedelta(days=20),
                  hotspot={"building": w.bx, "category": w.categories["lift"],
                           "month": S.month_text(S.current_month(w.x))})
    db.session.commit()
    return done


def test_the_figures_of_the_last_twelve_months(world):
    w = world
    some_issues(w)
    stats = P.community_statistics(w.x)
    month = S.current_month(w.x)
    assert len(stats.months) == 12 and stats.months[-1] == month
    assert stats.counts[(w.categories["lift"].id, month)] == 3
    assert stats.counts[(w.categories["rubbish"].id, month)] == 1
    assert stats.totals[month] == 4 and sum(stats.totals.values()) == 4
    assert (stats.shares[month].proactive, stats.shares[month].issues) == (1, 4)
    assert stats.rates.issues == 4
    assert stats.done_count == 1 and [a.title for a in stats.recent_done] == ["Lift overhaul"]


def test_a_visitor_sees_the_page_without_any_name_and_may_cache_it(client, world):
    w = world
    done = some_issues(w)
    answer = client.get("/c/x/statistics")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Issues by category and month" in page and "<caption" in page and "<svg" in page
    assert f"/c/x/actions/{done.id}" in page and "Not done yet" not in page
    assert "Proactive share = " in page and "25.0%" in page
    for person in (w.reporter, w.grid_worker):
        assert person.display_name not in page and person.phone not in page
    assert "public" in answer.headers["Cache-Control"] and answer.headers.get("ETag")
    again = client.get("/c/x/statistics", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304
    assert 'href="/c/x/statistics"' in client.get("/c/x").get_data(as_text=True)


def test_a_members_only_communitys_statistics_are_for_its_members(client, world):
    w = world
    some_issues(w)
    w.x.members_only = True
    db.session.commit()
    assert client.get("/c/x/statistics").status_code == 302  # to the sign-in page
    Auth(client).login(w.resident_y)
    assert client.get("/c/x/statistics").status_code == 403
    Auth(client).logout()
    Auth(client).login(w.reporter)
    answer = client.get("/c/x/statistics")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "private, no-cache"


def test_the_page_costs_the_same_statements_with_more_issues_and_actions(client, world):
    from tests.queries import count_queries
    w = world
    gen_issue(w, title="Lift stuck")
    db.session.commit()
    before = count_queries(client, "/c/x/statistics")
    some_issues(w)
    assert count_queries(client, "/c/x/statistics") == before
