"""Helpers for the meetings tests (issue #7). `world` is the votes world (tests/votes/__init__.py): use it in
a test package whose conftest imports it (tests/meetings/conftest.py does) — tests/committees/conftest.py has
a `world` of its own (tests.residents.build_world) without the homeowners' committee.

  gen_meeting(world, *, organization=None, actor=None, when=None, now=None, **kw) -> Meeting
      a meeting scheduled through portal.committees.meetings.schedule_meeting: by w.hoa_chair for w.hoa_x
      unless `organization` / `actor` are given (the actor defaults to the chair of a given organization's
      first current member), starting `when` (default: 2 days after `now`, `now` defaulting to the real
      clock), in place "社区活动室 Community room" unless `place`/`online_url` given. Other keywords go to
      schedule_meeting (title, ends_at, is_public, agenda). Flushes, commits nothing.
  gen_held_meeting(world, *, present=None, **kw) -> Meeting
      gen_meeting scheduled a week ago (now = 8 days ago, starting 7 days ago) and attendance recorded by
      the actor: `present` (default: every current member) present, the other members absent.
"""
from datetime import timedelta

DEFAULT_MEETING_TITLE = "业委会例会 Homeowners' committee meeting"
DEFAULT_PLACE = "社区活动室 Community room"


def _default_actor(organization):
    members = organization.current_memberships()
    chairs = [m for m in members if m.title == "chair"]
    return (chairs or members)[0].user


def gen_meeting(world, *, organization=None, actor=None, when=None, now=None, **kw):
    from portal.clock import utcnow
    from portal.committees import meetings
    organization = organization or world.hoa_x
    actor = actor or (world.hoa_chair if organization is world.hoa_x else _default_actor(organization))
    now = now or utcnow()
    when = when or now + timedelta(days=2)
    kw.setdefault("title", DEFAULT_MEETING_TITLE)
    if "online_url" not in kw:
        kw.setdefault("place", DEFAULT_PLACE)
    return meetings.schedule_meeting(actor, organization, starts_at=when, now=now, **kw)


def gen_held_meeting(world, *, present=None, **kw):
    from portal.clock import utcnow
    from portal.committees import meetings
    now = utcnow()
    kw.setdefault("now", now - timedelta(days=8))
    kw.setdefault("when", now - timedelta(days=7))
    meeting = gen_meeting(world, **kw)
    actor = kw.get("actor") or meeting.created_by
    members = [m.user for m in meeting.organization.current_memberships(meeting.starts_at.date())]
    present_ids = {u.id for u in (present if present is not None else members)}
    meetings.record_attendance(actor, meeting,
                               {u.id: ("present" if u.id in present_ids else "absent") for u in members})
    return meeting
