"""Reading issues: one issue of a community, the community's list with its filters and sorts (keyset
pages), "my issues" and "due for me", the public timeline and what each entry says, and what a viewer
may see of the reporter."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, or_
from sqlalchemy.orm import contains_eager, joinedload, load_only

from portal.auth import permissions, roles
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues import similar
from portal.issues.models import OPEN_STATES, STATES, Issue, IssueCategory, IssueEvent, IssueSupport, IssueTerm
from portal.issues.services._common import _now
from portal.places.models import Building, Community, Household
from portal.web import relative_text_lasts, year_changes

if TYPE_CHECKING:
    from flask_login import AnonymousUserMixin

    from portal.auth.models import User

SORTS = ("newest", "supported", "due")

# What each timeline entry says, after the actor's name ("Zhou accepted the issue").
EVENT_LABELS = {
    "reported": _l("reported the issue"),
    "hotline": _l("received the issue from the 12345 hotline"),
    "accepted": _l("accepted the issue"),
    "handed_over": _l("handed the issue over"),
    "recategorized": _l("changed the category"),
    "handover_accepted": _l("took the issue over"),
    "started": _l("started work"),
    "update": _l("posted an update"),
    "resolved": _l("resolved the issue"),
    "rejected": _l("rejected the issue"),
    "merged": _l("merged the issue as a duplicate"),
    "rated": _l("rated the result"),
    "reopened": _l("reopened the issue"),
    "closed_unrated": _l("closed without a rating after 7 days"),
    "deadline_warning": _l("deadline warning"),
    "escalated": _l("turned the issue into a proposal"),
    # the 12345 work order
    "signed_for": _l("signed for the work order"),
    "sent_back": _l("sent the work order back"),
    "rerouted": _l("routed the work order to another organization"),
    "returned_to_hotline": _l("returned the work order to the hotline"),
    "extension_requested": _l("asked for more time"),
    "extension_approved": _l("approved more time"),
    "extension_refused": _l("refused more time"),
    "return_visit": _l("called the caller back (return visit)"),
    "return_visit_missed": _l("could not reach the caller"),
    "return_visit_failed": _l("closed without a rating: the caller was not reached in three attempts"),
    "appealed": _l("appealed the rating"),
    "appeal_upheld": _l("upheld the appeal: the rating is not counted"),
    "appeal_rejected": _l("rejected the appeal: the rating stays"),
    # whistle-blowing
    "whistle": _l("blew the whistle: summoned organizations to report in"),
    "reported_in": _l("reported in"),
}


# --- reading ---------------------------------------------------------------------------------------------

def _list_options():
    return (*_page_options(), joinedload(Issue.community))


def _page_options():
    return (joinedload(Issue.category), joinedload(Issue.building), joinedload(Issue.handling_org),
            joinedload(Issue.handover_org), joinedload(Issue.reporter))


def issue_in(community: Community, issue_id: int, *, joined: bool = True, again: bool = False) -> Issue | None:
    """One issue of a community, with what its page shows loaded in the same query (`joined`; or the issue's
    own row, the community being loaded already). `again`: loaded before without them."""
    query = db.select(Issue).where(Issue.community_id == community.id, Issue.id == issue_id)
    if joined:
        query = query.options(*_list_options())
    if again:
        query = query.execution_options(populate_existing=True)
    return db.session.scalar(query)


def issue_at(slug: str, issue_id: int, *, joined: bool = True) -> Issue | None:
    """issue_in for the community of an address, found in the same statement (None: no such community, or no
    such issue in it)."""
    return db.session.scalar(_issue_at_statement(joined), {"slug": slug, "issue_id": issue_id})


@cache
def _issue_at_statement(joined):
    # Built once per process: every issue page and every view acting on an issue asks it.
    query = (db.select(Issue).join(Community, Community.id == Issue.community_id)
             .where(Community.slug == bindparam("slug"), Issue.id == bindparam("issue_id"))
             .options(contains_eager(Issue.community)))
    return query.options(*_page_options()) if joined else query


def _encode_cursor(values) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor, kinds):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        out = []
        for value, kind in zip(values, kinds):
            if kind is datetime:
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError
            elif not isinstance(value, int) or isinstance(value, bool):
                raise ValueError
            out.append(value)
        return out
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise DomainError(_l("This list link is out of date; start from the first page."), "after") from None


def _after(columns, values, descending):
    """Rows strictly after `values` in the order of `columns` (all ascending, or all descending)."""
    clauses = []
    for i, (column, value) in enumerate(zip(columns, values)):
        step = column < value if descending else column > value
        clauses.append(and_(*[c == v for c, v in zip(columns[:i], values[:i])], step))
    return or_(*clauses)


def _page(query, columns, kinds, *, descending, after, limit, key):
    limit = _limit(limit)
    if after:
        query = query.where(_after(columns, _decode_cursor(after, kinds), descending))
    order = [c.desc() if descending else c.asc() for c in columns]
    items = db.session.scalars(query.order_by(*order).limit(limit + 1)).unique().all()
    more = len(items) > limit
    items = items[:limit]
    return items, (_encode_cursor(key(items[-1])) if more else None)


def _limit(limit):
    return max(1, min(int(limit), 100))


def _due_key(issue):
    # The cursor of "due soonest": open issues (0) by their next deadline, then the others (1) oldest first.
    return [0, issue.next_deadline, issue.id] if issue.next_deadline is not None else [1, issue.submitted_at, issue.id]


def _due_page(query, *, after, limit, open_part=True, closed_part=True):
    """"Due soonest" as two keyset reads, each on its own index: the open issues by their stored next deadline
    (ix_issue_community_next_deadline), then, when those run out on this page, the others by submission
    (ix_issue_community_submitted). Same order and cursors as one sort on (open?, deadline, id)."""
    limit = _limit(limit)
    part, values = 0, None
    if after:
        part, *values = _decode_cursor(after, [int, datetime, int])
        if part not in (0, 1):
            raise DomainError(_l("This list link is out of date; start from the first page."), "after")
    items = []
    if part == 0 and open_part:
        columns = [Issue.next_deadline, Issue.id]
        found = query.where(Issue.next_deadline.is_not(None))
        if values:
            found = found.where(_after(columns, values, False))
        items = db.session.scalars(found.order_by(*columns).limit(limit + 1)).unique().all()
        values = None
    if len(items) <= limit and closed_part:
        columns = [Issue.submitted_at, Issue.id]
        found = query.where(Issue.next_deadline.is_(None))
        if values:
            found = found.where(_after(columns, values, False))
        items += db.session.scalars(found.order_by(*columns).limit(limit + 1 - len(items))).unique().all()
    more = len(items) > limit
    items = items[:limit]
    return items, (_encode_cursor(_due_key(items[-1])) if more else None)


def _overdue_clause(now):
    # next_deadline is respond-by while nobody responded (never later than resolve-by), else resolve-by, and
    # NULL when not open: so this is "open, and respond-by passed without a response or resolve-by passed".
    return Issue.next_deadline < now


# What a row of the community list shows (templates/issues/_issue_rows.html), and what deciding whether a
# hidden title is shown to the viewer reads; the community is the one the page is about.
_ROW_COLUMNS = (Issue.id, Issue.community_id, Issue.category_id, Issue.building_id, Issue.title, Issue.status,
                Issue.hidden_state, Issue.support_count, Issue.submitted_at, Issue.first_response_at,
                Issue.respond_by, Issue.resolve_by, Issue.next_deadline, Issue.reporter_id,
                Issue.handling_org_id, Issue.handover_org_id)


def _row_options():
    return (load_only(*_ROW_COLUMNS),
            joinedload(Issue.category).load_only(IssueCategory.code, IssueCategory.name),
            joinedload(Issue.building).load_only(Building.name))


def community_issues(community: Community, viewer: User | AnonymousUserMixin, *, status: str | None = None,
                     category: IssueCategory | int | None = None, building: Building | int | None = None,
                     overdue: bool = False, sort: str = "newest", after: str | None = None, limit: int = 20,
                     now: datetime | None = None, q: str | None = None) -> tuple[list[Issue], str | None]:
    """A page of the community's issues and the cursor of the next page (None on the last).
    `status` is a state or "open"; `category` and `building` are objects or ids; `q` words (portal.words)
    that an open issue's title must all hold (the similar-issue index holds open issues only). Rows carry
    the columns the list shows; their community is `community` itself (from the session, without a query)."""
    if not permissions.can_view_community(viewer, community):
        raise NotAllowed(_l("This community's pages are for its members."))
    now = _now(now)
    query = db.select(Issue).where(Issue.community_id == community.id).options(*_row_options())
    if status == "open":
        query = query.where(Issue.status.in_(OPEN_STATES))
    elif status:
        if status not in STATES:
            raise DomainError(_l("Unknown status."), "status")
        query = query.where(Issue.status == status)
    if category is not None:
        query = query.where(Issue.category_id == getattr(category, "id", category))
    if building is not None:
        query = query.where(Issue.building_id == getattr(building, "id", building))
    if overdue:
        query = query.where(_overdue_clause(now))
    if q and (query_terms := sorted(similar.terms(q, similar.place_terms(community.id)))):
        query = query.where(Issue.id.in_(
            db.select(IssueTerm.issue_id)
            .where(IssueTerm.community_id == community.id, IssueTerm.term.in_(query_terms))
            .group_by(IssueTerm.issue_id).having(func.count() == len(query_terms))))
    if sort == "supported":
        return _page(query, [Issue.support_count, Issue.id], [int, int], descending=True, after=after, limit=limit,
                     key=lambda i: [i.support_count, i.id])
    if sort == "due":
        # Open issues first, by the deadline that matters now; then the others, oldest first.
        open_only = status == "open" or status in OPEN_STATES
        return _due_page(query, after=after, limit=limit, open_part=not status or open_only,
                         closed_part=not (open_only or overdue))
    if sort != "newest":
        raise DomainError(_l("Unknown order."), "sort")
    return _page(query, [Issue.submitted_at, Issue.id], [datetime, int], descending=True, after=after, limit=limit,
                 key=lambda i: [i.submitted_at, i.id])


def list_reads_the_same_until(community: Community, issues: list[Issue], now: datetime, *,
                              whole_community: bool = False) -> datetime:
    """When a page of the community's list, shown at `now`, starts to read differently with nothing
    written: a row's "due in …" changes its words or the row turns overdue, or the year changes in the
    community's zone (dates gain their year). With `whole_community` (the page lists only overdue issues),
    also when any open issue of the community passes its deadline and joins the list: one read of
    ix_issue_community_next_deadline."""
    until = year_changes(community.time_zone)
    for issue in issues:
        if issue.next_deadline is not None and issue.next_deadline > now:
            until = min(until, now + relative_text_lasts(issue.next_deadline - now))
    if whole_community:
        coming = db.session.scalar(db.select(func.min(Issue.next_deadline)).where(
            Issue.community_id == community.id, Issue.next_deadline >= now))
        if coming is not None:
            until = min(until, coming)
    return until


def my_issues(user: User | AnonymousUserMixin, *, after: str | None = None,
              limit: int = 20) -> tuple[list[Issue], str | None]:
    """Issues the person reported or supports, newest first."""
    if not getattr(user, "is_authenticated", False):
        return [], None
    supported = db.select(IssueSupport.issue_id).where(IssueSupport.user_id == user.id)
    query = db.select(Issue).where(or_(Issue.reporter_id == user.id, Issue.id.in_(supported))) \
        .options(*_list_options())
    return _page(query, [Issue.submitted_at, Issue.id], [datetime, int], descending=True, after=after, limit=limit,
                 key=lambda i: [i.submitted_at, i.id])


def due_for(user: User | AnonymousUserMixin, *, after: str | None = None,
            limit: int = 20) -> tuple[list[Issue], str | None]:
    """The handler's queue: open issues of the person's organizations (handling, or handed to them), and
    every open issue of an official's sub-district, the most urgent deadline first."""
    if not getattr(user, "is_authenticated", False):
        return [], None
    orgs = roles.organizations(user)
    org_ids = [o.id for o in orgs]
    sub_district_ids = [o.sub_district_id for o in orgs if o.kind == "subdistrict_office"]
    conditions = []
    if org_ids:
        conditions += [Issue.handling_org_id.in_(org_ids), Issue.handover_org_id.in_(org_ids)]
    if sub_district_ids:
        conditions.append(Issue.community_id.in_(
            db.select(Community.id).where(Community.sub_district_id.in_(sub_district_ids))))
    if not conditions:
        return [], None
    query = db.select(Issue).where(Issue.next_deadline.is_not(None), or_(*conditions)).options(*_list_options())
    return _page(query, [Issue.next_deadline, Issue.id], [datetime, int], descending=False, after=after,
                 limit=limit, key=lambda i: [i.next_deadline, i.id])


