"""Web Push against a local push service that checks the VAPID signature and decrypts every message with the
subscription's own keys (tests/notifications/push_service.py): what is pushed, to whom, when, in which
language; browsers that are gone; refusals, retries and a service that goes down — nothing lost, each once."""
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import events
from portal.auth.models import User
from portal.due import run_due
from portal.extensions import db
from portal.notifications import preferences, push, services
from portal.notifications.models import Notification, PushMessage, PushSubscription
from portal.notifications.sender import backoff
from portal.votes.services._common import _notify_all
from tests.factories import gen_user
from tests.notifications.push_service import PushService, b64url, unb64url

services.register_event("test_push_issue", _l("Your issue %(title)s was updated."), group="my_issues")
services.register_event("test_push_proposal", _l("A proposal %(title)s changed."), group="proposals")
services.register_event("test_push_account", _l("Your password was changed."), group="account")
services.register_event("test_push_reset", _l("Your reset link: %(url)s"), group="account")

DAYTIME = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)    # 10:00 in Shanghai
NIGHT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)     # 23:00 in Shanghai: quiet hours until 07:00
MORNING = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)   # 07:00 in Shanghai


@pytest.fixture
def service(app, monkeypatch):
    public, private = push.generate_vapid_keys()
    monkeypatch.setitem(app.config, "VAPID_PUBLIC_KEY", public)
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", private)
    monkeypatch.setitem(app.config, "VAPID_SUBJECT", "mailto:ops@yishi.test")
    server = PushService(public).start()
    yield server
    server.stop()


