"""Issue 9 in a phone browser: the property company accepts and updates a resident's issue; the resident sees
the unread count, the notifications grouped by issue, and marks them read; the sender delivers the e-mail
over SMTP to the local server; its one-click unsubscribe link, opened without signing in, turns that group
off, and the e-mail settings page shows it."""
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from tests.browser.flows import sign_in, unique_email, unique_phone, visit
from tests.browser.screens import capture
from tests.factories import (
    DEFAULT_PASSWORD,
    gen_building,
    gen_community,
    gen_household,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_user,
)

pytestmark = pytest.mark.browser


def seed(live_server, label: str) -> dict:
    """A community with a property company whose staff accept and update the resident's lift issue."""
    from portal.issues import services
    with live_server.app.app_context():
        community = gen_community(name=f"Plum Garden {label}", slug=f"plum-{label}")
        building = gen_building(community, code="B2", name="Building 2")
        staff = gen_user(email=unique_email("property"), display_name="Manager Qian")
        gen_membership(staff, gen_organization("property_company", community=community,
                                               name="Plum Property Services"), title="staff")
        resident = gen_user(email=unique_email("resident"), display_name="Sun Li 孙丽", phone=unique_phone())
        gen_residency(resident, household=gen_household(building, entrance="2", room="0801"))
        categories = {c.code: c for c in services.ensure_default_categories(community)}
        issue = services.report_issue(resident, community, category=categories["lift"], building=building,
                                      title="Lift in building 2 stops between floors")
        db.session.commit()
        services.accept_issue(staff, issue)
        services.post_update(staff, issue, "The lift company comes at 14:00 today.")
        db.session.commit()
        return {"slug": community.slug, "resident": resident.email, "resident_id": resident.id,
                "issue": issue.id, "title": issue.title}


def deliver(live_server, recipient_id: int):
    """Run the sender as cron would, at the next 10:00 in Beijing (outside quiet hours)."""
    from portal.notifications import sender
    zone = ZoneInfo("Asia/Shanghai")
    local = datetime.now(zone)
    day = local.date() if local.hour < 10 else local.date() + timedelta(days=1)
    with live_server.app.app_context():
        return sender.drain(datetime.combine(day, time(10), tzinfo=zone), recipient_id=recipient_id)


def mail_to(live_server, address: str):
    return [m for m in live_server.mailbox.messages if address in str(m["To"])]


def text_of(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


def test_unread_count_grouped_centre_email_and_unsubscribe(new_context, live_server):
    place = seed(live_server, unique_phone()[-6:])

    # Signed in, the header counts the two unread notifications; the centre shows them as one entry.
    resident = new_context().new_page()
    sign_in(resident, place["resident"], DEFAULT_PASSWORD)
    badge = resident.locator("#unread-count")
    expect(badge).to_contain_text("2")
    visit(resident, "/notifications/")
    entry = resident.locator("li", has_text=place["title"]).first
    expect(entry).to_contain_text(re.compile("2 updates"))
    capture(resident, "notifications-centre", docs="notifications")

    # Mark all read: the count goes away (with htmx, in place).
    resident.get_by_role("button", name="Mark all read").click()
    expect(resident.locator("#unread-count")).not_to_contain_text("2")

    # The sender delivers the e-mails over SMTP; each carries a one-click unsubscribe link.
    result = deliver(live_server, place["resident_id"])
    assert result.sent == 2
    messages = mail_to(live_server, place["resident"])
    assert len(messages) == 2
    assert all(m["List-Unsubscribe"] and m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
               for m in messages)
    body = text_of(messages[0])
    link = re.search(r"(https?://\S+/notifications/unsubscribe/\S+)", body).group(1)
    assert link.startswith(live_server.url)

    # Opened in another browser without signing in: a confirmation page; the button turns the group off.
    stranger = new_context().new_page()
    stranger.goto(link)
    capture(stranger, "notifications-unsubscribe")
    stranger.get_by_role("button", name="Yes, stop these e-mails").click()
    expect(stranger.get_by_role("status")).to_contain_text("You will no longer get e-mails")

    # The resident's e-mail settings show it.
    visit(resident, "/notifications/preferences")
    checked = resident.locator("input[type=radio][name=my_issues]:checked")
    expect(checked).to_have_value("off")
    capture(resident, "notifications-preferences")
