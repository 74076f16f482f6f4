"""Proposal pages: each view loads, checks one permission rule, parses the input, calls one service, commits,
then redirects or renders.

Every page works without JavaScript; htmx only saves a reload (the support button, likes, "load more").
Loading a proposal applies its due steps first (a support window that ended archives it), so nothing waits
for `run-due`. A committee member acting for a resident at the counter writes proposals and comments for
them (`on_behalf_of`, as the issues pages do); everything else is done in the member's own name."""
import difflib
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import NamedTuple

from flask import abort, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from portal import clock, versions
from portal.auth import permissions, roles
from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.formviews import db_int, flash_back, form_view, posted_id
from portal.i18n import locale_name
from portal.moderation.services import is_hidden_for
from portal.places.services import community_or_404
from portal.proposals import bp, services
from portal.proposals.forms import (
    CommentForm,
    FilterForm,
    ProposalForm,
    ReasonForm,
    SettingsForm,
    SummaryForm,
    WithdrawForm,
)
from portal.proposals.models import (
    CATEGORIES,
    CATEGORY_LABELS,
    MAX_ATTACHMENTS,
    OUTCOME_LABELS,
    PUBLIC_STATES,
    STANCE_LABELS,
    STANCES,
    STATE_LABELS,
    STEPS,
    WITHDRAW_REASON_LABELS,
    Comment,
    ProposalAttachment,
)
from portal.sharing import clip, share_card
from portal.web import (
    CSRF_MARK,
    NO_CACHE,
    absolute_url,
    accepts_photos,
    allow,
    date_local,
    fill_marks,
    htmx_or_page,
    marks_key,
    page_key,
    perform,
    public,
    refuse,
    rendering_to_keep,
    send_upload,
    template_csrf_token,
    with_csrf,
    without_csrf,
    words_change_at,
    year_changes,
)

COMMENT_SORTS = services.COMMENT_SORTS
ATTACHMENT_SIZES = (400, 1600)
FEED_SIZE = 30
# As issue photos: a key never points to other bytes, so browsers may keep a file; shared caches may not,
# so that hiding a proposal takes effect for everyone who has not already seen it.
EMPTY_FEED_UPDATED = datetime(2025, 1, 1, tzinfo=UTC)  # a feed without entries still needs an <updated>


# --- loading and checking ----------------------------------------------------------------------------------

def _person():
    from portal.residents import acting
    return acting.current_person()


def _acting_for():
    from portal.residents import acting
    return acting.acting_for()


def _load(slug, proposal_id, *, joined=True):
    """The proposal as this viewer may see it, its due steps applied. A draft someone else may not see is
    not there at all (404), so drafts stay invisible; anything else they may not see asks for sign-in / 403.
    `joined`: with what its page shows (services.proposal_in)."""
    proposal = services.proposal_at(slug, proposal_id, joined=joined)  # the community read with it
    if proposal is None:
        abort(404)
    if not permissions.can_view_proposal(current_user, proposal):
        if proposal.status == "draft":
            abort(404)
        allow(False)
    if services.apply_due(proposal):
        db.session.commit()
    return proposal


def _comment(proposal, comment_id) -> Comment:
    comment = services.comment_in(proposal, comment_id)
    if comment is None:
        abort(404)
    return comment


def _detail_url(proposal, anchor=""):
    return url_for("proposals.detail", slug=proposal.community.slug, proposal_id=proposal.id) + anchor


def _comment_url(proposal, comment):
    """Where a comment shows: a top-level one on the proposal's page, a reply on its thread's page (the
    proposal's page shows only the first replies of each thread)."""
    if comment.parent_id is None:
        return _detail_url(proposal, f"#comment-{comment.id}")
    return url_for("proposals.replies", slug=proposal.community.slug, proposal_id=proposal.id,
                   comment_id=comment.parent_id) + f"#comment-{comment.id}"


def days_left(proposal) -> int | None:
    """Whole days (rounded up) until the support window ends, while supports are collected."""
    if proposal.status != "collecting" or proposal.support_deadline is None:
        return None
    return max(0, math.ceil((proposal.support_deadline - utcnow()).total_seconds() / 86400))


@bp.app_template_global()
def take_part_state(community) -> str | None:
    """Why the signed-in person may not take part in this community (support, propose, comment, vote), for
    the pages that then say so: "pending" (their claim waits for the committee), "unclaimed" (no home here
    claimed, or a claim refused or ended), or None (signed out, or they take part)."""
    person = _person()
    if not getattr(person, "is_authenticated", False) or community is None:
        return None
    cache = g.setdefault("take_part_state", {})  # read once a request, however many blocks ask
    key = (person.id, community.id)
    if key not in cache:
        cache[key] = _take_part_state(person, community)
    return cache[key]


def _take_part_state(person, community) -> str | None:
    if permissions.can_create_proposal(person, community):
        return None
    if person.is_admin or roles.organizations(person):
        return None  # staff and officials take part through their organization, not as residents
    from portal.residents.services import residencies_of
    if any(r.community_id == community.id and r.status == "pending" for r in residencies_of(person)):
        return "pending"
    return "unclaimed"


def _template_context():
    return {"state_labels": STATE_LABELS, "category_labels": CATEGORY_LABELS, "stance_labels": STANCE_LABELS,
            "stances": STANCES, "outcome_labels": OUTCOME_LABELS, "days_left": days_left,
            "event_label": services.event_label}


def step_list(proposal, dates):
    """The step bar: each step with its label, the date it was reached, whether it is done or current. A
    withdrawn or archived proposal shows the steps it went through, then how it ended."""
    ended = proposal.status not in STEPS
    if ended:
        reached = max((STEPS.index(s) for s in dates if s in STEPS), default=0)
    else:
        reached = STEPS.index(proposal.status)
    steps = [{"state": s, "label": STATE_LABELS[s], "at": dates.get(s), "done": i <= reached,
              "current": not ended and i == reached, "end": False} for i, s in enumerate(STEPS)]
    if ended:
        steps.append({"state": proposal.status, "label": STATE_LABELS[proposal.status],
                      "at": dates.get(proposal.status) or proposal.ended_at, "done": True, "current": True,
                      "end": True})
    for step in steps:  # the day in the community's zone; the exact time is in the title
        step["day"] = date_local(step["at"], proposal.community.time_zone) if step["at"] else None
    return steps


