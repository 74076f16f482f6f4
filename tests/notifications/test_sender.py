"""The sender against a real SMTP server that refuses, fails and goes down; and the RQ queue on a real Redis."""
import uuid
from datetime import timedelta

import pytest
from flask_babel import lazy_gettext as _l

from portal.due import run_due
from portal.extensions import db
from portal.notifications import services
from portal.notifications.models import MailboxState, Notification
from portal.notifications.sender import (
    LEASE,
    MAX_REJECTIONS,
    SmtpChannel,
    backoff,
    claim,
    drain,
    enqueue_drain,
    undeliverable,
)
from tests.conftest import free_port
from tests.factories import gen_user
from tests.notifications.test_mail import DAYTIME, mail_server, text_of  # noqa: F401  (fixture)

services.register_event("test_sender_issue", _l("Issue %(n)s changed."), group="my_issues")


def rows():
    return db.session.scalars(db.select(Notification).order_by(Notification.id)).all()


def test_backoff_doubles_from_one_minute_and_stops_at_an_hour():
    assert [backoff(n).total_seconds() / 60 for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_server_killed_mid_batch_loses_nothing_and_everything_arrives_after_restart(mail_server):
    people = [gen_user(email=f"p{n}@example.org") for n in range(12)]
    for n, person in enumerate(people):
        services.notify([person], "test_sender_issue", n=n)
    db.session.commit()
    mail_server.go_down_after(5)

    first = drain(DAYTIME)
    mail_server.stopped.wait(5)
    assert first.sent == 5
    assert first.retrying == 7
    assert len(mail_server.messages) == 5
    waiting = [r for r in rows() if r.email_status == "pending"]
    assert len(waiting) == 7
    assert all(r.next_attempt_at == DAYTIME + backoff(r.email_attempts) for r in waiting)

    # Still down a minute later: the rows stay, their wait grows.
    second = drain(DAYTIME + timedelta(hours=1))
    assert second.sent == 0 and second.retrying == 7
    assert {r.email_attempts for r in rows() if r.email_status == "pending"} == {2}

    mail_server.handler.accept_limit = None
    mail_server.start()
    assert drain(DAYTIME + timedelta(hours=1, minutes=1)).sent == 0  # not yet: their backoff is 2 minutes
    third = drain(DAYTIME + timedelta(hours=2))
    assert third.sent == 7
    assert sorted(m["To"] for m in mail_server.messages) == sorted(p.email for p in people)
    assert len(mail_server.messages) == 12
    assert {r.email_status for r in rows()} == {"sent"}


def test_temporary_refusal_retries_with_backoff_until_accepted(mail_server):
    li = gen_user(email="busy@example.org")
    services.notify([li], "test_sender_issue", n=1)
    db.session.commit()
    mail_server.handler.refuse["busy@example.org"] = "451 4.7.1 Greylisted, try again later"
    now = DAYTIME
    for attempt in (1, 2, 3):
        result = drain(now)
        assert result.retrying == 1
        [row] = rows()
        assert (row.email_status, row.email_attempts, row.email_rejections) == ("pending", attempt, 0)
        assert row.last_error == "451 4.7.1 Greylisted, try again later"
        assert row.next_attempt_at == now + timedelta(minutes=2 ** (attempt - 1))
        assert drain(row.next_attempt_at - timedelta(seconds=1)).retrying == 0  # not before its time
        now = row.next_attempt_at
    del mail_server.handler.refuse["busy@example.org"]
    assert drain(now).sent == 1
    [row] = rows()
    assert (row.email_status, row.email_attempts, row.last_error) == ("sent", 4, None)


def test_permanent_refusal_is_tried_five_times_then_failed_and_shown_on_the_account_page(
        mail_server, client, auth):
    li = gen_user(email="gone@example.org")
    services.notify([li], "test_sender_issue", n=1)
    db.session.commit()
    mail_server.handler.refuse["gone@example.org"] = "550 5.1.1 <gone@example.org>: Recipient address rejected"
    now = DAYTIME
    for attempt in range(1, MAX_REJECTIONS + 1):
        drain(now)
        [row] = rows()
        assert row.email_rejections == attempt
        if attempt < MAX_REJECTIONS:
            assert row.email_status == "pending"
            now = row.next_attempt_at
    assert (row.email_status, row.next_attempt_at) == ("failed", None)
    assert drain(now + timedelta(days=1)).sent == 0
    assert mail_server.messages == []
    li = db.session.get(type(li), li.id)
    assert undeliverable(li) == ("gone@example.org", "550 5.1.1 <gone@example.org>: Recipient address rejected")
    auth.login(li)
    page = client.get("/account").get_data(as_text=True)
    assert "We could not deliver e-mail to gone@example.org: 550 5.1.1" in page
    assert "/notifications/preferences" in page
    # A new address (changed by an administrator) clears the warning.
    li.email = "new@example.org"
    db.session.commit()
    assert "We could not deliver" not in client.get("/account").get_data(as_text=True)


def test_a_sender_that_dies_after_claiming_leaves_rows_that_are_sent_when_the_lease_ends(mail_server):
    li = gen_user(email="lease@example.org")
    services.notify([li], "test_sender_issue", n=1)
    db.session.commit()
    assert len(claim(DAYTIME)) == 1  # a sender took the row and died before sending
    assert claim(DAYTIME) == []      # another sender does not take it again meanwhile
    assert drain(DAYTIME + LEASE - timedelta(seconds=1)).sent == 0
    assert drain(DAYTIME + LEASE).sent == 1
    assert [m["To"] for m in mail_server.messages] == ["lease@example.org"]


def test_the_channel_has_one_send_interface_and_reports_refusals(mail_server, app):
    from portal.notifications.sender import DeliveryError, OutgoingMessage
    mail_server.handler.refuse["x@example.org"] = "550 5.1.1 No such user"
    with SmtpChannel.from_config(app.config) as channel:
        channel.send(OutgoingMessage(to="ok@example.org", subject="Hi", text="Plain", html="<p>Rich</p>",
                                     headers={"X-Test": "1"}))
        with pytest.raises(DeliveryError) as refused:
            channel.send(OutgoingMessage(to="x@example.org", subject="Hi", text="Plain"))
    assert refused.value.permanent and "550" in refused.value.reply
    [message] = mail_server.messages
    assert message["X-Test"] == "1" and text_of(message).strip() == "Plain"
    with pytest.raises(DeliveryError) as down:
        SmtpChannel("127.0.0.1", free_port(), sender="a@b.c").send(OutgoingMessage("a@b.c", "s", "t"))
    assert down.value.unreachable and not down.value.permanent


def test_run_due_and_the_command_send_what_is_due(mail_server, runner):
    li = gen_user(email="due@example.org")
    services.notify([li], "test_sender_issue", n=1)
    db.session.commit()
    assert run_due(DAYTIME)["send_notifications"] == 1
    services.notify([li], "test_sender_issue", n=2, urgent=True)  # urgent: goes whatever the hour now
    db.session.commit()
    output = runner.invoke(args=["send-notifications"]).output
    assert "sent: 1" in output and "failed: 0" in output
    assert len(mail_server.messages) == 2


# --- the RQ queue on a real Redis ---------------------------------------------------------------------------

def _redis_or_skip():
    from redis import Redis
    from redis.exceptions import RedisError
    connection = Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1)
    try:
        connection.ping()
    except (RedisError, OSError):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return connection


