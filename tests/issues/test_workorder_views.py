"""The work order's pages (issue #20): each step through its form, refusals on the same form with the
typing kept, the caller's full number only for the handling organization's staff (audited), the page of
a hotline issue for every role."""
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.issues import services
from portal.issues.models import Issue
from tests.records import audit
from tests.residents import post

H = timedelta(hours=1)


def hotline(world):
    from portal.clock import utcnow
    issue = services.report_from_hotline(world.x, category=world.categories["lift"], title="电梯停运",
                                         description="12345 来电", reporter_name="王先生",
                                         reporter_phone="13512345678", now=utcnow() - H)
    db.session.commit()
    return issue


def url(issue, tail=""):
    return f"/c/{issue.community.slug}/issues/{issue.id}{tail}"


def test_the_property_staff_sign_for_it_on_the_page(client, auth, world):
    issue = hotline(world)
    auth.login(world.property_x)
    page = client.get(url(issue)).get_data(as_text=True)
    assert "12345 work order" in page and "Sign for it" in page and "Send it back" in page
    assert "13512345678" not in page and "135****5678" in page
    response = post(client, url(issue, "/sign"), data={"sign-note": "马上派人"})
    assert response.status_code == 302
    db.session.expire_all()
    issue = db.session.get(Issue, issue.id)
    assert issue.signed_at is not None and issue.status == "accepted"


def test_send_back_without_words_keeps_the_choice_and_says_why(client, auth, world):
    issue = hotline(world)
    auth.login(world.property_x)
    response = post(client, url(issue, "/send-back"), data={"sendback-reason": "wrong_address", "sendback-text": ""})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Say why the work order is sent back." in page and 'checked id="sendback-reason-1"' in page
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).work_order_state is None


def test_the_whole_work_order_through_the_pages(client, auth, world):
    issue = hotline(world)
    auth.login(world.property_x)
    assert post(client, url(issue, "/sign"), data={}).status_code == 302
    db.session.expire_all()
    issue = db.session.get(Issue, issue.id)
    from zoneinfo import ZoneInfo

    from portal.clock import DEFAULT_TIME_ZONE
    day = (issue.resolve_by.astimezone(ZoneInfo(issue.community.time_zone or DEFAULT_TIME_ZONE))
           + timedelta(days=2)).date().isoformat()
    bad = post(client, url(issue, "/extension"), data={"extension-reason": "等配件", "extension-proposed": "soon"})
    assert bad.status_code == 200 and "Write a date such as" in bad.get_data(as_text=True)
    assert post(client, url(issue, "/extension"), data={"extension-reason": "等配件",
                                                       "extension-proposed": day}).status_code == 302
    db.session.expire_all()
    before = db.session.get(Issue, issue.id).resolve_by
    auth.logout()
    auth.login(world.official_a)
    assert "Decide the request for more time" in client.get(url(issue)).get_data(as_text=True)
    assert post(client, url(issue, "/extension/decide"), data={"extdecision-decision": "approve"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).resolve_by == before + timedelta(days=2)
    auth.logout()
    auth.login(world.property_x)
    bad = post(client, url(issue, "/resolve"), data={"resolve-note": "修好了"})
    assert bad.status_code == 200 and "Say whether the caller was contacted." in bad.get_data(as_text=True)
    assert post(client, url(issue, "/resolve"), data={"resolve-note": "修好了", "resolve-caller_contacted": "yes",
                                                     "resolve-contact_method": "phone"}).status_code == 302
    auth.logout()
    auth.login(world.official_a)
    assert "Return visit: attempt 1 of 3" in client.get(url(issue)).get_data(as_text=True)
    assert post(client, url(issue, "/return-visit"), data={
        "visit-contacted": "yes", "visit-solved": "yes", "visit-satisfaction": "basically_satisfied",
        "visit-words": "还可以"}).status_code == 302
    db.session.expire_all()
    db.session.expire_all()
    issue = db.session.get(Issue, issue.id)
    assert issue.status == "closed" and issue.rating_satisfaction == "basically_satisfied"
    page = client.get(url(issue)).get_data(as_text=True)
    assert "The caller&#39;s answer (return visit)" in page or "The caller's answer (return visit)" in page
    assert "Caller contacted: By phone" in page


def test_the_callers_full_number_only_for_the_handling_staff_and_audited(client, auth, world):
    issue = hotline(world)
    for person in (world.official_a, world.department_a, world.reporter, world.admin):
        auth.login(person)
        assert client.get(url(issue, "/caller")).status_code == 403
        auth.logout()
    auth.login(world.property_x)
    response = client.get(url(issue, "/caller"))
    assert response.status_code == 200 and "13512345678" in response.get_data(as_text=True)
    assert len(audit("issue.caller_phone_viewed")) == 1


@pytest.mark.parametrize("who", ["official_a", "department_a", "reporter", "neighbour", "admin", "stranger"])
def test_the_work_order_steps_are_refused_to_whoever_may_not(client, auth, world, who):
    issue = hotline(world)
    auth.login(getattr(world, who))
    response = post(client, url(issue, "/sign"), data={})
    expected = 302 if who == "admin" else 403
    assert response.status_code in ((expected,) if who != "neighbour" and who != "stranger" else (403, 404))
