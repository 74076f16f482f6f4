"""In-process events: how a lower area tells a higher one that something happened without importing it
(dependencies point down; see tests/test_layering.py). Core: imports no area.

Each signal says who sends it and with which keyword arguments. Receivers connect at import (the receiving
module is imported by create_app) and accept `**kwargs`, so a new argument breaks nobody. Receivers run
inside the sender's transaction, in the same request; an exception in one propagates to the sender."""
from blinker import Namespace

_signals = Namespace()

ballot_decided = _signals.signal("ballot-decided", doc="""
A ballot on a proposal closed with a decision (passed or failed) and the proposal is now decided.
Sent by portal.votes.services when it closes the ballot, with `ballot` as the sender and keyword arguments
`proposal` and `now`. Received by portal.notices.services: the decision's public notice starts at once.""")

notification_urgent = _signals.signal("notification-urgent", doc="""
A request just wrote a notification that cannot wait for the next run of the sender (a password reset
link lives 30 minutes). Sent by portal.auth.views with keyword argument `recipient_id` after the commit.
Received by portal.notifications.sender: that person's pending single notifications go out now.""")

account_anonymized = _signals.signal("account-anonymized", doc="""
An account was deleted (anonymized): its person is gone from it. Sent by portal.privacy.services with the
account (`User`) as the sender and keyword argument `now`. Received by portal.notifications.preferences:
the person's e-mail choices and mailbox state (a bounced address) are removed.""")

notifications_written = _signals.signal("notifications-written", doc="""
Notifications were written by one INSERT … SELECT rather than one by one through portal.outbox.notify (a
ballot telling its whole electorate). Sent by portal.votes.services in the same transaction, with keyword
arguments `event`, `object_type`, `object_id` and `created_at` (the rows' own values). Received by
portal.notifications.push: each of those notifications is queued for the recipient's subscribed browsers.""")

notifications_flushed = _signals.signal("notifications-flushed", doc="""
A flush of a session inserted notifications one by one (portal.outbox.notify). Sent by portal.outbox's one
`after_flush` hook, which looks through the flushed objects once for every channel, with the session as the
sender and keyword argument `notifications` (the new `Notification` rows, with their ids). Received by
portal.notifications.sms (where the transaction's text messages start) and portal.notifications.push (the
rows' pushes are queued in the same flush) and portal.notifications.sender (the worker is fed after the
commit).""")

digest_consent_withdrawn = _signals.signal("digest-consent-withdrawn", doc="""
A person withdrew their consent to e-mail digests (optional processing). Sent by portal.privacy.services
with the person (`User`) as the sender. Received by portal.notifications.preferences: every group the person
gets as a digest is turned off.""")

work_order_changed = _signals.signal("work-order-changed", doc="""
A hotline issue (source "hotline", a 12345 work order) changed state in a way the hotline must hear of.
Sent by portal.issues.services, inside the transaction that made the change, with the issue (`Issue`) as the
sender and keyword arguments `event` (one of "signed_for", "sent_back", "returned_to_hotline", "rerouted",
"extension_requested", "extension_decided", "resolved", "reopened", "return_visit", "appeal_decided"),
`now` (the UTC instant of the change) and `public_text` (what the hotline may show the caller; may be "").
Received by portal.open311 (the integration that created the issue gets a signed webhook, sent from an outbox
written in the same transaction).""")

issue_reported_in = _signals.signal("issue-reported-in", doc="""
A summoned organization reported in (报到) to a whistle-blown issue (吹哨报到). Sent by
portal.issues.services.whistle inside the report's transaction, with the summons (`IssueSummons`) as the
sender and keyword arguments `issue`, `member` (the `User` who reported in) and `now`. Received by
portal.actions.services.whistle: the issue's joint-handling action is created on the first report-in and a
report-in that names a due date becomes a sub-action of it (idempotent: a second delivery adds nothing).""")
