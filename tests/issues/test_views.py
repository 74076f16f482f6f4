"""Issue pages: who sees what, what each form does with bad input, and the constant number of queries."""
import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from portal.clock import utcnow
from portal.extensions import db
from portal.issues import services
from portal.issues.models import Issue, IssuePhoto, IssueSupport
from tests.factories import gen_building, gen_community, gen_household, gen_residency
from tests.issues import gen_issue
from tests.queries import count_queries, recorded_statements
from tests.residents import post


def png_bytes(size=(64, 48), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def report_data(world, **overrides):
    data = {"title": "Lift stuck again", "description": "Between floors 3 and 4.",
            "category": world.categories["lift"].id, "building": world.bx.id}
    data.update(overrides)
    return data


def issue_count() -> int:
    return db.session.scalar(db.select(db.func.count(Issue.id)))


def html_of(response) -> str:
    return response.get_data(as_text=True)


# --- the list ------------------------------------------------------------------------------------------

def test_community_list_is_public_and_offers_reporting_to_verified_residents(client, auth, world):
    gen_issue(world, title="Broken gate light")
    db.session.commit()
    page = html_of(client.get("/c/x/issues"))
    assert "Broken gate light" in page and "Report an issue" not in page
    auth.login(world.reporter)
    page = html_of(client.get("/c/x/issues"))
    assert "Broken gate light" in page and "/c/x/issues/new" in page


def test_members_only_community_list_needs_a_member(client, auth, world):
    world.x.members_only = True
    db.session.commit()
    assert client.get("/c/x/issues").status_code == 302
    auth.login(world.stranger)
    assert client.get("/c/x/issues").status_code == 403
    auth.logout()
    auth.login(world.reporter)
    assert client.get("/c/x/issues").status_code == 200


def test_list_filters_by_status_and_building_and_sorts(client, world):
    gen_issue(world, title="Lift stuck on floor 3")
    other = gen_issue(world, title="Rubbish at the gate", category="rubbish")
    services.reject_issue(world.admin, other, "Not ours")
    db.session.commit()
    page = html_of(client.get("/c/x/issues?status=open&sort=supported"))
    assert "Lift stuck" in page and "Rubbish at the gate" not in page
    page = html_of(client.get(f"/c/x/issues?building={world.by.id}"))  # another community's building: ignored
    assert "Lift stuck" in page
    page = html_of(client.get("/c/x/issues?status=rejected"))
    assert "Rubbish at the gate" in page and "Lift stuck" not in page


def test_load_more_pages_with_a_cursor_and_appends_with_htmx(client, world):
    for n in range(23):
        gen_issue(world, title=f"Issue number {n:02d}", now=utcnow() - timedelta(minutes=n))
    db.session.commit()
    page = html_of(client.get("/c/x/issues"))
    assert "Issue number 00" in page and "Issue number 22" not in page
    link = re.search(r'<a class="button button-secondary" href="([^"]+)" hx-get="([^"]+)"', page)
    assert link and "after=" in link.group(1) and 'hx-swap="outerHTML"' in page
    more_url = link.group(1).replace("&amp;", "&")
    plain = html_of(client.get(more_url))
    assert "Issue number 22" in plain and "<html" in plain
    fragment = html_of(client.get(more_url, headers={"HX-Request": "true"}))
    assert "Issue number 22" in fragment and "<html" not in fragment and "Load more" not in fragment


def test_a_broken_cursor_goes_back_to_the_first_page(client, world):
    response = client.get("/c/x/issues?after=garbage")
    assert response.status_code == 302 and response.headers["Location"].endswith("/c/x/issues")


def test_my_issues_and_the_handling_queue(client, auth, world):
    issue = gen_issue(world, title="Water leaking in the stairwell", category="leak",
                      now=utcnow() - timedelta(days=30))
    db.session.commit()
    auth.login(world.reporter)
    assert "Water leaking" in html_of(client.get("/my/issues"))
    assert "/handling" not in html_of(client.get("/my/issues"))  # residents have no queue link
    auth.logout()
    auth.login(world.neighbour)
    assert "Water leaking" not in html_of(client.get("/my/issues"))
    auth.logout()
    auth.login(world.property_x if issue.handling_org_id == world.pc_x.id else world.member_x)
    queue = html_of(client.get("/handling"))
    assert "Water leaking" in queue and "Overdue" in queue and "is-overdue" in queue
    assert 'href="/handling"' in queue


def test_queue_needs_sign_in(client):
    assert client.get("/handling").status_code == 302
    assert client.get("/my/issues").status_code == 302


# --- reporting ---------------------------------------------------------------------------------------------

def test_report_form_only_for_verified_residents(client, auth, world):
    assert client.get("/c/x/issues/new").status_code == 302
    auth.login(world.stranger)
    assert client.get("/c/x/issues/new").status_code == 403
    auth.logout()
    auth.login(world.resident_y)
    assert client.get("/c/x/issues/new").status_code == 403
    auth.logout()
    auth.login(world.reporter)
    page = html_of(client.get("/c/x/issues/new"))
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'<input[^>]*accept="image/\*"[^>]*multiple|<input[^>]*multiple[^>]*accept="image/\*"', page)
    assert 'hx-get="/c/x/issues/similar"' in page and 'hx-trigger="input changed delay:400ms"' in page
    assert 'name="check"' in page and "photo-shrink.js" in page
    assert re.search(rf'<option[^>]*selected[^>]*value="{world.bx.id}">Building 3<', page)  # their own building
    assert "<script>" not in page and "hx-on" not in page
    assert re.search(r'<input[^>]*name="show_name"', page) and "checked" not in \
        re.search(r'<input[^>]*name="show_name"[^>]*>', page).group(0)


