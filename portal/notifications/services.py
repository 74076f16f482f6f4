"""The outbox's functions, as delivery (centre, sender, digest, reminders) reads them; they live in
portal.outbox so that areas below delivery can notify without importing it."""
from portal.outbox import (  # noqa: F401
                           EVENTS,
                           GROUP_BY_PREFIX,
                           GROUPS,
                           group_of,
                           link_for,
                           mark_read,
                           message_for,
                           notify,
                           register_event,
                           unread_count,
)
