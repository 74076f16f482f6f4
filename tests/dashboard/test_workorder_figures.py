"""The dashboard and the 12345 work order (issue #20): a return visit's answer moves the satisfaction rate
like a resident's rating; an upheld appeal takes the rating out of both rates and the page counts the
ratings removed and links to them."""
from datetime import timedelta

from portal.clock import utcnow
from portal.extensions import db
from portal.issues import services
from tests.dashboard.test_views import _table_rows

H = timedelta(hours=1)


def rated_hotline(w, satisfaction, solved):
    now = utcnow() - 4 * H
    issue = services.report_from_hotline(w.x, category=w.categories["lift"], title="电梯停运", description="",
                                         reporter_name="王先生", reporter_phone="13512345678", now=now)
    services.sign_for(w.property_x, issue, now=now + H)
    services.resolve_issue(w.property_x, issue, "修好了", caller_contacted=True, contact_method="phone",
                           now=now + 2 * H)
    issue.reopen_count = 1  # a dissatisfied answer closes it instead of reopening
    services.record_return_visit(w.official_a, issue, contacted=True, solved=solved, satisfaction=satisfaction,
                                 now=now + 3 * H)
    db.session.commit()
    return issue


def overall(client):
    rows = _table_rows(client.get("/dashboard").get_data(as_text=True))
    return rows["The three rates"][1], rows["Ratings removed by upheld appeals"][1]


def test_return_visits_and_appeals_on_the_dashboard(client, auth, world):
    auth.login(world.official_a)
    rates, removed = overall(client)
    # The world's two resident issues: resolved and satisfied, 2 of 2.
    assert rates[5:11] == ["2", "2", "100.0", "2", "2", "100.0"] and removed[1] == "0"
    good = rated_hotline(world, "basically_satisfied", True)
    bad = rated_hotline(world, "dissatisfied", False)
    rates, removed = overall(client)
    assert rates[5:11] == ["3", "4", "75.0", "3", "4", "75.0"]
    services.appeal_rating(world.property_x, bad, "超出职权", now=utcnow())
    services.decide_appeal(world.official_a, bad, upheld=True, reason="属实", now=utcnow())
    db.session.commit()
    rates, removed = overall(client)
    assert rates[5:11] == ["3", "3", "100.0", "3", "3", "100.0"] and removed[1] == "1"
    page = client.get("/dashboard/issues?part=removed").get_data(as_text=True)
    assert f"#{bad.id} " in page and f"#{good.id} " not in page
    assert "Ratings removed by upheld appeals" in page