def test_report_with_a_photo(client, auth, world):
    auth.login(world.reporter)
    data = report_data(world, photos=[(io.BytesIO(png_bytes()), "lift.png")], latitude="39.99", longitude="116.47")
    response = post(client, "/c/x/issues/new", data, content_type="multipart/form-data")
    assert response.status_code == 302
    issue = db.session.scalar(db.select(Issue))
    assert response.headers["Location"].endswith(f"/c/x/issues/{issue.id}")
    assert issue.title == "Lift stuck again" and issue.show_name is False and float(issue.latitude) == 39.99
    photo = db.session.scalar(db.select(IssuePhoto))
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert f"/issues/photos/{photo.key}-400.jpg" in page and f"/issues/photos/{photo.key}-1600.jpg" in page
    served = client.get(f"/issues/photos/{photo.key}-400.jpg")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "private, max-age=604800, immutable"
    assert client.get(f"/issues/photos/{photo.key}-300.jpg").status_code == 404
    assert client.get("/issues/photos/nosuchkey-400.jpg").status_code == 404


def renamed_pdf():
    return (io.BytesIO(b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"), "photo.jpg")


BAD_REPORTS = {
    "empty title": (lambda w: {"title": "  "}, "Give the issue a short title"),
    "long description": (lambda w: {"description": "x" * 20_000}, "At most 4000 characters"),
    "renamed pdf": (lambda w: {"photos": [renamed_pdf()]}, None),
    "seven photos": (lambda w: {"photos": [(io.BytesIO(png_bytes()), f"p{i}.png") for i in range(7)]},
                     "at most 6 photos"),
    "other community's building": (lambda w: {"building": w.by.id}, "Choose a building of this community"),
}


@pytest.mark.parametrize("case", BAD_REPORTS, ids=list(BAD_REPORTS))
def test_bad_report_keeps_the_input_and_writes_nothing(client, auth, world, case):
    changes, message = BAD_REPORTS[case]
    auth.login(world.reporter)
    data = report_data(world, description="Kept description text")
    data.update(changes(world))
    response = post(client, "/c/x/issues/new", data, content_type="multipart/form-data")
    assert response.status_code == 200
    page = html_of(response)
    assert 'class="error"' in page
    if message:
        assert message.lower() in page.lower()
    if case != "empty title":
        assert 'value="Lift stuck again"' in page
    if case != "long description":
        assert "Kept description text" in page
    db.session.rollback()
    assert issue_count() == 0 and db.session.scalar(db.select(db.func.count(IssuePhoto.id))) == 0


def test_a_half_given_position_is_refused(client, auth, world):
    auth.login(world.reporter)
    response = post(client, "/c/x/issues/new", report_data(world, latitude="abc"), content_type="multipart/form-data")
    assert response.status_code == 200 and "Write a number" in html_of(response)
    assert issue_count() == 0


def test_check_for_similar_without_javascript_keeps_the_input(client, auth, world):
    existing = gen_issue(world, reporter=world.neighbour, title="Lift stuck on floor 3")
    db.session.commit()
    auth.login(world.reporter)
    response = post(client, "/c/x/issues/new", report_data(world, title="lift stuck", check="1",
                                                           description="My words"))
    assert response.status_code == 200
    page = html_of(response)
    assert "Lift stuck on floor 3" in page and 'value="lift stuck"' in page and "My words" in page
    assert f'formaction="/c/x/issues/{existing.id}/support"' in page
    assert issue_count() == 1


def test_similar_partial_for_htmx(client, auth, world):
    gen_issue(world, reporter=world.neighbour, title="Lift stuck on floor 3")
    gen_issue(world, reporter=world.neighbour, title="Rubbish by the gate", category="rubbish")
    db.session.commit()
    auth.login(world.reporter)
    response = client.get("/c/x/issues/similar?title=lift%20stuck", headers={"HX-Request": "true"})
    page = html_of(response)
    assert response.status_code == 200 and "<html" not in page
    assert "Lift stuck on floor 3" in page and "Rubbish" not in page and "Me too" in page
    empty = html_of(client.get("/c/x/issues/similar?title=", headers={"HX-Request": "true"}))
    assert "Lift stuck" not in empty


def test_me_too_from_the_similar_list_counts_support_and_opens_the_issue(client, auth, world):
    existing = gen_issue(world, reporter=world.neighbour, title="Lift stuck on floor 3")
    db.session.commit()
    auth.login(world.reporter)
    response = post(client, f"/c/x/issues/{existing.id}/support", report_data(world, from_similar="1"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/c/x/issues/{existing.id}")
    assert issue_count() == 1
    db.session.expire_all()
    assert db.session.get(Issue, existing.id).support_count == 1


# --- one issue ---------------------------------------------------------------------------------------------

def test_issue_page_hides_the_reporter_from_the_public(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "a resident" in page and "Reporter P" not in page and "Me too" not in page
    auth.login(world.property_x)
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "Reporter P" in page and "138****0001" in page and "13811110001" not in page
    assert "Handle this issue" in page


def test_issue_page_shows_the_name_when_the_reporter_chose_so(client, world):
    issue = gen_issue(world, show_name=True)
    db.session.commit()
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "Reporter P" in page and "138****" not in page


def test_unknown_issue_or_wrong_community_is_404(client, world):
    issue = gen_issue(world)
    db.session.commit()
    assert client.get("/c/x/issues/999999").status_code == 404
    assert client.get(f"/c/y/issues/{issue.id}").status_code == 404


def test_me_too_twice_is_a_no_op_and_htmx_updates_the_count(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.neighbour)
    first = post(client, f"/c/x/issues/{issue.id}/support", headers={"HX-Request": "true"},
                 token_from=f"/c/x/issues/{issue.id}")
    assert first.status_code == 200
    fragment = html_of(first)
    assert f'id="support-{issue.id}"' in fragment and "1 person has this problem too" in fragment
    assert "<html" not in fragment
    second = post(client, f"/c/x/issues/{issue.id}/support")
    assert second.status_code == 302
    assert db.session.scalar(db.select(db.func.count(IssueSupport.id))) == 1
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).support_count == 1


def test_the_reporter_cannot_support_their_own_issue(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.reporter)
    assert post(client, f"/c/x/issues/{issue.id}/support").status_code == 403


def test_support_needs_the_csrf_token(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.neighbour)
    assert client.post(f"/c/x/issues/{issue.id}/support").status_code == 400
    assert client.post(f"/c/x/issues/{issue.id}/accept").status_code == 400
    assert db.session.scalar(db.select(db.func.count(IssueSupport.id))) == 0


def handler_of(world, issue):
    return world.property_x if issue.handling_org_id == world.pc_x.id else world.member_x


def test_handler_accepts_starts_updates_and_resolves_with_a_photo(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(handler_of(world, issue))
    base = f"/c/x/issues/{issue.id}"
    assert post(client, f"{base}/accept", {"accept-note": "On our way"}).status_code == 302
    assert post(client, f"{base}/start").status_code == 302
    assert post(client, f"{base}/update", {"update-body": "Waiting for a part", "update-visibility": "internal"},
                content_type="multipart/form-data").status_code == 302
    response = post(client, f"{base}/resolve",
                    {"resolve-note": "Cable replaced", "resolve-photos": [(io.BytesIO(png_bytes()), "done.png")]},
                    content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    issue = db.session.get(Issue, issue.id)
    assert issue.status == "resolved" and len(issue.photos) == 1
    handler_page = html_of(client.get(base))
    assert "Waiting for a part" in handler_page and "Cable replaced" in handler_page
    auth.logout()
    public_page = html_of(client.get(base))
    assert "Waiting for a part" not in public_page and "Cable replaced" in public_page
    assert f"/issues/photos/{issue.photos[0].key}-400.jpg" in public_page


def test_resolving_without_a_note_shows_the_message_and_changes_nothing(client, auth, world):
    issue = gen_issue(world)
    services.accept_issue(world.admin, issue)
    db.session.commit()
    auth.login(handler_of(world, issue))
    response = post(client, f"/c/x/issues/{issue.id}/resolve", {"resolve-note": " "},
                    content_type="multipart/form-data")
    assert response.status_code == 200 and "Say what was done" in html_of(response)
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "accepted"


def test_resolving_an_issue_you_do_not_handle_is_refused(client, auth, world):
    issue = gen_issue(world)
    services.accept_issue(world.admin, issue)
    db.session.commit()
    for person in (world.member_y, world.reporter, world.official_b):
        auth.login(person)
        response = post(client, f"/c/x/issues/{issue.id}/resolve", {"resolve-note": "Done"},
                        content_type="multipart/form-data")
        assert response.status_code == 403, person.display_name
        auth.logout()
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "accepted"


def test_hand_over_and_accept_the_handover(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(handler_of(world, issue))
    refused = post(client, f"/c/x/issues/{issue.id}/hand-over", {"handover-organization": world.dept_a.id})
    assert refused.status_code == 200 and "Say why the issue is handed over" in html_of(refused)
    done = post(client, f"/c/x/issues/{issue.id}/hand-over",
                {"handover-organization": world.dept_a.id, "handover-reason": "Needs the street department"})
    assert done.status_code == 302
    auth.logout()
    auth.login(world.department_a)
    assert "Take it over" in html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert post(client, f"/c/x/issues/{issue.id}/accept-handover").status_code == 302
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).handling_org_id == world.dept_a.id


def test_reject_hides_photos_from_the_public(client, auth, world):
    from portal.issues import photos as photo_store
    issue = gen_issue(world, photos=[png_bytes()])
    db.session.commit()
    photo = issue.photos[0]
    assert photo_store.path_for(photo, 400).is_file()
    auth.login(handler_of(world, issue))
    assert post(client, f"/c/x/issues/{issue.id}/reject", {"reject-reason": "Private matter"}).status_code == 302
    served = client.get(f"/issues/photos/{photo.key}-400.jpg")
    assert served.status_code == 200 and served.headers["Cache-Control"] == "private, no-store"
    auth.logout()
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert photo.key not in page and "not shown" in page
    assert client.get(f"/issues/photos/{photo.key}-400.jpg").status_code == 302  # visitors: sign in first
    auth.login(world.neighbour)
    assert client.get(f"/issues/photos/{photo.key}-1600.jpg").status_code == 403


def test_merge_by_number(client, auth, world):
    first = gen_issue(world, title="Lift stuck on floor 3")
    second = gen_issue(world, reporter=world.neighbour, title="The lift is stuck")
    db.session.commit()
    auth.login(handler_of(world, second))
    bad = post(client, f"/c/x/issues/{second.id}/merge", {"merge-into": "999999"})
    assert bad.status_code == 200 and "Give the number of an existing issue" in html_of(bad)
    assert post(client, f"/c/x/issues/{second.id}/merge", {"merge-into": first.id}).status_code == 302
    page = html_of(client.get(f"/c/x/issues/{second.id}"))
    assert f"/c/x/issues/{first.id}" in page and "Duplicate" in page


def test_rating_by_the_reporter_and_refused_for_others(client, auth, world):
    issue = gen_issue(world)
    services.accept_issue(world.admin, issue)
    services.resolve_issue(world.admin, issue, "Fixed")
    db.session.commit()
    auth.login(world.neighbour)
    refused = post(client, f"/c/x/issues/{issue.id}/rate", {"rate-resolved": "yes", "rate-satisfaction": "satisfied"})
    assert refused.status_code == 403
    auth.logout()
    auth.login(world.reporter)
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "Rate the result" in page
    missing = post(client, f"/c/x/issues/{issue.id}/rate", {"rate-satisfaction": "satisfied",
                                                             "rate-comment": "Quick work"})
    assert missing.status_code == 200 and "Say whether the problem was resolved" in html_of(missing)
    assert "Quick work" in html_of(missing)
    done = post(client, f"/c/x/issues/{issue.id}/rate", {"rate-resolved": "yes", "rate-satisfaction": "satisfied"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "closed"


def test_viewing_an_issue_applies_due_steps(client, world):
    issue = gen_issue(world, now=utcnow() - timedelta(days=10))
    services.accept_issue(world.admin, issue, now=utcnow() - timedelta(days=10))
    services.resolve_issue(world.admin, issue, "Fixed", now=utcnow() - timedelta(days=9))
    db.session.commit()
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "Closed" in page
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "closed"


def test_overdue_issue_page_says_so_in_words(client, world):
    issue = gen_issue(world, now=utcnow() - timedelta(days=20))
    db.session.commit()
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "Overdue" in page and 'class="overdue"' in page


# --- categories --------------------------------------------------------------------------------------------

def test_categories_page_for_admins_only(client, auth, world):
    db.session.commit()
    auth.login(world.chair_x)
    assert client.get("/c/x/issues/categories").status_code == 403
    auth.logout()
    auth.login(world.admin)
    page = html_of(client.get("/c/x/issues/categories"))
    assert "Lift" in page and "Deadline class" in page
    lift = world.categories["lift"]
    bad = post(client, "/c/x/issues/categories", {
        "category_id": lift.id, f"cat{lift.id}-name": "Lifts", f"cat{lift.id}-deadline_class": "emergency",
        f"cat{lift.id}-respond_hours": "10", f"cat{lift.id}-resolve_hours": "5",
        f"cat{lift.id}-default_org": world.pc_x.id, f"cat{lift.id}-is_active": "y"})
    assert bad.status_code == 200 and 'class="error"' in html_of(bad)
    good = post(client, "/c/x/issues/categories", {
        "category_id": lift.id, f"cat{lift.id}-name": "Lifts", f"cat{lift.id}-deadline_class": "emergency",
        f"cat{lift.id}-respond_hours": "3", f"cat{lift.id}-resolve_hours": "12",
        f"cat{lift.id}-default_org": world.pc_x.id, f"cat{lift.id}-is_active": "y"})
    assert good.status_code == 302
    db.session.expire_all()
    lift = db.session.get(type(lift), lift.id)
    assert (lift.name, lift.respond_hours, lift.resolve_hours) == ("Lifts", 3, 12)


# --- a constant number of queries --------------------------------------------------------------------------

def query_counts(client, world, count):
    """The list (two orders) and one issue page of a new community with `count` issues."""
    community = gen_community(world.sd_a, name=f"Count {count}", slug=f"count-{count}")
    home = gen_building(community, code="h", name="Home")
    gen_residency(world.reporter, household=gen_household(home, room="0101"))
    gen_residency(world.neighbour, household=gen_household(home, room="0102"))
    categories = services.ensure_default_categories(community)
    buildings = [home] + [gen_building(community, code=f"b{n}", name=f"Block {n}") for n in range(2)]
    issues = [gen_issue(world, community=community, category=categories[n % len(categories)],
                        title=f"Problem {n}", building=buildings[n % 3], photos=[png_bytes()] if n < 2 else ())
              for n in range(count)]
    services.support_issue(world.neighbour, issues[0])
    services.accept_issue(world.admin, issues[0])
    services.post_update(world.admin, issues[0], "Looking into it")
    db.session.commit()
    return (count_queries(client, f"/c/{community.slug}/issues"),
            count_queries(client, f"/c/{community.slug}/issues?sort=due&status=open"),
            count_queries(client, f"/c/{community.slug}/issues/{issues[0].id}"))


@pytest.mark.parametrize("viewer", ["visitor", "neighbour", "admin"])
def test_list_and_issue_pages_run_the_same_number_of_queries_for_5_and_30_issues(client, auth, world, viewer):
    if viewer != "visitor":
        auth.login(getattr(world, viewer))
    few, many = query_counts(client, world, 5), query_counts(client, world, 30)
    assert few == many


def test_photos_of_an_internal_update_are_for_handlers_only(client, auth, world):
    issue = gen_issue(world)
    services.accept_issue(world.admin, issue)
    services.post_update(world.admin, issue, "Meter photo for the water company", public=False,
                         photos=[png_bytes()])
    db.session.commit()
    key = issue.photos[0].key
    auth.login(world.neighbour)
    assert key not in html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert client.get(f"/issues/photos/{key}-400.jpg").status_code == 403
    auth.logout()
    auth.login(handler_of(world, issue))
    assert key in html_of(client.get(f"/c/x/issues/{issue.id}"))
    served = client.get(f"/issues/photos/{key}-400.jpg")
    assert served.status_code == 200 and served.headers["Cache-Control"] == "private, no-store"


def test_the_page_head_carries_no_script_and_the_location_button_waits_for_javascript(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    head = page.split("</head>")[0]
    assert "photo-shrink" not in head and "<title>#" in head
    auth.login(world.reporter)
    form = html_of(client.get("/c/x/issues/new"))
    assert re.search(r'<button[^>]*id="use-location"[^>]*hidden', form)


def test_photo_forms_take_large_phone_photos_that_other_forms_refuse(client, auth, world):
    auth.login(world.reporter)
    big = (io.BytesIO(b"\xff\xd8\xff" + b"\0" * (16 * 1024 * 1024)), "IMG_0001.jpg")  # 16 MB: over the 15 MB cap
    response = post(client, "/c/x/issues/new", report_data(world, photos=[big]), content_type="multipart/form-data")
    assert response.status_code == 200 and 'class="error"' in html_of(response)
    assert issue_count() == 0
    elsewhere = post(client, "/account/password", {"current_password": "x" * (9 * 1024 * 1024)})
    assert elsewhere.status_code == 413


def test_home_offers_verified_residents_to_report_a_problem(client, auth, world):
    auth.login(world.reporter)
    assert 'href="/c/x/issues/new"' in html_of(client.get("/"))
    auth.logout()
    auth.login(world.stranger)
    assert "/issues/new" not in html_of(client.get("/"))


# --- the filter form and the rows, rendered without WTForms ----------------------------------------------

def select_of(page, name) -> str:
    return re.search(rf'<select id="{name}" name="{name}">(.*?)</select>', page, re.S).group(1)


def test_the_filter_form_marks_what_was_chosen(client, world):
    lift = world.categories["lift"]
    page = html_of(client.get(f"/c/x/issues?status=open&category={lift.id}&building={world.bx.id}"
                              "&sort=due&overdue=y"))
    assert '<option selected value="open">Open</option>' in select_of(page, "status")
    assert f'<option selected value="{lift.id}">Lift</option>' in select_of(page, "category")
    assert f'<option selected value="{world.bx.id}">{world.bx.name}</option>' in select_of(page, "building")
    assert '<option selected value="due">Due soonest</option>' in select_of(page, "sort")
    assert '<input checked id="overdue" name="overdue" type="checkbox" value="y">' in page
    page = html_of(client.get("/c/x/issues"))
    assert "selected" not in select_of(page, "status") + select_of(page, "sort")
    assert select_of(page, "category").startswith('<option selected value="">All kinds</option>')
    assert select_of(page, "building").startswith('<option selected value="">All buildings</option>')
    assert '<input id="overdue" name="overdue" type="checkbox" value="y">' in page
    page = html_of(client.get("/c/x/issues?overdue=false&category=abc"))
    assert '<input id="overdue"' in page and '<option selected value="">All kinds</option>' in page


def test_the_filter_form_follows_renamed_buildings_and_new_categories(client, auth, world):
    page = html_of(client.get("/c/x/issues"))
    assert "Lift" in select_of(page, "category") and world.bx.name in select_of(page, "building")
    world.bx.name = "Renamed block"
    services.create_category(world.admin, world.x, code="bikes", name="Bicycle sheds", deadline_class="ordinary")
    db.session.commit()
    page = html_of(client.get("/c/x/issues"))
    assert "Renamed block" in select_of(page, "building") and "Bicycle sheds" in select_of(page, "category")
    page = html_of(client.get("/c/x/issues", headers={"Accept-Language": "zh"}))
    assert "电梯" in select_of(page, "category") and "Lift" not in select_of(page, "category")


def test_the_filter_choices_are_read_once_per_version_of_the_community(client, world):
    """Kinds of problem and buildings are kept under the community's version (portal.versions): a view
    after the first reads neither; a category renamed shows on the next one."""
    client.get("/c/x/issues")
    with recorded_statements() as statements:
        page = html_of(client.get("/c/x/issues"))
    assert not [s for s in statements if "FROM issue_category" in s or "FROM building" in s]
    assert "Lift" in select_of(page, "category")
    world.categories["lift"].name = "Lifts and escalators"
    db.session.commit()
    assert "Lifts and escalators" in select_of(html_of(client.get("/c/x/issues")), "category")


# --- the rows, kept under the community's version (views._community_rows, portal.versions) -------------

def rows_of(page) -> str:
    found = re.search(r'<ul class="issue-list" id="issue-list">(.*?)</ul>', page, re.S)
    return found.group(1) if found else ""


def test_the_rows_are_read_once_per_version_and_follow_every_change(client, auth, world):
    issue = gen_issue(world, title="Broken gate light")
    db.session.commit()
    client.get("/c/x/issues")
    with recorded_statements() as statements:
        page = html_of(client.get("/c/x/issues"))
    assert "Broken gate light" in rows_of(page) and "0 supporters" in rows_of(page)
    assert len(statements) == 1 and "FROM community" in statements[0]  # a visitor: no person to load

    auth.login(world.neighbour)
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      html_of(client.get(f"/c/x/issues/{issue.id}"))).group(1)
    assert client.post(f"/c/x/issues/{issue.id}/support", data={"csrf_token": token}).status_code in (200, 302, 303)
    assert "1 supporter" in rows_of(html_of(client.get("/c/x/issues")))
    issue = db.session.get(Issue, issue.id)
    issue.title = "Gate light fixed?"
    db.session.commit()
    assert "Gate light fixed?" in rows_of(html_of(client.get("/c/x/issues")))
    world.bx.name = "Block three"
    db.session.commit()
    gen_issue(world, title="Second problem", building=world.bx)
    db.session.commit()
    rows = rows_of(html_of(client.get("/c/x/issues")))
    assert "Second problem" in rows and "Block three" in rows


def test_the_rows_are_rendered_per_language_and_per_address(client, world):
    gen_issue(world, title="Broken gate light")
    db.session.commit()
    assert "0 supporters" in rows_of(html_of(client.get("/c/x/issues")))
    zh = rows_of(html_of(client.get("/c/x/issues", headers={"Accept-Language": "zh"})))
    assert "Broken gate light" in zh and "0 supporters" not in zh
    assert "0 supporters" in rows_of(html_of(client.get("/c/x/issues")))
    assert "No issues match." in html_of(client.get("/c/x/issues?status=closed"))
    assert "Broken gate light" in rows_of(html_of(client.get("/c/x/issues?status=open")))


def test_a_page_with_a_hidden_row_is_rendered_for_each_viewer(client, auth, world):
    issue = gen_issue(world, title="Rude words about a neighbour")
    issue.hidden_state = "hidden"
    db.session.commit()
    auth.login(world.chair_x)  # a moderator of x: sees the title, marked hidden
    assert "Rude words about a neighbour" in rows_of(html_of(client.get("/c/x/issues")))
    auth.logout()
    auth.login(world.neighbour)
    rows = rows_of(html_of(client.get("/c/x/issues")))
    assert "Rude words" not in rows and "Hidden by moderators" in rows


def test_the_rows_follow_the_clock_past_a_deadline(client, world, monkeypatch):
    """Nothing is written when a deadline passes: the kept rows end when their words would change."""
    import portal.clock
    now = utcnow()
    gen_issue(world, title="Lift stuck", now=now)  # lift: respond within 2 hours
    db.session.commit()
    monkeypatch.setattr(portal.clock, "utcnow", lambda: now + timedelta(minutes=1))
    rows = rows_of(html_of(client.get("/c/x/issues")))
    assert "in 2 hours" in rows and "Overdue" not in rows
    monkeypatch.setattr(portal.clock, "utcnow", lambda: now + timedelta(minutes=40))
    assert "in 1 hour" in rows_of(html_of(client.get("/c/x/issues")))
    monkeypatch.setattr(portal.clock, "utcnow", lambda: now + timedelta(minutes=121))
    rows = rows_of(html_of(client.get("/c/x/issues")))
    assert "Overdue" in rows and "is-overdue" in rows


def test_the_overdue_list_gains_an_issue_when_its_deadline_passes(client, world, monkeypatch):
    import portal.clock
    now = utcnow()
    gen_issue(world, title="Lift stuck", now=now)  # respond within 2 hours
    db.session.commit()
    assert "No issues match." in html_of(client.get("/c/x/issues?overdue=y"))
    monkeypatch.setattr(portal.clock, "utcnow", lambda: now + timedelta(hours=2, seconds=1))
    assert "Lift stuck" in rows_of(html_of(client.get("/c/x/issues?overdue=y")))


def test_a_word_search_is_not_kept(client, world):
    gen_issue(world, title="Broken gate light")
    db.session.commit()
    client.get("/c/x/issues?q=gate")
    with recorded_statements() as statements:
        page = html_of(client.get("/c/x/issues?q=gate"))
    assert "Broken gate light" in rows_of(page)
    assert [s for s in statements if "FROM issue" in s]


def test_a_row_shows_its_labels_link_and_deadline(client, world):
    issue = gen_issue(world, building=world.bx, now=utcnow() - timedelta(hours=3))  # lift: respond within 2 h
    services.support_issue(world.neighbour, issue)
    db.session.commit()
    page = html_of(client.get("/c/x/issues?sort=due"))
    row = re.search(r'<li class="issue-row is-overdue">(.*?)</li>', page, re.S).group(1)
    assert f'href="/c/x/issues/{issue.id}"' in row
    assert '<span class="status issue-status issue-status-submitted">Submitted</span>' in row
    assert "<span>Lift</span>" in row and f"· {world.bx.name}" in row and "· 1 supporter" in row
    assert '<span class="overdue"><strong>Overdue</strong>' in row
    assert client.get(f"/c/x/issues/{issue.id}").status_code == 200
    page = html_of(client.get("/c/x/issues?sort=due", headers={"Accept-Language": "zh"}))
    assert "电梯" in page and "1位附议人" in page


@pytest.mark.parametrize("viewer", ["neighbour", "admin"])
def test_the_issue_page_asks_whether_the_viewer_is_an_official_there_without_loading_the_sub_district(
        client, auth, world, viewer):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(getattr(world, viewer))
    client.get(f"/c/x/issues/{issue.id}")  # the issue's short link is made on its first view
    with recorded_statements() as statements:
        assert client.get(f"/c/x/issues/{issue.id}").status_code == 200
    assert not [s for s in statements if "FROM sub_district" in s]
