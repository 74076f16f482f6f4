import pytest
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.notifications import services
from portal.notifications.models import Notification
from tests.factories import gen_user

services.register_event("test_greeting", _l("Hello %(name)s"), group="proposals")


def test_notify_writes_one_outbox_row_per_distinct_recipient():
    alice, bob = gen_user(), gen_user()
    rows = services.notify([alice, bob, alice, None], "test_greeting", alice, name="Wang")
    assert len(rows) == 2
    assert {r.recipient_id for r in rows} == {alice.id, bob.id}
    assert rows[0].object_type == "user" and rows[0].object_id == alice.id


def test_notify_is_part_of_the_callers_transaction():
    alice = gen_user()
    db.session.commit()
    services.notify([alice], "test_greeting", name="Li")
    db.session.rollback()
    assert db.session.query(Notification).count() == 0


def test_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError):
        services.notify([gen_user()], "no_such_event")


def test_message_is_rendered_with_its_payload():
    alice = gen_user()
    [row] = services.notify([alice], "test_greeting", name="Zhang")
    assert services.message_for(row) == "Hello Zhang"


def test_unread_count_and_mark_read_only_touch_the_recipients_rows():
    alice, bob = gen_user(), gen_user()
    services.notify([alice, bob], "test_greeting", name="A")
    services.notify([alice], "test_greeting", name="B")
    db.session.flush()
    assert services.unread_count(alice) == 2
    bobs = db.session.scalar(db.select(Notification).where(Notification.recipient_id == bob.id))
    assert services.mark_read(alice, bobs.id) == 0
    assert services.unread_count(bob) == 1
    assert services.mark_read(alice) == 2
    assert services.unread_count(alice) == 0