def subscribed(service, person, user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari/537.36"):
    browser = service.browser()
    push.subscribe(person, person, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth,
                   user_agent=user_agent)
    return browser


def messages():
    return db.session.scalars(select(PushMessage).order_by(PushMessage.id)).all()


def test_vapid_keys_command_prints_a_pair_that_belongs_together(app):
    output = app.test_cli_runner().invoke(args=["vapid-keys"]).output
    lines = dict(line.split("=", 1) for line in output.splitlines())
    private = ec.derive_private_key(int.from_bytes(unb64url(lines["VAPID_PRIVATE_KEY"]), "big"), ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    assert b64url(public) == lines["VAPID_PUBLIC_KEY"] and len(public) == 65
    assert lines["VAPID_SUBJECT"].startswith("mailto:")


def test_a_notification_at_once_is_pushed_signed_and_encrypted_to_each_browser_once(service):
    li = gen_user(display_name="Li Hua")
    phone, laptop = subscribed(service, li), subscribed(service, li, "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
    [row] = services.notify([li], "test_push_issue", li, title="Lift in building 3")
    db.session.commit()
    assert [(m.notification_id, m.status) for m in messages()] == [(row.id, "pending")] * 2

    result = push.drain_push(DAYTIME)
    assert (result.sent, result.retrying, service.refused) == (2, 0, [])
    expected = {"title": "Issues I reported or support", "body": "Your issue Lift in building 3 was updated.",
                "url": f"https://yishi.test/notifications/{row.id}", "tag": f"user-{li.id}"}
    assert service.received_by(phone) == [expected]
    assert service.received_by(laptop) == [expected]
    assert {r["ttl"] for r in service.received} == {push.TTL}
    assert {(m.status, m.attempts, m.sent_at) for m in messages()} == {("sent", 1, DAYTIME)}
    assert all(s.last_success_at == DAYTIME for s in push.subscriptions_of(li))

    assert push.drain_push(DAYTIME + timedelta(hours=1)).sent == 0
    assert len(service.received) == 2 and service.requests == 2


def test_push_is_in_the_recipients_language(service):
    wang = gen_user(locale="zh")
    browser = subscribed(service, wang)
    services.notify([wang], "test_push_issue", title="三号楼电梯")
    db.session.commit()
    push.drain_push(DAYTIME)
    [payload] = service.received_by(browser)
    assert payload["title"] == "我反映或附议的诉求"
    assert "三号楼电梯" in payload["body"] and payload["tag"].startswith("notification-")


def test_only_groups_the_person_gets_at_once_are_pushed_and_account_news_always(service):
    zhao = gen_user()
    subscribed(service, zhao)
    preferences.set_modes(zhao, zhao, {"my_issues": "off", "votes": "digest"})
    services.notify([zhao], "test_push_issue", title="off")           # turned off
    services.notify([zhao], "test_push_proposal", title="digest")     # proposals: a digest by default
    [account] = services.notify([zhao], "test_push_account")           # always at once
    preferences.set_modes(zhao, zhao, {"proposals": "now"})
    [proposal] = services.notify([zhao], "test_push_proposal", title="now")
    db.session.commit()
    assert sorted(m.notification_id for m in messages()) == [account.id, proposal.id]


def test_a_person_without_an_e_mail_address_is_pushed_too(service):
    mobile = gen_user(phone="13912345678")
    browser = subscribed(service, mobile)
    services.notify([mobile], "test_push_issue", title="Gate")
    db.session.commit()
    assert push.drain_push(DAYTIME).sent == 1 and len(service.received_by(browser)) == 1


def test_a_notification_carrying_its_own_link_is_never_pushed(service):
    person = gen_user()
    subscribed(service, person)
    services.notify([person], "test_push_reset", url="https://yishi.test/reset/secret")
    db.session.commit()
    assert messages() == []


def test_people_without_browsers_get_no_push_rows_and_others_are_untouched(service):
    with_browser, without = gen_user(), gen_user()
    subscribed(service, with_browser)
    services.notify([with_browser, without], "test_push_issue", title="x")
    db.session.commit()
    [message] = messages()
    assert message.notification.recipient_id == with_browser.id


def test_quiet_hours_hold_a_push_until_morning_but_not_an_urgent_one(service):
    chen = gen_user()
    browser = subscribed(service, chen)
    services.notify([chen], "test_push_issue", title="ordinary")
    services.notify([chen], "test_push_issue", title="Burst water main", urgent=True)
    db.session.commit()
    result = push.drain_push(NIGHT)
    assert (result.sent, result.held) == (1, 1)
    assert [p["body"] for p in service.received_by(browser)] == ["Your issue Burst water main was updated."]
    held = next(m for m in messages() if m.status == "pending")
    assert held.next_attempt_at == MORNING and held.attempts == 0
    assert service.received[0]["urgency"] == "high"

    assert push.drain_push(NIGHT + timedelta(hours=1)).sent == 0
    assert push.drain_push(MORNING).sent == 1
    assert len(service.received_by(browser)) == 2 and service.received[1]["urgency"] == "normal"


@pytest.mark.parametrize("status", [404, 410])
def test_a_browser_gone_from_its_push_service_is_removed_with_its_waiting_messages(service, status):
    fan = gen_user()
    gone, kept = subscribed(service, fan), subscribed(service, fan)
    service.answer(gone, status)
    services.notify([fan], "test_push_issue", title="one")
    services.notify([fan], "test_push_issue", title="two")
    db.session.commit()
    result = push.drain_push(DAYTIME)
    assert (result.removed, result.sent) == (1, 2)
    assert [s.endpoint for s in push.subscriptions_of(fan)] == [kept.endpoint]
    assert {m.subscription.endpoint for m in messages()} == {kept.endpoint}
    assert len(service.received_by(kept)) == 2 and service.received_by(gone) == []


@pytest.mark.parametrize("answer", [(429, {"Retry-After": "300"}), 500, 503])
def test_busy_or_failing_push_service_is_retried_with_backoff_and_sends_once(service, answer):
    person = gen_user()
    browser = subscribed(service, person)
    service.answer(browser, answer, answer)
    services.notify([person], "test_push_issue", title="retry")
    db.session.commit()
    wait = timedelta(minutes=5) if isinstance(answer, tuple) else backoff(1)

    assert push.drain_push(DAYTIME).retrying == 1
    [message] = messages()
    assert (message.status, message.attempts, message.rejections) == ("pending", 1, 0)
    assert message.next_attempt_at == DAYTIME + wait
    assert message.subscription.last_error.startswith(str(answer[0] if isinstance(answer, tuple) else answer))
    assert push.drain_push(DAYTIME + wait - timedelta(seconds=1)).retrying == 0  # not due yet

    second = DAYTIME + wait
    assert push.drain_push(second).retrying == 1
    third = messages()[0].next_attempt_at
    assert third >= second + backoff(2)
    assert push.drain_push(third).sent == 1
    assert len(service.received_by(browser)) == 1
    assert (messages()[0].status, messages()[0].attempts) == ("sent", 3)


def test_refusals_for_good_fail_the_message_after_five(service):
    person = gen_user()
    browser = subscribed(service, person)
    service.answer(browser, *[403] * 5)
    services.notify([person], "test_push_issue", title="refused")
    db.session.commit()
    now = DAYTIME
    for attempt in range(1, 6):
        push.drain_push(now)
        [message] = messages()
        assert message.rejections == attempt
        now = message.next_attempt_at or now
    assert (message.status, message.next_attempt_at) == ("failed", None)
    assert push.drain_push(now + timedelta(days=1)).sent == 0 and service.received == []


def test_push_service_down_for_a_while_loses_nothing_and_sends_each_once(service):
    people = [gen_user() for _ in range(4)]
    browsers = [subscribed(service, p) for p in people]
    for n, person in enumerate(people):
        services.notify([person], "test_push_issue", title=f"n{n}")
    db.session.commit()
    service.stop()

    first = push.drain_push(DAYTIME)
    assert (first.sent, first.retrying) == (0, 4)
    assert {m.attempts for m in messages()} == {1}  # one tried, the rest of its service's rows waited untried
    second = push.drain_push(DAYTIME + timedelta(hours=1))
    assert second.retrying == 4 and {m.status for m in messages()} == {"pending"}

    service.start()
    assert push.drain_push(DAYTIME + timedelta(hours=1, minutes=1)).sent == 0  # backoff of 2 minutes
    assert push.drain_push(DAYTIME + timedelta(hours=2)).sent == 4
    assert [len(service.received_by(b)) for b in browsers] == [1, 1, 1, 1]
    assert push.drain_push(DAYTIME + timedelta(hours=3)).sent == 0
    assert service.requests == 4


def test_rows_claimed_by_one_sender_are_not_taken_by_another(service):
    person = gen_user()
    subscribed(service, person)
    services.notify([person], "test_push_issue", title="once")
    db.session.commit()
    assert len(push.claim(DAYTIME)) == 1
    assert push.drain_push(DAYTIME).sent == 0  # leased to the first sender
    assert push.drain_push(DAYTIME + push.LEASE).sent == 1


def test_without_vapid_keys_push_is_off_and_what_waits_goes_once_keys_are_set(service, app, monkeypatch):
    person = gen_user()
    browser = subscribed(service, person)
    services.notify([person], "test_push_issue", title="waits")
    db.session.commit()
    key = app.config["VAPID_PRIVATE_KEY"]
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", None)
    assert push.drain_push(DAYTIME).off is True
    assert [m.status for m in messages()] == ["pending"] and service.requests == 0
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", key)
    assert push.drain_push(DAYTIME).sent == 1 and len(service.received_by(browser)) == 1


def test_run_due_sends_push(service):
    person = gen_user()
    browser = subscribed(service, person)
    services.notify([person], "test_push_issue", title="due")
    db.session.commit()
    assert run_due(DAYTIME)["send_push"] == 1
    assert len(service.received_by(browser)) == 1


def test_notifications_written_in_bulk_are_pushed_too(service):
    voters = [gen_user(), gen_user()]
    browsers = [subscribed(service, v) for v in voters]
    preferences.set_modes(voters[1], voters[1], {"my_issues": "digest"})
    ids = select(User.id.label("user_id")).where(User.id.in_([v.id for v in voters]))
    _notify_all(ids, "test_push_issue", voters[0], {"title": "bulk"}, DAYTIME)
    db.session.commit()
    [message] = messages()
    assert message.notification.recipient_id == voters[0].id
    push.drain_push(DAYTIME)
    assert [len(service.received_by(b)) for b in browsers] == [1, 0]


def test_a_deleted_account_forgets_its_browsers(service):
    person = gen_user()
    subscribed(service, person)
    services.notify([person], "test_push_issue", title="x")
    db.session.commit()
    events.account_anonymized.send(person, now=DAYTIME)
    db.session.execute(db.delete(Notification).where(Notification.recipient_id == person.id))
    db.session.commit()
    assert db.session.scalars(select(PushSubscription)).all() == [] and messages() == []


def test_send_notifications_command_and_the_rq_job_push_too(service, app):
    from portal.worker import drain_job
    person = gen_user()
    browser = subscribed(service, person)
    services.notify([person], "test_push_account")
    db.session.commit()
    assert drain_job()["push_sent"] == 1
    services.notify([person], "test_push_account")
    db.session.commit()
    output = app.test_cli_runner().invoke(args=["send-notifications"]).output
    assert "push sent: 1" in output.splitlines()
    assert len(service.received_by(browser)) == 2


def test_an_account_keeps_at_most_ten_browsers_forgetting_the_oldest(service):
    person = gen_user()
    first = subscribed(service, person)
    db.session.execute(db.update(PushSubscription).values(created_at=DAYTIME - timedelta(days=30)))
    others = [subscribed(service, person) for _ in range(push.MAX_BROWSERS)]
    endpoints = {s.endpoint for s in push.subscriptions_of(person)}
    assert len(endpoints) == push.MAX_BROWSERS and first.endpoint not in endpoints
    assert endpoints == {b.endpoint for b in others}
