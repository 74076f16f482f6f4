"""Moderation pages: the queue for every role, the nav count, the flag form with and without htmx, the
moderators' buttons, and hidden issues and updates kept off public pages."""
import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from portal.clock import utcnow
from portal.extensions import db
from portal.moderation import services
from portal.moderation.models import Flag
from tests.moderation import gen_comment, gen_flags, gen_in_deliberation, gen_issue, gen_proposal, public_update
from tests.queries import count_queries
from tests.residents import post


def html_of(response) -> str:
    return response.get_data(as_text=True)


def flags_on(item_type, item):
    return db.session.scalars(db.select(Flag).where(Flag.item_type == item_type, Flag.item_id == item.id)).all()


# --- the queue ---------------------------------------------------------------------------------------------

def test_anonymous_visitors_are_asked_to_sign_in(client, world):
    response = client.get("/moderation")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("who", ["neighbour", "property_x", "official_a", "stranger"])
def test_people_without_a_committee_seat_get_403(client, auth, world, who):
    auth.login(getattr(world, who))
    assert client.get("/moderation").status_code == 403


def test_a_committee_member_of_another_community_sees_nothing_of_x(client, auth, world):
    issue = gen_issue(world, title="Lift stuck on floor 3")
    gen_flags(world, "issue", issue, 3)
    db.session.commit()
    auth.login(world.member_y)
    page = html_of(client.get("/moderation"))
    assert "Nothing is waiting for review" in page and "Lift stuck" not in page


def test_a_member_of_x_sees_xs_items_newest_first_with_counts_and_reasons(client, auth, world):
    now = utcnow()
    older = gen_issue(world, title="Older problem")
    newer = gen_issue(world, title="Newer problem")
    gen_flags(world, "issue", older, 3, reason="offensive", now=now - timedelta(hours=1))
    gen_flags(world, "issue", newer, 1, reason="off_topic", now=now)
    db.session.commit()
    auth.login(world.member_x)
    page = html_of(client.get("/moderation"))
    assert page.index("Newer problem") < page.index("Older problem")
    assert "3 reports" in page and "1 report" in page
    assert "Offensive or abusive (3)" in page and "Off topic" in page
    assert "Hidden pending review" in page
    assert f'href="/c/x/issues/{older.id}"' in page


def test_an_administrator_sees_every_community(client, auth, world):
    issue = gen_issue(world, title="Flagged in x")
    gen_flags(world, "issue", issue, 1)
    db.session.commit()
    auth.login(world.admin)
    assert "Flagged in x" in html_of(client.get("/moderation"))


# --- the nav link ------------------------------------------------------------------------------------------

def nav_count(page) -> str | None:
    match = re.search(r'href="/moderation" class="nav-link">Moderation<span id="moderation-count" '
                      r'class="count[^"]*">(.*?)</span></a>', page, re.S)
    return None if match is None else re.sub(r"<[^>]+>|waiting for review:", "", match.group(1)).strip()


def test_the_nav_shows_moderators_how_many_items_wait(client, auth, world):
    auth.login(world.member_x)
    assert nav_count(html_of(client.get("/"))) == ""  # the link, no number
    for n in range(2):
        gen_flags(world, "issue", gen_issue(world, title=f"Problem {n}"), 1, start=n)
    db.session.commit()
    assert nav_count(html_of(client.get("/"))) == "2"


def test_the_nav_has_no_moderation_link_for_residents(client, auth, world):
    auth.login(world.neighbour)
    assert nav_count(html_of(client.get("/"))) is None and 'href="/moderation"' not in html_of(client.get("/"))


# --- flagging ----------------------------------------------------------------------------------------------

