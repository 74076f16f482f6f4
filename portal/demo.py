"""`seed-demo`: a believable demo, extended by every area so it shows each state. Idempotent."""
from portal.auth.models import User
from portal.demo_people import DEMO_ACCOUNTS, DEMO_PASSWORD, ensure_user
from portal.extensions import db


def seed() -> list[str]:
    """Each area's demo in dependency order: places first, then the people who live and serve there."""
    from portal.actions.demo import seed_actions
    from portal.committees.meetings_demo import seed_meetings
    from portal.funds.ballot_demo import seed_budget_ballots
    from portal.funds.demo import seed_funds
    from portal.insight.demo import seed_insight
    from portal.issues.demo import seed_issues
    from portal.notices.demo import seed_notices
    from portal.notifications.preferences import seed_demo_preferences
    from portal.notifications.push import seed_demo_push
    from portal.notifications.reminders import seed_notifications
    from portal.notifications.sms_demo import seed_sms
    from portal.open311.demo import seed_open311
    from portal.places.demo import seed_places
    from portal.privacy.demo import seed_privacy
    from portal.proposals.demo import seed_proposals
    from portal.residents.demo import seed_people
    from portal.sharepages import seed_share
    from portal.votes.demo import seed_votes
    lines = []
    for login, name, is_admin in DEMO_ACCOUNTS:
        ensure_user(login, name, is_admin=is_admin)
    db.session.flush()
    lines += seed_places()
    lines += seed_people()
    lines += seed_demo_preferences()
    lines += seed_demo_push()
    lines += seed_issues()
    lines += seed_proposals()
    lines += seed_votes()
    lines += seed_meetings()
    lines += seed_notices()  # after the votes (and meetings) demos: their decided ballots started notices
    lines += seed_actions()  # after the notices demo: its ended notice left a proposal to carry out
    lines += seed_funds()  # after the actions demo: money allocated to its actions
    lines += seed_budget_ballots()  # the round in voting: ballots cast through the casting service
    lines += seed_open311()  # its requests join the issues demo
    lines += seed_insight()  # after the issues demos (which skip a community with issues): 3 years of history
    lines += seed_privacy()  # a pending deletion and a ready copy of a resident's data
    lines += seed_share()  # after every item exists: their short links
    lines += seed_notifications()  # last: reminders due now; older notifications read, the newest per group not
    lines += seed_sms()  # after the notifications: the SMS outbox of those that go by text
    lines.append(f"accounts: {db.session.query(User).count()} (password for all demo accounts: {DEMO_PASSWORD})")
    return lines
