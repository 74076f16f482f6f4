"""A community's calendar: meetings and voting deadlines, as a page and as an iCalendar feed.

The feed is what a phone's calendar subscribes to: it carries no cookie, so it holds public events only (public
meetings, ballot openings and closings), with absolute links built from PORTAL_BASE_URL and a UID that stays
the same for an event across fetches, so a changed time updates the event instead of adding another."""
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, make_response, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from icalendar import Calendar, Event
from markupsafe import Markup

from portal import versions
from portal.auth import permissions, roles
from portal.clock import utcnow
from portal.committees import meetings
from portal.places.services import community_or_404
from portal.web import absolute_url, allow, public, year_changes

bp = Blueprint("calendar", __name__)

PAGE_DAYS = 90  # the page shows what comes in the next three months
LATE_HOURS = 12  # and what began in the last twelve hours
FEED_PAST_DAYS = 30  # the feed keeps a month of the past, so a subscriber still sees last week's meeting
FEED_DAYS = 365
KIND_LABELS = {"meeting": _l("Meeting"), "ballot_opens": _l("Voting opens"), "ballot_closes": _l("Voting closes")}


def event_url(event, *, absolute=False) -> str:
    from flask import url_for
    build = absolute_url if absolute else url_for
    if event.kind == "meeting":
        return build("committees.meeting", org_id=event.obj.organization_id, meeting_id=event.obj.id)
    return build("votes.detail", slug=event.obj.community.slug, ballot_id=event.obj.id)


@bp.get("/c/<slug>/calendar")
@public
def page(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    return render_template("calendar/page.html", community=community, events_html=_events_html(community),
                           days=PAGE_DAYS)


def _events_html(community):
    """The page's events, rendered: the same for every viewer who may see the same meetings (public ones, and
    those of the viewer's organizations), so kept under the community's version (portal.versions) per
    language and such viewer, until the clock moves an event out of the page (12 hours after it) or one into
    it (PAGE_DAYS ahead; one more day is read to know when), or the year changes (dates gain their year)."""
    viewer = current_user
    if not viewer.is_authenticated:
        sees = ()
    elif viewer.is_admin:
        sees = ("all",)
    else:
        sees = tuple(sorted(o.id for o in roles.organizations(viewer)))

    def render():
        now = utcnow()
        start, end = now - timedelta(hours=LATE_HOURS), now + timedelta(days=PAGE_DAYS)
        found = meetings.upcoming_events(community, viewer, start, end + timedelta(days=1))
        events = [e for e in found if e.at < end]
        until = min([year_changes(community.time_zone), now + timedelta(days=1)]
                    + [e.at + timedelta(hours=LATE_HOURS) for e in events[:1]]
                    + [e.at - timedelta(days=PAGE_DAYS) for e in found if e.at >= end][:1])
        html = Markup(render_template("calendar/_events.html", events=events, zone=community.time_zone,
                                      kind_labels=KIND_LABELS, event_url=event_url))
        return versions.Kept(html, until=until)
    return versions.remember("calendar_events", community, render, str(get_locale()), sees)


def _uid(event) -> str:
    host = urlsplit(current_app.config["PORTAL_BASE_URL"]).hostname or "portal"
    return f"{event.kind.replace('_', '-')}-{event.obj.id}@{host}"


def _summary(event) -> str:
    if event.kind == "meeting":
        return f"{event.title} · {event.obj.organization.name}"
    if event.kind == "ballot_opens":
        return _("Voting opens: %(question)s", question=event.title)
    return _("Voting closes: %(question)s", question=event.title)


def build_feed(community, events, now) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Yishi community portal//calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", _("%(community)s: meetings and votes", community=community.name))
    calendar.add("x-wr-timezone", community.time_zone)
    for event in events:
        item = Event()
        item.add("uid", _uid(event))
        item.add("dtstamp", now)
        item.add("dtstart", event.at)  # UTC: every calendar shows it in its own zone
        if event.kind == "meeting":
            meeting = event.obj
            if meeting.ends_at:
                item.add("dtend", meeting.ends_at)
            location = meeting.place or meeting.online_url
            if location:
                item.add("location", location)
            agenda = "\n".join(f"{i.position}. {i.title}" for i in meeting.agenda)
            if agenda:
                item.add("description", agenda)
            item.add("status", "CANCELLED" if meeting.status == "cancelled" else "CONFIRMED")
        item.add("summary", _summary(event))
        item.add("url", event_url(event, absolute=True))
        calendar.add_component(item)
    return calendar.to_ical()


@bp.get("/c/<slug>/calendar.ics")
@public
def feed(slug):
    community = community_or_404(slug)
    # A members-only community has no public feed: the subscriber's phone never signs in.
    allow(permissions.can_view_community(current_user, community))
    now = utcnow().replace(microsecond=0)
    events = [e for e in meetings.upcoming_events(community, current_user, now - timedelta(days=FEED_PAST_DAYS),
                                                  now + timedelta(days=FEED_DAYS)) if e.is_public]
    response = make_response(build_feed(community, events, now))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'inline; filename="{community.slug}.ics"'
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