def test_the_flag_form_works_without_javascript(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.neighbour)
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    link = f"/moderation/flag/issue/{issue.id}?next=/c/x/issues/{issue.id}"
    assert f'href="{link}"' in page and f'hx-get="{link}"' in page
    full = html_of(client.get(link))
    assert "<html" in full and 'name="reason"' in full and 'value="spam"' in full
    inline = html_of(client.get(link, headers={"HX-Request": "true"}))  # the form in place of the link
    assert "<html" not in inline and 'name="reason" value="spam"' in inline
    response = post(client, f"/moderation/flag/issue/{issue.id}",
                    {"reason": "offensive", "note": "Insulting", "next": f"/c/x/issues/{issue.id}"},
                    token_from=f"/c/x/issues/{issue.id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/c/x/issues/{issue.id}"
    [row] = flags_on("issue", issue)
    assert (row.reason, row.note, row.user_id) == ("offensive", "Insulting", world.neighbour.id)
    assert "Reported, thank you" in html_of(client.get(f"/c/x/issues/{issue.id}"))


def test_the_flag_page_shows_the_form_and_the_reason_it_was_refused(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.neighbour)
    page = html_of(client.get(f"/moderation/flag/issue/{issue.id}"))
    assert "Report content" in page and 'name="reason"' in page and "Anything moderators should know" in page
    response = post(client, f"/moderation/flag/issue/{issue.id}", {"note": "kept"})
    assert response.status_code == 200
    assert "Choose why you are reporting this." in html_of(response) and "kept</textarea>" in html_of(response)
    post(client, f"/moderation/flag/issue/{issue.id}", {"reason": "spam"})
    again = post(client, f"/moderation/flag/issue/{issue.id}", {"reason": "spam"})
    assert again.status_code == 200 and "You have already flagged this." in html_of(again)
    assert len(flags_on("issue", issue)) == 1


def test_flagging_with_htmx_swaps_the_control_for_a_thank_you(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.neighbour)
    response = post(client, f"/moderation/flag/issue/{issue.id}", {"reason": "spam"},
                    headers={"HX-Request": "true", "HX-Current-URL": f"http://localhost/c/x/issues/{issue.id}"})
    page = html_of(response)
    assert response.status_code == 200 and "<html" not in page
    assert f'id="flag-issue-{issue.id}"' in page and "Reported, thank you" in page
    again = post(client, f"/moderation/flag/issue/{issue.id}", {"reason": "spam"}, headers={"HX-Request": "true"})
    assert "You have already flagged this." in html_of(again) and f'id="flag-issue-{issue.id}"' in html_of(again)


def test_flag_controls_are_only_for_those_who_may_flag(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    marker = f'href="/moderation/flag/issue/{issue.id}?'
    assert marker not in html_of(client.get(f"/c/x/issues/{issue.id}"))  # anonymous
    for who, shown in (("reporter", False), ("stranger", False), ("resident_y", False), ("neighbour", True),
                       ("property_x", True)):
        auth.login(getattr(world, who))
        assert (marker in html_of(client.get(f"/c/x/issues/{issue.id}"))) is shown, who
        auth.logout()


def test_outsiders_cannot_post_a_flag(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.resident_y)
    assert post(client, f"/moderation/flag/issue/{issue.id}", {"reason": "spam"}).status_code == 403
    auth.logout()
    auth.login(world.reporter)  # own words
    assert post(client, f"/moderation/flag/issue/{issue.id}", {"reason": "spam"}).status_code == 403
    assert flags_on("issue", issue) == []


def test_unknown_items_are_404(client, auth, world):
    auth.login(world.neighbour)
    assert client.get("/moderation/flag/nonsense/1").status_code == 404
    assert client.get("/moderation/flag/issue/99999").status_code == 404


def test_each_public_update_has_its_own_flag_control(client, auth, world):
    issue = gen_issue(world)
    update = public_update(world, issue)
    db.session.commit()
    auth.login(world.neighbour)
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert f'id="update-{update.id}"' in page and f'href="/moderation/flag/issue_update/{update.id}?' in page


# --- moderators' controls ----------------------------------------------------------------------------------

def test_moderators_see_hide_controls_and_residents_do_not(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.member_x)
    assert f'action="/moderation/issue/{issue.id}/hide"' in html_of(client.get(f"/c/x/issues/{issue.id}"))
    auth.logout()
    auth.login(world.neighbour)
    assert "/hide" not in html_of(client.get(f"/c/x/issues/{issue.id}"))


def test_hide_from_the_issue_page_then_restore_from_the_queue(client, auth, world):
    issue = gen_issue(world, title="Spam spam spam")
    db.session.commit()
    auth.login(world.member_x)
    response = post(client, f"/moderation/issue/{issue.id}/hide",
                    {"reason": "Advertising.", "next": f"/c/x/issues/{issue.id}"}, token_from=f"/c/x/issues/{issue.id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/c/x/issues/{issue.id}"
    db.session.expire_all()
    assert (issue.hidden_state, issue.hidden_reason) == ("hidden", "Advertising.")
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "Hidden by moderators:" in page and "Advertising." in page and "Restore" in page
    response = post(client, f"/moderation/issue/{issue.id}/restore", {"next": "/moderation"})
    assert response.status_code == 302
    db.session.expire_all()
    assert issue.hidden_state is None


def test_the_hide_form_keeps_the_page_when_the_reason_is_missing(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.chair_x)
    page = html_of(client.get(f"/moderation/issue/{issue.id}/hide"))
    assert "Hide content" in page and 'name="reason"' in page
    response = post(client, f"/moderation/issue/{issue.id}/hide", {"reason": "  "})
    assert response.status_code == 200 and "Say why it is hidden" in html_of(response)
    db.session.expire_all()
    assert issue.hidden_state is None


def test_residents_cannot_use_the_moderators_addresses(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.neighbour)
    assert client.get(f"/moderation/issue/{issue.id}/hide").status_code == 403
    assert post(client, f"/moderation/issue/{issue.id}/hide", {"reason": "No"}).status_code == 403
    assert post(client, f"/moderation/issue/{issue.id}/restore").status_code == 403
    auth.logout()
    auth.login(world.member_y)
    assert post(client, f"/moderation/issue/{issue.id}/hide", {"reason": "No"}).status_code == 403


def test_a_member_is_told_they_cannot_moderate_their_own_words(client, auth, world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, author=world.member_x)
    db.session.commit()
    auth.login(world.member_x)
    response = post(client, f"/moderation/comment/{comment.id}/hide", {"reason": "Mine", "next": "/moderation"})
    assert response.status_code == 302
    assert "another moderator must decide" in html_of(client.get("/moderation"))
    db.session.expire_all()
    assert comment.hidden_state is None


def test_lock_and_unlock_through_the_pages(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.chair_x)
    assert post(client, f"/moderation/proposal/{proposal.id}/lock").status_code == 302
    db.session.expire_all()
    assert proposal.locked_at is not None
    assert post(client, f"/moderation/proposal/{proposal.id}/unlock").status_code == 302
    db.session.expire_all()
    assert proposal.locked_at is None
    response = post(client, f"/moderation/proposal/{proposal.id}/unlock", {"next": "/moderation"})
    assert response.status_code == 302 and "This is not locked." in html_of(client.get("/moderation"))


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_after_an_action_only_same_site_paths_are_followed(client, auth, world, target):
    issue = gen_issue(world)
    gen_flags(world, "issue", issue, 1)
    db.session.commit()
    auth.login(world.chair_x)
    response = post(client, f"/moderation/issue/{issue.id}/restore", {"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/moderation"


def test_the_escalate_button_posts_to_the_proposals_area(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.member_x)
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    form = page.split("Turn into a proposal")[0][-700:]
    assert f'action="/c/x/issues/{issue.id}/escalate"' in form and 'method="post"' in form
    assert "disabled" not in form
    auth.logout()
    auth.login(world.property_x)
    assert "Turn into a proposal" not in html_of(client.get(f"/c/x/issues/{issue.id}"))


# --- hidden issues stay off public pages -------------------------------------------------------------------

def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("how", ["hidden", "pending"])
def test_a_hidden_issue_shows_a_placeholder_to_the_public(client, auth, world, how):
    issue = gen_issue(world, title="SECRET-TITLE lift", description="SECRET-DESCRIPTION",
                      location_text="SECRET-SPOT")
    if how == "hidden":
        services.hide(world.chair_x, "issue", issue, "Names a neighbour.")
    else:
        gen_flags(world, "issue", issue, 3)
    db.session.commit()
    for who in (None, world.neighbour, world.member_y):
        if who is not None:
            auth.login(who)
        for path in ("/c/x/issues", f"/c/x/issues/{issue.id}"):
            page = html_of(client.get(path))
            assert "SECRET" not in page, (who, path)
        if who is not None:  # "similar issues" while typing a title: the hidden one is not offered
            page = html_of(client.get("/c/x/issues/similar?title=SECRET-TITLE+lift"))
            assert f"/c/x/issues/{issue.id}" not in page and "No similar open issues" in page
        detail = html_of(client.get(f"/c/x/issues/{issue.id}"))
        assert ("Names a neighbour." if how == "hidden" else "Hidden pending review") in detail
        listing = html_of(client.get("/c/x/issues"))
        assert f"#{issue.id}</span>" in listing and "Hidden" in listing
        if who is not None:
            auth.logout()


def test_the_reporter_handlers_and_moderators_still_read_a_hidden_issue(client, auth, world):
    issue = gen_issue(world, title="SECRET-TITLE", description="SECRET-DESCRIPTION")
    services.hide(world.chair_x, "issue", issue, "Names a neighbour.")
    db.session.commit()
    for who in (world.reporter, world.property_x, world.member_x):
        auth.login(who)
        page = html_of(client.get(f"/c/x/issues/{issue.id}"))
        assert "SECRET-DESCRIPTION" in page and "Hidden by moderators:" in page, who
        assert "SECRET-TITLE" in html_of(client.get("/c/x/issues"))
        auth.logout()


def test_the_photos_of_a_hidden_issue_are_not_served_to_the_public(client, auth, world):
    from portal.issues.models import IssuePhoto
    issue = gen_issue(world, photos=[png_bytes()])
    db.session.commit()
    key = db.session.scalar(db.select(IssuePhoto.key).where(IssuePhoto.issue_id == issue.id))
    assert client.get(f"/issues/photos/{key}-400.jpg").status_code == 200
    services.hide(world.chair_x, "issue", issue, "Shows a face.")
    db.session.commit()
    assert key not in html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert client.get(f"/issues/photos/{key}-400.jpg").status_code == 404
    auth.login(world.reporter)
    response = client.get(f"/issues/photos/{key}-400.jpg")
    assert response.status_code == 200 and "immutable" not in response.headers["Cache-Control"]


def test_a_hidden_update_shows_a_placeholder_in_the_timeline(client, auth, world):
    issue = gen_issue(world)
    update = public_update(world, issue, body="SECRET-UPDATE about Mr Wang")
    services.hide(world.chair_x, "issue_update", update, "Names a neighbour.")
    db.session.commit()
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "SECRET-UPDATE" not in page and "Names a neighbour." in page
    auth.login(world.property_x)  # who wrote it
    assert "SECRET-UPDATE" in html_of(client.get(f"/c/x/issues/{issue.id}"))


# --- a constant number of queries --------------------------------------------------------------------------

def fill_queue(world, count):
    """`count` reported items of each kind: issues, public updates, proposals and comments."""
    proposal = gen_in_deliberation(world)
    for n in range(count):
        issue = gen_issue(world, title=f"Problem {n}")
        gen_flags(world, "issue", issue, 1 + n % 3)
        gen_flags(world, "issue_update", public_update(world, issue, body=f"Update {n}"), 1)
        gen_flags(world, "proposal", gen_proposal(world, title=f"Proposal {n}"), 1, reason="off_topic")
        gen_flags(world, "comment", gen_comment(world, proposal, body=f"Comment {n}"), 2, reason="offensive")
    db.session.commit()


def test_the_queue_takes_the_same_number_of_queries_for_few_and_many_items(client, auth, world):
    auth.login(world.member_x)
    fill_queue(world, 1)
    few = count_queries(client, "/moderation")
    fill_queue(world, 4)  # 20 items: one full page
    many = count_queries(client, "/moderation")
    assert services.queue_count(world.member_x) == 20
    assert many == few, (few, many)


def test_after_a_refused_handler_form_the_report_comes_back_to_the_issue_page(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.property_x)  # a handler, who may also report
    page = html_of(post(client, f"/c/x/issues/{issue.id}/update", {"update-body": ""},
                        token_from=f"/c/x/issues/{issue.id}"))
    assert f'/moderation/flag/issue/{issue.id}?next=/c/x/issues/{issue.id}"' in page


# --- issue #16: the list of hidden items, and the queue's two choices of equal weight ---------------------

def test_a_hidden_item_leaves_the_queue_and_is_listed_with_who_hid_it_why_and_when(client, auth, world):
    issue = gen_issue(world, title="Buy cheap watches here")
    gen_flags(world, "issue", issue, 1)
    db.session.commit()
    auth.login(world.member_x)
    response = post(client, f"/moderation/issue/{issue.id}/hide", {"reason": "Advertising.", "next": "/moderation"})
    assert response.status_code == 302
    assert "Buy cheap watches" not in html_of(client.get("/moderation"))  # decided: out of the queue
    queue = html_of(client.get("/moderation"))
    assert 'href="/moderation/hidden"' in queue
    page = html_of(client.get("/moderation/hidden"))
    assert "Buy cheap watches here" in page and "Advertising." in page
    assert "Member X" in page  # who hid it
    assert re.search(r'<time datetime="[^"]+"', page)  # when
    assert f'action="/moderation/issue/{issue.id}/restore"' in page
    assert 'name="csrf_token"' in page


def test_content_hidden_by_three_reports_is_listed_as_hidden_by_three_reports(client, auth, world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, body="You are all idiots")
    gen_flags(world, "comment", comment, 3, reason="offensive")
    db.session.commit()
    assert comment.hidden_state == "pending"
    auth.login(world.chair_x)
    page = html_of(client.get("/moderation/hidden"))
    assert "You are all idiots" in page and "3 reports from different people" in page
    assert "Hidden pending review" in page


def test_restoring_from_the_hidden_list_shows_it_again_audits_and_tells_the_author(client, auth, world):
    from tests.moderation import audit_actions, events_of
    issue = gen_issue(world, title="Noise after midnight")
    services.hide(world.member_x, "issue", issue, "Names a neighbour.")
    db.session.commit()
    auth.login(world.chair_x)
    response = post(client, f"/moderation/issue/{issue.id}/restore", {"next": "/moderation/hidden"},
                    token_from="/moderation/hidden")
    assert response.status_code == 302 and response.headers["Location"] == "/moderation/hidden"
    db.session.expire_all()
    assert issue.hidden_state is None
    assert audit_actions(issue)[-1] == "moderation.restore"
    assert events_of(world.reporter)[-1] == "moderation.restored"
    assert "Noise after midnight" not in html_of(client.get("/moderation/hidden"))
    # Without the CSRF token the restore is refused.
    services.hide(world.member_x, "issue", issue, "Names a neighbour.")
    db.session.commit()
    client.post(f"/moderation/issue/{issue.id}/restore", data={"next": "/moderation/hidden"})
    db.session.expire_all()
    assert issue.hidden_state == "hidden"


def test_the_hidden_list_is_for_moderators_of_that_community_only(client, auth, world):
    issue = gen_issue(world, title="Lift stuck on floor 3")
    services.hide(world.member_x, "issue", issue, "Duplicate.")
    db.session.commit()
    assert client.get("/moderation/hidden").status_code == 302  # sign in first
    auth.login(world.neighbour)
    assert client.get("/moderation/hidden").status_code == 403
    auth.logout()
    auth.login(world.member_y)
    page = html_of(client.get("/moderation/hidden"))
    assert "Nothing is hidden." in page and "Lift stuck" not in page
    auth.logout()
    auth.login(world.admin)
    assert "Lift stuck on floor 3" in html_of(client.get("/moderation/hidden"))


def fill_hidden(world, count):
    proposal = gen_in_deliberation(world)
    for n in range(count):
        services.hide(world.member_x, "issue", gen_issue(world, title=f"Problem {n}"), f"Reason {n}")
        services.hide(world.member_x, "proposal", gen_proposal(world, title=f"Proposal {n}"), "Off topic.")
        gen_flags(world, "comment", gen_comment(world, proposal, body=f"Comment {n}"), 3, reason="offensive")
        services.hide(world.member_x, "issue_update", public_update(world, gen_issue(world), body=f"Update {n}"),
                      "Private.")
    db.session.commit()


def test_the_hidden_list_takes_the_same_number_of_queries_for_few_and_many_items(client, auth, world):
    auth.login(world.chair_x)
    fill_hidden(world, 1)
    few = count_queries(client, "/moderation/hidden")
    fill_hidden(world, 5)  # 24 items: a full page and a second one
    many = count_queries(client, "/moderation/hidden")
    assert many == few, (few, many)
    page = html_of(client.get("/moderation/hidden"))
    assert "24 items are hidden." in page and "Page 1 of 2" in page
    assert page.index("Update 4") < page.index("Problem 4") < page.index("Update 3")  # newest hidden first
    second = html_of(client.get("/moderation/hidden?page=2"))
    assert second.count('class="card moderation-item"') == 4 and "Page 2 of 2" in second


def test_in_the_queue_hide_and_restore_are_buttons_of_equal_weight(client, auth, world):
    issue = gen_issue(world, title="Lift stuck on floor 3")
    gen_flags(world, "issue", issue, 3)
    db.session.commit()
    auth.login(world.member_x)
    page = html_of(client.get("/moderation"))
    item = page[page.index(f'id="queue-issue-{issue.id}"'):]
    restore = re.search(r'<button class="([^"]+)" type="submit">Restore</button>', item)
    hide = re.search(r'<summary class="([^"]+)">Hide…</summary>', item)
    assert restore and hide
    assert restore.group(1).split() == hide.group(1).split() == ["button", "button-secondary"]


@pytest.mark.parametrize("back", ["/c/x/proposals/3?page=2&sort=new#comment-5", "/c/x/proposals/3#comment-5",
                                  "/c/x/issues/3", "/c/x/p?q=花 家+地&a=%2F#x y", "/a#b#c"])
def test_the_report_links_address_is_url_fors_whatever_the_page(app, back):
    from flask import url_for

    from portal.moderation.views import _flag_url
    with app.test_request_context("/"):
        for _ in range(2):  # the page's part is kept for the request
            assert _flag_url("proposal_comment", 7, back) == url_for(
                "moderation.flag", item_type="proposal_comment", item_id=7, next=back)