def public_events(issue: Issue, viewer: User | AnonymousUserMixin) -> list[IssueEvent]:
    """The timeline the viewer may see: everything for handlers, public entries for everyone else."""
    query = db.select(IssueEvent).where(IssueEvent.issue_id == issue.id) \
        .options(joinedload(IssueEvent.actor), joinedload(IssueEvent.organization), joinedload(IssueEvent.on_behalf_of))
    if not permissions.can_handle_issue(viewer, issue):
        query = query.where(IssueEvent.is_public.is_(True))
    return db.session.scalars(query.order_by(IssueEvent.at, IssueEvent.id)).all()


def event_label(event: IssueEvent) -> str:
    return str(EVENT_LABELS.get(event.kind, event.kind))


def reporter_name_for(viewer: User | AnonymousUserMixin, issue: Issue) -> str | None:
    """The reporter's name as this viewer may see it: None when hidden from them."""
    name = issue.reporter.display_name if issue.reporter is not None else issue.reporter_name
    if issue.show_name and issue.reporter is not None:
        return name
    return name if permissions.can_see_reporter(viewer, issue) else None


def reporter_phone_for(viewer: User | AnonymousUserMixin, issue: Issue) -> str:
    """Handlers see the reporter's phone masked, the hotline caller's too (the handling organization's staff
    open the full number on its own page, which the audit log records); the reporter sees their own;
    everyone else nothing."""
    from portal.formatting import mask_phone
    if not permissions.can_see_reporter(viewer, issue):
        return ""
    if issue.reporter is None:
        return mask_phone(issue.reporter_phone)
    phone = issue.reporter.phone or ""
    if not phone:
        return ""
    return phone if permissions.can_see_full_phone(viewer, issue.reporter) else mask_phone(phone)


def building_choices(community: Community) -> list[Building]:
    return db.session.scalars(db.select(Building).where(Building.community_id == community.id)
                              .order_by(Building.code)).all()


def household_choices(building: Building) -> list[Household]:
    return db.session.scalars(db.select(Household).where(Household.building_id == building.id)
                              .order_by(Household.entrance, Household.room)).all()