@pytest.fixture
def queue(app):
    from rq import Queue
    connection = _redis_or_skip()
    name = f"yishi-test-{uuid.uuid4().hex[:8]}"
    saved = app.config["REDIS_URL"], app.config["NOTIFICATION_QUEUE"]
    app.config.update(REDIS_URL="redis://127.0.0.1:6379/0", NOTIFICATION_QUEUE=name)
    yield Queue(name, connection=connection)
    app.config["REDIS_URL"], app.config["NOTIFICATION_QUEUE"] = saved
    for key in connection.scan_iter(f"*{name}*"):
        connection.delete(key)


def test_a_commit_that_writes_notifications_queues_one_drain_and_a_worker_sends(mail_server, queue):
    from rq import SimpleWorker
    people = [gen_user(email=f"rq{n}@example.org") for n in range(3)]
    db.session.commit()
    assert queue.count == 0  # a commit without notifications queues nothing
    services.notify(people[:2], "test_sender_issue", n=1, urgent=True)
    db.session.commit()
    services.notify(people[2:], "test_sender_issue", n=2, urgent=True)
    db.session.commit()
    assert queue.count == 1  # the first drain, not started yet, will see both commits' rows
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert sorted(m["To"] for m in mail_server.messages) == [p.email for p in people]
    assert {r.email_status for r in rows()} == {"sent"}
    # Once a drain has started, the next commit queues another.
    services.notify(people[:1], "test_sender_issue", n=3, urgent=True)
    db.session.commit()
    assert queue.count == 1


def test_the_worker_schedules_itself_for_the_next_retry(mail_server, queue):
    from rq import SimpleWorker
    li = gen_user(email="later@example.org")
    mail_server.handler.refuse["later@example.org"] = "451 4.3.0 Try later"
    services.notify([li], "test_sender_issue", n=1, urgent=True)
    db.session.commit()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    [row] = rows()
    assert row.email_status == "pending" and row.email_attempts == 1
    assert queue.scheduled_job_registry.get_job_ids() == [f"{queue.name}-next-drain"]


def test_an_unreachable_redis_never_breaks_the_commit(app):
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    try:
        li = gen_user(email="noredis@example.org")
        services.notify([li], "test_sender_issue", n=1)
        db.session.commit()  # logs a warning, raises nothing
        assert enqueue_drain(app) is False
    finally:
        app.config["REDIS_URL"] = saved
    assert db.session.scalar(db.select(Notification.email_status)) == "pending"
    assert db.session.get(MailboxState, li.id) is None


services.register_event("test_sender_broken", _l("Needs %(missing)s."), group="my_issues")


def test_a_notification_that_cannot_be_composed_fails_alone_and_the_rest_goes(mail_server):
    li = gen_user(email="fine@example.org")
    services.notify([li], "test_sender_broken")  # its payload lacks what the message needs
    services.notify([li], "test_sender_issue", n=2)
    db.session.commit()
    result = drain(DAYTIME)
    assert (result.sent, result.failed) == (1, 1)
    broken, fine = rows()
    assert broken.email_status == "failed" and broken.last_error == "cannot compose: KeyError"
    assert fine.email_status == "sent"
    assert drain(DAYTIME + LEASE).sent == 0