# --- lists -------------------------------------------------------------------------------------------------

FILTER_SELECTS = ("status", "category", "show")
FILTER_WORDS_KEPT = 100  # the words box holds 100 characters: a longer value (an edited link) is not kept


def filter_values(args) -> dict:
    """The list's filters as the address gives them, as FilterForm would read them (the first value of each;
    None when absent), without building the form on every view."""
    return {name: args.get(name) for name in (*FILTER_SELECTS, "q")}


def filter_fields(values) -> dict:
    """The list's filter fields as HTML (the words box and the selects): each rendered once per language and
    value and kept, rather than WTForms rendering a dozen options on every view. A value that is none of a
    select's choices (an edited link), or words longer than the box holds, is rendered for this view only."""
    locale = str(get_locale() or "en")
    fields = {}
    for name, value in values.items():
        if value is None or (value in _filter_values(name) if name != "q" else len(value) <= FILTER_WORDS_KEPT):
            fields[name] = _filter_field(locale, name, value)
        else:
            fields[name] = _render_field(FilterForm(MultiDict({name: value}))[name])
    return fields


@cache
def _filter_values(name) -> frozenset:
    return frozenset(choice.value for choice in FilterForm.__dict__[name].kwargs["choices"])


@lru_cache(maxsize=256)
def _filter_field(locale, name, value) -> Markup:
    return _render_field(FilterForm(MultiDict({} if value is None else {name: value}))[name])


def _render_field(form_field) -> Markup:
    # The same macro the page would call, without the page's context (it needs none).
    template = current_app.jinja_env.get_template("_macros.html")
    return Markup(template.module.field(form_field))


def _more_url(cursor):
    if not cursor:
        return None
    args = request.args.to_dict()
    args["after"] = cursor
    return url_for(request.endpoint, **(request.view_args or {}), **args)


