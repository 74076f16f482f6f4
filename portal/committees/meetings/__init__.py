"""Meetings of committees and the property company: scheduling with an agenda (items pointing at proposals
and issues of the organization's community), cancelling, attendance and quorum, versioned minutes (drafted,
approved and published by a member; a published version never changes — a correction is a new version),
decisions with their follow-up, and the reads the pages and the calendar need.

Every function that changes something takes the acting person first, checks the named rule in
`portal.auth.permissions`, validates everything before writing anything, writes an audit entry and
notifies the people concerned. Callers commit; a DomainError leaves nothing written. `now=None` means
utcnow(); tests pass explicit times.

The rules live in one module per concern: `scheduling` (with the agenda and cancelling), `attendance`,
`minutes`, `decisions`, `reading`; `_common` holds what several of them share. Import from
`portal.committees.meetings`."""
from portal.committees.meetings._common import (
    ATTENDANCE_LABELS,
    EARLY_RECORDING,
    FOLLOW_UP_LABELS,
    REASON_MAX,
    meeting_day,
    members_on,
)
from portal.committees.meetings.attendance import attendance_of, quorum, record_attendance
from portal.committees.meetings.decisions import (
    DECISION_MAX,
    decision_for_ballot,
    decisions_of,
    link_ballot,
    record_decision,
    subdistrict_office_members,
)
from portal.committees.meetings.minutes import (
    MINUTES_MAX,
    draft_minutes,
    minutes_versions,
    publish_minutes,
    published_minutes,
    save_minutes,
)
from portal.committees.meetings.reading import (
    CalendarEvent,
    community_meetings,
    meeting_in,
    organization_meetings,
    upcoming_events,
)
from portal.committees.meetings.scheduling import (
    AGENDA_MAX,
    PLACE_MAX,
    SCHEDULING_GRACE,
    TITLE_MAX,
    URL_MAX,
    add_agenda_item,
    agenda_candidates,
    cancel_meeting,
    remove_agenda_item,
    schedule_meeting,
)