@bp.get("/c/<slug>/proposals")
@public
def index(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    values = filter_values(request.args)
    status = values["status"] if values["status"] in ("open", *PUBLIC_STATES) else None
    category = values["category"] if values["category"] in CATEGORIES else None
    words = (values["q"] or "").strip()[:100] or None
    signed_in = current_user.is_authenticated
    after = request.args.get("after") or None
    show = values["show"] if signed_in else None
    try:
        rows_html, ids, any_rows = _proposal_rows(community, status, category, words, show, after)
    except DomainError as error:  # a stale or edited link: show the first page and say why
        flash(str(error.message), "error")
        return redirect(url_for("proposals.index", slug=slug))
    rows_html = _mark_supported(rows_html, _supported(community, ids) if signed_in else frozenset())
    if getattr(request, "htmx", False):
        return rows_html
    return render_template(
        "proposals/index.html", community=community, rows_html=rows_html, any_rows=any_rows,
        filters=filter_fields(values),
        drafts=_drafts(community) if signed_in and not after and show != "mine" else (),
        can_propose=permissions.can_create_proposal(_person(), community),
        feed_url=url_for("proposals.feed", slug=slug), **_template_context())


def _proposal_rows(community, status, category, words, show, after):
    """A page of the list as its rendered rows (with a mark where "You support it" goes), the proposals' ids
    and whether there are any. Kept under the community's version (portal.versions) per address and
    language until a "n days left" would change; not kept for the person's own lists (supported, needing
    their support, theirs), a word search, or a page with a hidden proposal (what it shows depends on the
    viewer)."""
    person = current_user

    def render():
        rows, cursor = services.community_proposals(
            community, person, status=status, category=category, q=words,
            supported_by=person if show == "supported" else None,
            needs_support_of=person if show == "needs_support" else None,
            written_by=_person() if show == "mine" else None, after=after)
        ids = tuple(p.id for p in rows)
        html = Markup(render_template("proposals/_rows.html", community=community, proposals=rows,
                                      more_url=_more_url(cursor), tallies=services.stance_tallies(ids),
                                      supported_ids=None, **_template_context()))
        until = min([year_changes(community.time_zone)] + [
            p.support_deadline - timedelta(days=left - 1)
            for p in rows if (left := days_left(p)) is not None and left >= 1])
        keep = not (show or words or any(p.hidden_state for p in rows))
        return versions.Kept((html, ids, bool(rows)), until=until, keep=keep)
    return versions.remember("proposal_rows", community, render, *page_key())


_SUPPORTED_MARK = re.compile(r"<!--supported:(\d+)-->")


def _mark_supported(rows_html, supported) -> Markup:
    badge = Markup('<span class="badge supported-badge">{}</span>').format(_("You support it"))
    return Markup(_SUPPORTED_MARK.sub(lambda m: badge if int(m.group(1)) in supported else "", rows_html))


def _supported(community, ids) -> frozenset:
    """Which of the page's proposals the person supports: kept per person and page under the community's
    version (a support changes the proposal's count, and with it the version)."""
    person = current_user
    return versions.remember("proposals_supported", community,
                             lambda: frozenset(services.supported_ids(person, ids)), ids,
                             person=person.id)


def _drafts(community) -> tuple:
    """The person's drafts here (id and title), kept per person under the community's version."""
    person = _person()
    return versions.remember("proposal_drafts", community, lambda: tuple(
        SimpleNamespace(id=d.id, title=d.title) for d in services.my_drafts(person, community)), person=person.id)


@bp.get("/c/<slug>/proposals.atom")
@public
def feed(slug):
    """New proposals of a community as Atom 1.0. Links come from PORTAL_BASE_URL, never the request's Host."""
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    entries = services.new_proposals_feed(community, limit=FEED_SIZE)
    updated = max((p.updated_at or p.published_at for p in entries), default=None) or EMPTY_FEED_UPDATED
    body = render_template(
        "proposals/feed.xml", community=community, entries=entries, updated=updated, absolute_url=absolute_url,
        feed_id=absolute_url("proposals.feed", slug=slug), xml_text=xml_text, **_template_context())
    response = make_response(body)
    response.mimetype = "application/atom+xml"
    response.headers["Cache-Control"] = NO_CACHE if community.members_only else "public, max-age=300"
    return response


# Characters XML 1.0 does not allow at all, even escaped: a title holding one would break every reader.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value) -> str:
    return _NOT_XML.sub("", str(value or ""))


# --- writing a proposal ------------------------------------------------------------------------------------

def _uploaded_attachments(form_field) -> list[tuple[str, bytes]]:
    """The chosen files as (filename, bytes); more than MAX_ATTACHMENTS is refused before any is read."""
    files = [f for f in request.files.getlist(form_field.name) if f and f.filename]
    if len(files) > MAX_ATTACHMENTS:
        raise DomainError(_("Attach at most %(count)d files; you chose %(chosen)d.",
                            count=MAX_ATTACHMENTS, chosen=len(files)), form_field.short_name)
    return [(f.filename, f.read()) for f in files]


def _cost(form_field):
    """The cost as written ("45,000", "￥450000") as a number; whether it is a sensible one is the service's rule."""
    text = re.sub(r"[\s,，¥￥]", "", form_field.data or "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise DomainError(_("Write the cost in yuan as a number such as 120000, or leave it empty."),
                          form_field.short_name) from None


def _proposal_choices(form, community):
    form.buildings.choices = [SelectChoice(b.id, b.name) for b in community.buildings]


def _proposal_fields(form):
    return {"title": form.title.data or "", "summary": form.summary.data or "", "body": form.body.data or "",
            "category": form.category.data or "", "building_ids": list(form.buildings.data or []),
            "estimated_cost": _cost(form.estimated_cost)}


@bp.route("/c/<slug>/proposals/new", methods=["GET", "POST"])
@accepts_photos
def new(slug):
    community = community_or_404(slug)
    if not permissions.can_create_proposal(_person(), community):
        allow(current_user.is_authenticated and permissions.can_view_community(current_user, community)
              and take_part_state(community) is not None)
        # Signed in but not (yet) a verified resident: say why and how, rather than a bare 403.
        return render_template("proposals/take_part.html", community=community, doing="propose"), 403
    form = ProposalForm()
    _proposal_choices(form, community)
    if request.method == "GET":
        form.category.data = request.args.get("category") if request.args.get("category") in CATEGORIES \
            else "other"
    publish = request.form.get("publish") is not None
    return form_view(
        form, lambda: services.create_proposal(
            current_user, community, **_proposal_fields(form), attachments=_uploaded_attachments(form.attachments),
            publish=publish, on_behalf_of=_acting_for()),
        field="title", done=_detail_url,
        message=_("Your proposal is published. Neighbours can now support it.") if publish
        else _("Your draft is saved. Only you can see it until you publish it."),
        page="proposals/new.html", context={"community": community, "form": form, "proposal": None,
                                            "max_attachments": MAX_ATTACHMENTS, **_template_context()})


@bp.route("/c/<slug>/proposals/<int:proposal_id>/edit", methods=["GET", "POST"])
@accepts_photos
def edit(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    allow(permissions.can_edit_proposal(current_user, proposal))
    community = proposal.community
    if request.method == "POST":
        form = ProposalForm()
    else:
        form = ProposalForm(data={
            "title": proposal.title, "summary": proposal.summary, "body": proposal.body,
            "category": proposal.category, "buildings": [b.id for b in proposal.buildings],
            "estimated_cost": "" if proposal.estimated_cost is None else f"{proposal.estimated_cost:f}"})
    _proposal_choices(form, community)

    def update():
        removed = {int(v) for v in request.form.getlist("remove_attachments") if v.isdigit()}
        services.update_proposal(
            current_user, proposal, **_proposal_fields(form),
            add_attachments=_uploaded_attachments(form.attachments),
            remove_attachment_ids=[a.id for a in proposal.attachments if a.id in removed],
            note=(form.note.data or "").strip())

    def page(shown):
        return render_template("proposals/new.html", community=community, form=form, proposal=shown,
                               max_attachments=MAX_ATTACHMENTS, **_template_context())
    return form_view(form, update, field="title", message=_("Your changes are saved."),
                     done=lambda _result: _detail_url(proposal), page=lambda: page(proposal),
                     refused=lambda _error: page(_load(slug, proposal_id)))


@bp.post("/c/<slug>/proposals/<int:proposal_id>/publish")
def publish(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    allow(permissions.can_publish_proposal(current_user, proposal))
    perform(lambda: services.publish(current_user, proposal),
            _("Your proposal is published. Neighbours can now support it."))
    return redirect(_detail_url(proposal))


@bp.route("/c/<slug>/proposals/<int:proposal_id>/withdraw", methods=["GET", "POST"])
def withdraw(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    allow(permissions.can_withdraw_proposal(current_user, proposal))
    form = WithdrawForm()
    return form_view(
        form, lambda: services.withdraw(current_user, proposal, form.reason.data or "", (form.note.data or "").strip()),
        validate=False, field="reason", message=_("Your proposal is withdrawn; its supporters are told why."),
        done=lambda _result: _detail_url(proposal),
        page=lambda: render_template("proposals/withdraw.html", community=proposal.community, proposal=proposal,
                                     form=form, **_template_context()))


# --- one proposal ------------------------------------------------------------------------------------------

def _page_number():
    page = request.args.get("page", type=db_int) or 1
    return max(1, min(page, 100_000))


def _sort():
    sort = request.args.get("sort")
    return sort if sort in COMMENT_SORTS else "oldest"


def _support_context(proposal):
    signed_in = current_user.is_authenticated
    return {"proposal": proposal, "supported": signed_in and proposal.id in _supported_here(proposal.community),
            "can_support": signed_in and permissions.can_support_proposal(current_user, proposal)}


def _supported_here(community) -> frozenset:
    """The proposals of the community the person supports, kept per person under the community's version (a
    support changes its proposal's count, and with it the version)."""
    person = current_user
    return versions.remember("proposals_supported_here", community,
                             lambda: services.supported_in(person, community), person=person.id)


def _like_rule(proposal):
    """can_like_comment for every comment of a page, its community part asked once: a page of a thousand
    comments must not ask whether the viewer is a verified resident a thousand times."""
    viewer = current_user
    takes_part = viewer.is_authenticated and permissions.can_create_proposal(viewer, proposal.community)

    def may_like(comment):
        return takes_part and comment.deleted_at is None and comment.hidden_state is None and \
            comment.author_id != viewer.id
    return may_like


# --- a comment's controls, written the same way on every page that shows comments ------------------------
# Python rather than template includes: the kept consultation page (_kept_body) fills these in for each of
# its up to eighty comments on every request.

@lru_cache(maxsize=8)
def _control_words(locale: str) -> SimpleNamespace:
    """The comment controls' words in a language, escaped once (the kept consultation page writes up to
    eighty comments' controls on every request)."""
    return SimpleNamespace(**{key: escape(text) for key, text in {
        "like": _("Like"), "liked": _("Liked"), "take_back": _("(press to take back your like)"),
        "edit": _("Edit"), "delete": _("Delete"), "delete_ask": _("Delete your comment? Replies to it stay."),
        "delete_mine": _("Delete my comment"), "reply": _("Reply")}.items()})


class _Controls:
    """A page's comment controls, written from what is the same for all its comments (the words in the
    page's language, the escaped comments address, the CSRF token) worked out once: the kept consultation
    page writes up to eighty comments' controls on every request. Comment ids and counts are integers,
    which need no escaping."""
    __slots__ = ("words", "url", "_token")

    def __init__(self, comments_url, token_html=None):
        """`token_html`: what goes in the forms' token fields (the request's token, escaped, by default)."""
        self.words = _control_words(locale_name())
        self.url = escape(comments_url)
        self._token = token_html

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = escape(template_csrf_token())
        return self._token

    def like(self, comment_id, count, state) -> str:
        """A comment's likes: with `state` "like" or "unlike", the button for one who may like it (a real
        POST, swapped in place by htmx; "unlike" when they do), else ("static") the count alone, when there
        is one."""
        comment_id, count = int(comment_id), int(count)
        if state == "static":
            inner = f'<span class="like-static">{escape(ngettext("%(num)d like", "%(num)d likes", count))}</span>' \
                if count else ""
        else:
            words = self.words
            if state == "unlike":
                button = (f'<button class="like-button is-liked" type="submit" name="action" value="unlike" '
                          f'aria-pressed="true">{words.liked} <span class="like-count">{count}</span>'
                          f'<span class="visually-hidden"> {words.take_back}</span></button>')
            else:
                button = (f'<button class="like-button" type="submit" name="action" value="like" '
                          f'aria-pressed="false">{words.like} <span class="like-count">{count}</span></button>')
            url = f"{self.url}/{comment_id}/like"
            inner = (f'<form method="post" action="{url}" hx-post="{url}" hx-target="#like-{comment_id}" '
                     f'hx-swap="outerHTML" class="inline-form"><input type="hidden" name="csrf_token" '
                     f'value="{self.token}">{button}</form>')
        return f'<span class="like" id="like-{comment_id}">{inner}</span>'

    def own_links(self, comment_id, editable, deletable) -> str:
        """"Edit" and "Delete" under one's own comment, as far as each is still allowed."""
        if not (editable or deletable):
            return ""
        words = self.words
        url = f"{self.url}/{int(comment_id)}"
        html = f'<a class="small-link" href="{url}/edit">{words.edit}</a>' if editable else ""
        if deletable:
            html += (f'<details class="inline-details"><summary>{words.delete}</summary><form method="post" '
                     f'action="{url}/delete"><input type="hidden" name="csrf_token" value="{self.token}">'
                     f'<p>{words.delete_ask}</p><button class="button button-small" type="submit">'
                     f'{words.delete_mine}</button></form></details>')
        return html

    def reply_link(self, comment_id) -> str:
        """"Reply" under a thread: the reply form put in place by htmx, or its own page."""
        url = f"{self.url}/{int(comment_id)}/reply"
        return (f'<a class="small-link reply-link" href="{url}" hx-get="{url}" hx-target="this" '
                f'hx-swap="outerHTML">{self.words.reply}</a>')


@bp.app_template_global()
def proposal_like(comments_url, comment_id, count, state) -> Markup:
    return Markup(_Controls(comments_url).like(comment_id, count, state))


@bp.app_template_global()
def proposal_own_links(comments_url, comment_id, editable, deletable) -> Markup:
    return Markup(_Controls(comments_url).own_links(comment_id, editable, deletable))


@bp.app_template_global()
def proposal_reply_link(comments_url, comment_id) -> Markup:
    return Markup(_Controls(comments_url).reply_link(comment_id))


def _detail_page(proposal, kept):
    sort, page = _sort(), _page_number()
    if kept:
        body = _kept_body(proposal, sort, page)
        if body is not None:
            return render_template("proposals/detail.html", community=proposal.community, proposal=proposal,
                                   hidden=False, body=body, share=_share(proposal))
    return render_template("proposals/detail.html", body=None, **_detail_context(proposal, sort, page))


def _detail_context(proposal, sort, page, *, kept=False) -> dict:
    """What the page shows; with `kept`, only what it shows every plain viewer alike (_kept_body)."""
    viewer = current_user
    threads, pager = services.comment_page(proposal, viewer, sort=sort, page=page)
    context = dict(
        community=proposal.community, proposal=proposal,
        steps=step_list(proposal, _kept(proposal, "step_dates", services.step_dates)),
        tally=_kept(proposal, "stance_tally", services.stance_tally),
        threads=threads, pager=pager, sort=sort, sorts=COMMENT_SORTS,
        events=services.timeline(proposal, viewer), hidden=not kept and is_hidden_for(viewer, "proposal", proposal),
        withdraw_labels=WITHDRAW_REASON_LABELS, share=_share(proposal), **_template_context())
    if kept:
        return context
    signed_in = viewer.is_authenticated
    if signed_in:
        # Asked on every page, not only where a block then explains it, so that a page costs the same
        # statements whatever state the proposal is in.
        take_part_state(proposal.community)
    comment_ids = [c.id for thread in threads for c in (thread.top, *thread.replies)]
    return dict(context, liked_ids=services.liked_ids(viewer, comment_ids) if signed_in else set(),
                may_like=_like_rule(proposal), new_comment=CommentForm(formdata=None),
                can_comment=signed_in and permissions.can_comment(_person(), proposal), **_support_context(proposal))


def _comments_url(proposal) -> str:
    return url_for("proposals.comment", slug=proposal.community.slug, proposal_id=proposal.id)


def _kept_for(proposal) -> bool:
    """Whether this request is served the kept page (_kept_body)."""
    return request.method == "GET" and _plain_viewer(proposal)


def _plain_viewer(proposal) -> bool:
    """A visitor, or a signed-in person with no organization (not staff, official, committee member nor
    admin) who neither wrote the proposal nor acts for someone: every such viewer is shown the same page but
    for their own parts (_fill_kept), of a proposal nobody hid."""
    if proposal.hidden_state is not None or proposal.status == "draft":
        return False
    user = current_user
    return roles.without_organization(user) and (not user.is_authenticated or (
        _acting_for() is None and user.id not in (proposal.author_id, proposal.created_by_id)))


class _KeptPage(NamedTuple):
    html: str  # the page below the header, its CSRF tokens and its viewers' own parts as marks
    comment_ids: tuple  # the comments whose likes it shows (kept apart, under the proposal's likes_version)
    apart: frozenset  # who is served the page drawn for them: the writers of a hidden comment on it, who
    # read its words (moderation's is_hidden_for)
    go_to_form: str  # the "Go to the comment form" link, for those who may comment
    comment_form: str  # the empty comment form, for those who may comment
    writers: frozenset  # who wrote the proposal and its comments: a page filled for anyone else is the same for all


_SUPPORT_MARK, _FORM_MARK = "<!--proposal-support-->", "<!--comment-form-->"
_GO_TO_FORM_MARK = "<!--goto-comment-form-->"
_COMMENT_MARK = re.compile(r"<!--(like|own|reply):(\d+)(?::(\d+))?(?::([01]))?-->")


def _kept_body(proposal, sort, page) -> Markup | None:
    """The page below the header as residents and visitors see it, kept per proposal, order of comments,
    page and language under the community's version (the proposal, its comments, events and attachments,
    ballots, notices, names: portal.versions) until a time on it would read differently (a ballot's opening
    or closing is one: the page then applies it) or the year changes; ordered by likes, also under the
    proposal's likes_version (every like may reorder it). Each comment's like count is filled in from the
    counts kept under that version (_likes); the viewer's support block, likes, own comments' links, reply
    links, "Report" controls (web.fill_marks) and comment form are filled in here. None for a viewer the page
    is not kept for (_KeptPage.apart)."""
    community = proposal.community

    def render():
        now = clock.utcnow()  # read where tests move it
        with rendering_to_keep() as moments:
            context = _detail_context(proposal, sort, page, kept=True)
            html = render_template("proposals/_detail_body.html", kept=True, **context)
            go_to_form = render_template("proposals/_goto_comment_form.html")
            comment_form = render_template("proposals/_new_comment.html", community=community, proposal=proposal,
                                           can_comment=True, new_comment=CommentForm(formdata=None)) \
                if proposal.consultation_open else ""
        comments = [c for thread in context["threads"] for c in (thread.top, *thread.replies)]
        apart = {writer for c in comments if c.hidden_state is not None for writer in (c.author_id, c.created_by_id)
                 if writer is not None}
        shown = tuple(c.id for c in comments if c.deleted_at is None and c.hidden_state is None)
        until = min(e for e in (year_changes(community.time_zone), words_change_at(moments, now)) if e is not None)
        writers = frozenset(writer for item in (proposal, *comments) for writer in (item.author_id, item.created_by_id)
                            if writer is not None)
        return versions.Kept(_KeptPage(without_csrf(html), shown, frozenset(apart), without_csrf(go_to_form),
                                       without_csrf(comment_form), writers), until=until)
    kept = versions.remember("proposal_page_body", community, render, proposal.id, sort, page, locale_name(),
                             also=(proposal.likes_version,) if sort == "liked" else ())
    if current_user.is_authenticated and current_user.id in kept.apart:
        return None
    return _fill_kept(proposal, kept, sort, page)


def _fill_kept(proposal, kept: _KeptPage, sort, page) -> Markup:
    """The kept page with this request's viewer's own parts in place of its marks."""
    viewer = current_user._get_current_object()  # read once per mark: not through the proxy each time
    signed_in = viewer.is_authenticated
    community = proposal.community
    counts, liked = _likes(proposal, kept.comment_ids, viewer)
    takes_part = signed_in and permissions.can_create_proposal(viewer, community)
    can_comment = signed_in and permissions.can_comment(_person(), proposal)
    if signed_in:
        take_part_state(community)  # as the page drawn in full: the same statements whatever the state
    html = str(with_csrf(_filled_comments(proposal, kept, (sort, page), viewer, takes_part, can_comment, counts,
                                          liked)))
    if _SUPPORT_MARK in html:
        support = render_template("proposals/_support.html", **_support_context(proposal), **_template_context())
        html = html.replace(_SUPPORT_MARK, support, 1)
    if _FORM_MARK in html:
        form = with_csrf(kept.comment_form) if can_comment else render_template(
            "proposals/_new_comment.html", community=community, proposal=proposal, can_comment=False)
        html = html.replace(_FORM_MARK, form, 1)
    html = html.replace(_GO_TO_FORM_MARK, with_csrf(kept.go_to_form) if can_comment else "", 1)
    return Markup(html)


def _likes(proposal, comment_ids, viewer) -> tuple[dict, frozenset]:
    """The page's comments' like counts, and which of them the viewer likes, kept under the proposal's
    likes_version (read with the proposal, changed by every like and unlike of its comments): the counts for
    everyone, the viewer's likes apart. A view after someone's like reads them again; others read nothing."""
    community, also = proposal.community, (proposal.likes_version,)
    counts = versions.remember("proposal_like_counts", community,
                               lambda: services.like_counts(comment_ids), proposal.id, comment_ids,
                               also=also)
    if not viewer.is_authenticated:
        return counts, frozenset()
    liked = versions.remember("proposal_liked", community,
                              lambda: frozenset(services.liked_ids(viewer, comment_ids)), proposal.id, comment_ids,
                              also=also, person=viewer.id)
    return counts, liked


def _filled_comments(proposal, kept: _KeptPage, page_key, viewer, takes_part, can_comment, counts,
                     liked: frozenset) -> str:
    """The kept page with each comment's likes, own links and reply link in place of its marks, and the
    marks the areas above fill (moderation's "Report": web.fill_marks), the CSRF tokens still marks. The same
    for every viewer who may do the same, likes and reported the same and wrote nothing on it (most residents
    alike, every visitor): kept for them beside the kept page (portal.versions), until the page or the
    proposal's likes_version changes; one who wrote on it gets their own, kept apart."""
    community = proposal.community
    mine_here = viewer.id if viewer.is_authenticated and viewer.id in kept.writers else None

    def fill_in():
        controls = _Controls(_comments_url(proposal), CSRF_MARK)

        def fill(match):
            kind, comment_id, author_id = match.group(1), int(match.group(2)), match.group(3)
            if kind == "like":
                mine = mine_here is not None and int(author_id) == mine_here
                state = ("unlike" if comment_id in liked else "like") if takes_part and not mine else "static"
                return controls.like(comment_id, counts.get(comment_id, 0), state)
            if kind == "own":
                mine = mine_here is not None and int(author_id) == mine_here
                return controls.own_links(comment_id, match.group(4) == "1", True) if mine else ""
            return controls.reply_link(comment_id) if can_comment else ""
        return fill_marks(_COMMENT_MARK.sub(fill, kept.html), community)
    # The counts are kept under the proposal's likes_version (_likes): the version says them.
    return versions.remember("proposal_page_filled", community, fill_in, proposal.id, *page_key, locale_name(),
                             takes_part, can_comment, liked, marks_key(community, kept.writers),
                             also=(kept, proposal.likes_version), person=mine_here)


def _kept(proposal, name, read):
    """`read(proposal)` (plain data: the step bar's dates, the comments' stance tally) read once per version of
    the community (portal.versions: comments and the proposal's events are tracked)."""
    return versions.remember_item("proposal_page_" + name, proposal.community, proposal.id, lambda: read(proposal))


def _share(proposal):
    community = proposal.community
    return share_card("proposal", proposal.id, public=permissions.can_share_card("proposal", proposal),
                      url=absolute_url("proposals.detail", slug=community.slug, proposal_id=proposal.id),
                      title=proposal.title, description=f"{clip(proposal.summary)} · {community.name}",
                      community=community, image_parts=(proposal.title, community.name, proposal.status_label))


@bp.get("/c/<slug>/proposals/<int:proposal_id>")
@public
def detail(slug, proposal_id):
    # Residents and visitors are served the kept page (_kept_body), which needs the proposal's own row alone;
    # the rows the page drawn in full shows are read with it for anyone else.
    light = roles.without_organization(current_user)
    proposal = _load(slug, proposal_id, joined=not light)
    kept = light and _kept_for(proposal)
    if light and not kept:
        proposal = services.proposal_in(proposal.community, proposal.id, again=True)
    return _detail_page(proposal, kept)


@bp.get("/c/<slug>/proposals/<int:proposal_id>/comments/<int:comment_id>/replies")
@public
def replies(slug, proposal_id, comment_id):
    """The replies of a thread after `after`, a page at a time: with htmx the rows that replace the "show more
    replies" link; without, the thread's own page."""
    proposal = _load(slug, proposal_id)
    top = _comment(proposal, comment_id)
    if top.parent_id is not None:
        abort(404)
    viewer = current_user
    after = max(0, min(request.args.get("after", type=db_int) or 0, 2**31 - 1))
    found, later = services.thread_replies(proposal, top, viewer, after=after, limit=services.REPLIES_PER_PAGE)
    signed_in = viewer.is_authenticated
    return htmx_or_page(
        "proposals/_replies.html", "proposals/thread.html", community=proposal.community, proposal=proposal,
        top=top, replies=found, later=later, after=after, zone=proposal.community.time_zone,
        comments_url=_comments_url(proposal),
        hidden=is_hidden_for(viewer, "proposal", proposal),
        liked_ids=services.liked_ids(viewer, [top.id, *(c.id for c in found)]) if signed_in else set(),
        may_like=_like_rule(proposal), can_comment=signed_in and permissions.can_comment(_person(), proposal),
        **_template_context())


@bp.post("/c/<slug>/proposals/<int:proposal_id>/support")
def support(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    person = current_user
    withdrawing = request.form.get("action") == "withdraw"
    # A second click is a no-op, even when the first one opened the consultation meanwhile.
    already = not withdrawing and services.has_supported(person, proposal)
    if not withdrawing and not already:
        allow(permissions.can_support_proposal(person, proposal))
    try:
        if withdrawing:
            changed = services.withdraw_support(person, proposal)
        else:
            changed = not already and services.support(person, proposal)
    except NotAllowed as error:
        if not withdrawing:
            refuse()
        db.session.rollback()  # a stale page: supports can no longer be taken back
        notice, category = str(error.message), "error"
    except DomainError as error:
        db.session.rollback()
        notice, category = str(error.message), "error"
    else:
        db.session.commit()
        category = "success"
        if withdrawing:
            notice = _("Your support is withdrawn.") if changed else _("You do not support this proposal.")
        elif not changed:
            notice = _("You already support this proposal.")
        elif proposal.status == "deliberation":
            notice = _("Thank you: with your support the proposal reached its threshold and goes to consultation.")
        else:
            notice = _("Thank you: your support is counted.")
    if request.htmx:
        return render_template("proposals/_support.html", notice=notice, **_support_context(proposal),
                               days_left=days_left)
    flash(notice, category)
    return redirect(_detail_url(proposal, "#support"))


@bp.route("/c/<slug>/proposals/<int:proposal_id>/deliberate", methods=["GET", "POST"])
def deliberate(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    allow(permissions.can_move_to_deliberation(current_user, proposal))
    return _reason_action(
        proposal, lambda reason: services.move_to_deliberation(current_user, proposal, reason),
        title=_("Move to consultation now"), button=_("Open the consultation"),
        hint=_("The proposal skips the rest of its support window. Say why: the reason is shown on its timeline."),
        done=_("The consultation is open; the author and supporters are told."))


@bp.route("/c/<slug>/proposals/<int:proposal_id>/close", methods=["GET", "POST"])
def close_deliberation(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    allow(permissions.can_close_deliberation(current_user, proposal))
    return _reason_action(
        proposal, lambda reason: services.close_deliberation(current_user, proposal, reason),
        title=_("Close the consultation"), button=_("Close the consultation"),
        hint=_("Comments become read-only. The vote itself is opened from the votes area."),
        done=_("The consultation is closed; comments are now read-only."))


def _reason_action(proposal, run, *, title, button, hint, done):
    form = ReasonForm()
    return form_view(
        form, lambda: run((form.reason.data or "").strip()), validate=False, field="reason", message=done,
        done=lambda _result: _detail_url(proposal),
        page=lambda: render_template("proposals/reason.html", community=proposal.community, proposal=proposal,
                                     form=form, heading=title, button=button, hint=hint, action=request.path,
                                     **_template_context()))


@bp.route("/c/<slug>/proposals/<int:proposal_id>/summary", methods=["GET", "POST"])
def summary(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    allow(permissions.can_write_summary(current_user, proposal))
    if request.method == "POST":
        form = SummaryForm()
    else:
        form = SummaryForm(data={"arguments_for": proposal.summary_for or "",
                                 "arguments_against": proposal.summary_against or ""})
    return form_view(
        form, lambda: services.write_summary(current_user, proposal,
                                             arguments_for=(form.arguments_for.data or "").strip(),
                                             arguments_against=(form.arguments_against.data or "").strip()),
        validate=False, field="arguments_for", message=_("The summary is pinned on top of the proposal."),
        done=lambda _result: _detail_url(proposal),
        page=lambda: render_template("proposals/summary.html", community=proposal.community, proposal=proposal,
                                     form=form, **_template_context()))


@bp.get("/c/<slug>/proposals/<int:proposal_id>/history")
@public
def history(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    allow(not is_hidden_for(current_user, "proposal", proposal))
    versions = services.versions(proposal)  # newest first
    from portal.places.models import Building
    building_names = {b.id: b.name for b in db.session.scalars(
        db.select(Building).where(Building.community_id == proposal.community_id))}
    changes = []
    for index, version in enumerate(versions):
        previous = versions[index + 1] if index + 1 < len(versions) else None
        changes.append((version, previous, _version_diff(previous, version, building_names)))
    return render_template("proposals/history.html", community=proposal.community, proposal=proposal,
                           changes=changes, **_template_context())


def _tokens(text):
    # Words and spaces for alphabetic text, one character at a time for Chinese (no spaces between words).
    return re.findall(r"[A-Za-z0-9_.,'’-]+|\s+|.", text or "", flags=re.S)


def word_diff(old, new):
    """[(kind, text)] with kind "same", "del" or "ins": what changed between two short texts."""
    a, b = _tokens(old), _tokens(new)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("ins", "".join(b[j1:j2])))
    return out


def line_diff(old, new):
    """[(kind, line)] for the full text: lines kept, removed, added (each line escaped when shown)."""
    a, b = (old or "").splitlines(), (new or "").splitlines()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.extend(("same", line) for line in a[i1:i2])
            continue
        if op == "replace" and i2 - i1 == j2 - j1:  # a line edited in place: show the words that changed
            out.extend(("edit", word_diff(x, y)) for x, y in zip(a[i1:i2], b[j1:j2]))
            continue
        out.extend(("del", line) for line in a[i1:i2])
        out.extend(("ins", line) for line in b[j1:j2])
    return out


def _version_diff(previous, version, building_names):
    def buildings(v):
        return ", ".join(building_names.get(i, "?") for i in (v.building_ids or [])) or _("The whole community")

    def cost(v):
        return "" if v.estimated_cost is None else f"¥{v.estimated_cost:,.2f}"
    if previous is None:
        return None
    fields = []
    for label, old, new in (
            (_("Title"), previous.title, version.title),
            (_("Summary"), previous.summary, version.summary),
            (_("Category"), str(CATEGORY_LABELS.get(previous.category, previous.category)),
             str(CATEGORY_LABELS.get(version.category, version.category))),
            (_("Buildings"), buildings(previous), buildings(version)),
            (_("Estimated cost"), cost(previous), cost(version))):
        if old != new:
            fields.append((label, word_diff(old, new)))
    body = line_diff(previous.body, version.body) if previous.body != version.body else None
    return {"fields": fields, "body": body}


# --- attachments -------------------------------------------------------------------------------------------

@bp.get("/c/<slug>/proposals/<int:proposal_id>/files/<key>", defaults={"size": None})
@bp.get("/c/<slug>/proposals/<int:proposal_id>/files/<key>/<int:size>")
@public
def attachment(slug, proposal_id, key, size):
    from flask_login import AnonymousUserMixin

    from portal.proposals import attachments
    proposal = _load(slug, proposal_id)
    allow(not is_hidden_for(current_user, "proposal", proposal))
    found = db.session.scalar(db.select(ProposalAttachment).where(
        ProposalAttachment.key == key, ProposalAttachment.proposal_id == proposal.id))
    if found is None:
        abort(404)
    anonymous = AnonymousUserMixin()
    return send_upload(found, attachments.path_for, size, ATTACHMENT_SIZES,
                       public=permissions.can_view_proposal(anonymous, proposal)
                       and not is_hidden_for(anonymous, "proposal", proposal))


# --- comments ----------------------------------------------------------------------------------------------

def _comment_page(proposal, form, parent=None, comment=None, status=200):
    """The comment form alone, with the message and the person's typing, when a comment was refused."""
    return render_template("proposals/comment.html", community=proposal.community, proposal=proposal,
                           form=form, parent=parent, comment=comment, **_template_context()), status


@bp.post("/c/<slug>/proposals/<int:proposal_id>/comments")
def comment(slug, proposal_id):
    proposal = _load(slug, proposal_id)
    person = _person()
    allow(permissions.can_comment(person, proposal))
    form = CommentForm()
    parent = None
    if (form.parent_id.data or "").strip():
        parent_id = posted_id(form.parent_id.data)
        if parent_id is None:  # not a number, or none the database holds
            abort(404)
        parent = _comment(proposal, parent_id)
    return form_view(
        form, lambda: services.add_comment(current_user, proposal, stance=form.stance.data or "",
                                           body=form.body.data or "", parent=parent, on_behalf_of=_acting_for()),
        validate=False, field="body", message=_("Your comment is posted."),
        done=lambda added: _comment_url(proposal, added), page=lambda: _comment_page(proposal, form, parent=parent))


@bp.get("/c/<slug>/proposals/<int:proposal_id>/comments/<int:comment_id>/reply")
def reply(slug, proposal_id, comment_id):
    """The reply form for one thread: a page of its own, or (htmx) put in place of the "Reply" link. The
    comment list does not carry a form under every thread — that doubled the size of a long consultation."""
    proposal = _load(slug, proposal_id)
    parent = _comment(proposal, comment_id)
    allow(permissions.can_comment(_person(), proposal))
    if parent.parent_id is not None:
        parent = parent.parent
    form = CommentForm()
    if getattr(request, "htmx", False):
        return render_template("proposals/_reply_form.html", proposal=proposal, parent=parent, form=form)
    return _comment_page(proposal, form, parent=parent)


@bp.route("/c/<slug>/proposals/<int:proposal_id>/comments/<int:comment_id>/edit", methods=["GET", "POST"])
def edit_comment(slug, proposal_id, comment_id):
    proposal = _load(slug, proposal_id)
    found = _comment(proposal, comment_id)
    person = current_user
    allow(permissions.can_edit_comment(person, found))
    form = CommentForm() if request.method == "POST" else CommentForm(data={"stance": found.stance,
                                                                            "body": found.body})
    return form_view(
        form, lambda: services.edit_comment(person, found, stance=form.stance.data or "", body=form.body.data or ""),
        validate=False, field="body", message=_("Your comment is saved."),
        done=lambda _result: _comment_url(proposal, found),
        page=lambda: _comment_page(proposal, form, parent=found.parent, comment=found))


@bp.post("/c/<slug>/proposals/<int:proposal_id>/comments/<int:comment_id>/delete")
def delete_comment(slug, proposal_id, comment_id):
    proposal = _load(slug, proposal_id)
    found = _comment(proposal, comment_id)
    person = current_user
    allow(permissions.can_delete_comment(person, found))
    perform(lambda: services.delete_comment(person, found),
            _("Your comment is deleted. Replies to it stay in place."))
    return redirect(_comment_url(proposal, found))


@bp.post("/c/<slug>/proposals/<int:proposal_id>/comments/<int:comment_id>/like")
def like_comment(slug, proposal_id, comment_id):
    proposal = _load(slug, proposal_id)
    found = _comment(proposal, comment_id)
    person = current_user
    allow(permissions.can_like_comment(person, found))
    act = services.unlike_comment if request.form.get("action") == "unlike" else services.like_comment
    perform(lambda: act(person, found))
    if request.htmx:
        db.session.refresh(found)
        return render_template("proposals/_like.html", proposal=proposal, c=found, comments_url=_comments_url(proposal),
                               liked=bool(services.liked_ids(person, [found.id])), may_like=lambda c: True)
    return redirect(_comment_url(proposal, found))


@bp.get("/c/<slug>/proposals/<int:proposal_id>/comments/<int:comment_id>/history")
def comment_history(slug, proposal_id, comment_id):
    proposal = _load(slug, proposal_id)
    found = _comment(proposal, comment_id)
    allow(permissions.can_moderate(current_user, proposal.community))
    revisions = services.comment_revisions(found)
    return render_template("proposals/comment_history.html", community=proposal.community, proposal=proposal,
                           comment=found, revisions=revisions, **_template_context())


# --- the community's settings and escalating an issue ------------------------------------------------------

@bp.route("/c/<slug>/proposals/settings", methods=["GET", "POST"])
def settings(slug):
    community = community_or_404(slug)
    allow(permissions.can_manage_proposal_settings(current_user, community))
    if request.method == "POST":
        form = SettingsForm()
    else:
        threshold, days = services.settings_for(community)
        form = SettingsForm(data={"threshold": str(threshold), "days": str(days),
                                  "notice_days": str(community.notice_days)})
    return form_view(
        form, lambda: services.update_settings(
            current_user, community, threshold=_whole_number(form.threshold), days=_whole_number(form.days),
            notice_days=_whole_number(form.notice_days) if form.notice_days.raw_data else None),
        validate=False, field="threshold",
        message=_("Saved. New proposals use these settings; published ones keep theirs."),
        done=url_for("proposals.index", slug=slug),
        page="proposals/settings.html", context={"community": community, "form": form, **_template_context()})


def _whole_number(form_field):
    text = (form_field.data or "").strip()
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise DomainError(_("Write a whole number."), form_field.short_name)
    return int(text)


@bp.post("/c/<slug>/issues/<int:issue_id>/escalate")
def escalate_issue(slug, issue_id):
    from portal.issues import services as issue_services
    issue = issue_services.issue_in(community_or_404(slug), issue_id)
    if issue is None:
        abort(404)
    allow(permissions.can_escalate_issue(current_user, issue))
    # A button on the issue's page: a refusal is said there.
    return form_view(FlaskForm(), lambda: services.escalate_issue(current_user, issue), validate=False,
                     refused=flash_back(url_for("issues.detail", slug=slug, issue_id=issue.id)),
                     message=_("A draft proposal is made from the issue. Check it, then publish it."),
                     done=lambda proposal: url_for("proposals.edit", slug=slug, proposal_id=proposal.id))
