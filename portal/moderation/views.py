"""Moderation pages: the queue, the flag form (htmx swaps it in place; without JS it posts and comes back),
and the moderators' actions. Each view loads the item, checks one rule, calls one service, commits.

The template helpers below are Jinja globals, not only context variables, so that the macros in
templates/moderation/_macros.html work when imported without context and inside htmx partials."""
import re
from functools import lru_cache
from types import SimpleNamespace
from typing import Literal
from urllib.parse import quote_plus, urlencode, urlsplit

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user
from markupsafe import Markup, escape

from portal import versions
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.formviews import db_int, form_view
from portal.i18n import locale_name
from portal.moderation import bp, services
from portal.moderation.forms import ActionForm, FlagForm, HideForm
from portal.moderation.models import FLAG_REASON_LABELS, FLAG_REASONS
from portal.web import allow, fill_marks_with, rendering_for_many

ANCHORS = {"comment": "comment-{id}", "issue_update": "update-{id}"}


# --- template helpers --------------------------------------------------------------------------------------

def _viewer():
    """The signed-in person, or None. `current_user` is a proxy that finds the person again on every
    attribute read; a page of a hundred comments calls these helpers several times per comment, so each
    helper resolves it once."""
    user = current_user._get_current_object()
    return user if user.is_authenticated else None


def _cached_rule(name, user, community):
    """A community-level rule's answer for the person, asked once per request: a page with a
    thousand comments asks it once, not a thousand times."""
    if community is None:
        return False
    cache = g.setdefault("moderation_rules", {})
    key = (name, user.id, community.id)
    found = cache.get(key)
    if found is None:
        found = cache[key] = bool(getattr(permissions, name)(user, community))
    return found


def _writes(item_type, item, user) -> bool:
    return user.id in services.ITEMS[item_type].writer_ids(item)


@bp.app_template_global()
def moderation_may_flag(item_type, item, community) -> bool:
    if item is None or item_type not in services.ITEMS:
        return False
    user = _viewer()
    if user is None or item.hidden_state == "hidden" or _writes(item_type, item, user):
        return False
    if item_type == "comment" and item.deleted_at is not None:
        return False
    if item_type == "proposal" and item.status == "draft":
        return False
    # Moderators act directly (moderation_controls) rather than report to themselves.
    return _cached_rule("can_flag", user, community) and not _cached_rule("can_moderate", user, community)


@bp.app_template_global()
def moderation_reported(item_type, item, community) -> bool:
    """Whether the signed-in person has already reported this item: their flags in the community are read
    once a request (a page of comments does not ask once per comment), and kept per person under the
    community's version, which a flag changes (portal.versions)."""
    if item is None or community is None:
        return False
    user = _viewer()
    if user is None:
        return False
    return (item_type, item.id) in _flagged_by(user, community)


def _flagged_by(user, community) -> frozenset:
    """(item type, id) of what the person flagged in the community."""
    from portal.moderation.models import Flag
    cache = g.setdefault("moderation_reported", {})
    if community.id not in cache:
        cache[community.id] = versions.remember("flagged_by", community, lambda: frozenset(db.session.execute(
            db.select(Flag.item_type, Flag.item_id).where(Flag.community_id == community.id,
                                                          Flag.user_id == user.id)).tuples()), person=user.id)
    return cache[community.id]


@bp.app_template_global()
def moderation_may_moderate(item_type, item, community) -> bool:
    if item is None or item_type not in services.ITEMS:
        return False
    user = _viewer()
    return user is not None and not _writes(item_type, item, user) and _cached_rule("can_moderate", user, community)


@bp.app_template_global()
def moderation_lockable(item_type, item) -> bool:
    return services.is_lockable(item_type, item)


@bp.app_template_global()
def moderation_flag_reasons():
    return [(r, FLAG_REASON_LABELS[r]) for r in FLAG_REASONS]


@bp.app_template_global()
def moderation_back_path(item_type, item) -> str:
    """Where to come back to after a form without JS: the page the item was shown on, at the item."""
    path = _page_address()
    if path is False:
        return services.link_for(item_type, item) or url_for("moderation.index")
    anchor = ANCHORS.get(item_type)
    return path + ("#" + anchor.format(id=item.id) if anchor else "")


def _page_address() -> str | Literal[False]:
    """The address of the page being drawn (path and query), the same for every item of the request, so
    worked out once and kept on the request (a page of a hundred comments asked for it twice per comment);
    False when it is a form shown again after a refused POST, whose address may not answer GET."""
    req = request._get_current_object()
    path = getattr(req, "moderation_back_base", None)
    if path is None:
        current = req.headers.get("HX-Current-URL") if getattr(req, "htmx", False) else None
        if current:
            parts = urlsplit(current)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        elif req.method == "GET":
            path = req.full_path.rstrip("?")
        else:
            path = False
        req.moderation_back_base = path
    return path


# --- flag controls on a page kept between requests -----------------------------------------------------------
# A page that keeps its rendered HTML for every viewer of a kind (an issue's page for residents and visitors,
# rendered inside web.rendering_to_keep()) gets each "Report" control as a mark naming the item and who wrote
# it; moderation_fill_flags() puts in each request's viewer's control (a link, "Reported", or nothing), as
# flag_control would have.

_FLAG_MARK = re.compile(r"<!--flag:(\w+):(\d+):([\d,]*)-->")


@bp.app_template_global()
def moderation_flag_mark(item_type, item) -> Markup | None:
    """The mark for flag_control while a page renders to keep (web.rendering_to_keep; None otherwise). A page
    showing a hidden item differs by viewer (is_hidden_for) and is not kept."""
    if not rendering_for_many():
        return None
    writers = ",".join(str(i) for i in sorted(services.ITEMS[item_type].writer_ids(item)))
    return Markup(f"<!--flag:{item_type}:{int(item.id)}:{writers}-->")


@bp.app_template_global()
def moderation_flag_control(item_type, item, reported) -> Markup:
    """The control itself: "Reported", or the link to the report form (swapped in place by htmx)."""
    return Markup(_flag_control(item_type, item.id, reported, lambda: moderation_back_path(item_type, item)))


def _flag_control(item_type, item_id, reported, back, words=None) -> str:
    """moderation_flag_control as a string; `back()` gives the form's way back, `words` _flag_words (a page
    of comments looks them up once)."""
    anchor = escape(f"flag-{item_type}-{int(item_id)}")
    reported_word, report_word = words or _flag_words(locale_name())
    if reported:
        return f'<span class="small-link flag-control flag-done" id="{anchor}">{reported_word}</span>'
    return _report_link(anchor, escape(_flag_url(item_type, item_id, back())), report_word)


def _report_link(anchor, url, word) -> str:
    """The "Report" link (swapped in place by htmx) from its parts, each escaped already."""
    return (f'<a class="small-link flag-control" id="{anchor}" href="{url}" hx-get="{url}" hx-target="this" '
            f'hx-swap="outerHTML">{word}</a>')


@lru_cache(maxsize=8)
def _flag_words(locale: str) -> tuple:
    """"Reported" and "Report" in a language, escaped (looked up once, not once per comment)."""
    return escape(pgettext("flag", "Reported")), escape(_("Report"))


def _flag_url(item_type, item_id, back) -> str:
    """url_for("moderation.flag", item_type=…, item_id=…, next=back), its routing done once a request per kind
    of item (a page of eighty comments has eighty of these links); the query written as werkzeug writes it."""
    # urlencode quotes character by character: the page's address (the same for every item) once a request,
    # then each item's anchor.
    page, mark, anchor = back.partition("#")
    prefix, query = _flag_url_parts(item_type, page)
    if mark:
        query += quote_plus(mark + anchor, safe=_QUERY_SAFE)
    return f"{prefix}{int(item_id)}?{query}"


def _flag_url_parts(item_type, page) -> tuple[str, str]:
    """The report link's address before the item's id, and its query for a way back to `page` (no anchor),
    each worked out once a request."""
    parts = g.setdefault("moderation_flag_url", {})
    found = parts.get((item_type, page))
    if found is None:
        found = parts[(item_type, page)] = (url_for("moderation.flag", item_type=item_type, item_id=0)[:-1],
                                            urlencode({"next": page}, safe=_QUERY_SAFE))
    return found


_QUERY_SAFE = "!$'()*,/:;?@"  # werkzeug.urls._urlencode's


def _may_flag_here(user, community) -> bool:
    return user is not None and _cached_rule("can_flag", user, community) \
        and not _cached_rule("can_moderate", user, community)


def _flags_key(community, writers: frozenset):
    """What moderation_fill_flags writes depends on for this request's viewer, on a page whose items were
    written by `writers`: whether they may report here, whether they wrote one of them, what they reported,
    the page's address and the language (web.fill_marks_with)."""
    user = _viewer()
    if not _may_flag_here(user, community):
        return None
    return (user.id if user.id in writers else None, _flagged_by(user, community), _page_address(), locale_name())


@bp.app_template_global()
def moderation_fill_flags(html, community) -> Markup:
    """Each mark of `html` replaced by this request's viewer's control: none for visitors, the item's writers
    and moderators (who act directly), "Reported" for what they reported."""
    user = _viewer()
    if not _may_flag_here(user, community):
        return Markup(_FLAG_MARK.sub("", str(html)))
    me, flagged, words = str(user.id), _flagged_by(user, community), _flag_words(locale_name())
    page, links = _page_address(), {}

    def control(match):
        item_type, item_id, writers = match.group(1), int(match.group(2)), match.group(3)
        if me in writers.split(","):
            return ""
        reported = (item_type, item_id) in flagged
        if reported or page is False:
            item = SimpleNamespace(id=item_id)  # a GET's page: its address, not the item's link, is the way back
            return _flag_control(item_type, item_id, reported, lambda: moderation_back_path(item_type, item), words)
        # _flag_control's link with what is the same for every item of a kind worked out once: what comes
        # between is the id, and after it the anchor's (ANCHORS: letters and "-", quoted as they are) and the id.
        link = links.get(item_type)
        if link is None:
            prefix, query = _flag_url_parts(item_type, page)
            anchor = ANCHORS.get(item_type)
            link = links[item_type] = (escape(prefix), escape("?" + query),
                                       escape(quote_plus("#" + anchor.format(id=""), safe=_QUERY_SAFE))
                                       if anchor else None)
        prefix, query, anchor = link
        url = f"{prefix}{item_id}{query}{anchor}{item_id}" if anchor is not None else f"{prefix}{item_id}{query}"
        return _report_link(f"flag-{item_type}-{item_id}", url, words[1])
    return Markup(_FLAG_MARK.sub(control, str(html)))


fill_marks_with(_flags_key, lambda html, community: str(moderation_fill_flags(html, community)))


@bp.app_template_global()
def moderation_may_view_queue() -> bool:
    rule = getattr(permissions, "can_view_moderation_queue", None)
    return bool(rule and rule(current_user))


@bp.app_template_global()
def moderation_queue_count() -> int:
    if not current_user.is_authenticated:
        return 0
    if "moderation_queue_count" not in g:
        g.moderation_queue_count = services.queue_count(current_user)
    return g.moderation_queue_count


@bp.app_template_global()
def is_hidden_for(viewer, item_type, item) -> bool:
    return services.is_hidden_for(viewer, item_type, item)


@bp.app_context_processor
def moderation_helpers():
    return {"flag_reason_labels": FLAG_REASON_LABELS, "moderation_item_labels": services.ITEM_LABELS}


# --- loading -----------------------------------------------------------------------------------------------

def _item(item_type, item_id):
    found = services.item(item_type, item_id)
    if found is None:
        abort(404)
    if not services.can_view_item(current_user, item_type, found):
        allow(False)
    return found


def _community(item_type, found):
    return services.ITEMS[item_type].community(found)


def _safe_next(value):
    """A path on this site only: never another host (an open redirect), never a scheme."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def _back(form=None):
    value = (form.next.data if form is not None else None) or request.form.get("next") or request.args.get("next")
    return redirect(_safe_next(value) or url_for("moderation.index"))


def _form_page(template, form, item_type, found, status=200):
    return render_template(template, form=form, item_type=item_type, item=found, community=_community(item_type, found),
                           link=services.link_for(item_type, found),
                           kind_label=services.ITEMS[item_type].label), status


# --- the queue ---------------------------------------------------------------------------------------------

@bp.get("/moderation")
def index():
    allow(permissions.can_view_moderation_queue(current_user))
    page = services.queue(current_user, page=request.args.get("page", 1, type=db_int))
    return render_template("moderation/index.html", page=page, hide_form=HideForm(formdata=None),
                           action_form=ActionForm(formdata=None))


@bp.get("/moderation/hidden")
def hidden():
    """What is hidden (by a moderator, or by three reports), with who hid it, why and when; restored from here."""
    allow(permissions.can_view_moderation_queue(current_user))
    page = services.hidden_items(current_user, page=request.args.get("page", 1, type=db_int))
    return render_template("moderation/hidden.html", page=page, hide_after=services.HIDE_AFTER_FLAGS)


# --- flags -------------------------------------------------------------------------------------------------

@bp.route("/moderation/flag/<item_type>/<int:item_id>", methods=["GET", "POST"])
def flag(item_type, item_id):
    found = _item(item_type, item_id)
    community = _community(item_type, found)
    allow(permissions.can_flag(current_user, community))
    htmx = getattr(request, "htmx", False)
    form = FlagForm()
    if request.method == "GET":
        form.next.data = _safe_next(request.args.get("next")) or services.link_for(item_type, found)
        if htmx:
            return render_template("moderation/_flagged.html", item_type=item_type, item=found, form=form,
                                   notice=None)
        return _form_page("moderation/flag.html", form, item_type, found)
    thanks = _("Reported, thank you. Moderators will look at it.")

    def reported(_result):
        if htmx:
            return make_response(render_template("moderation/_flagged.html", item_type=item_type, item=found,
                                                 notice=thanks))
        return _back(form)
    return form_view(form, lambda: services.flag(current_user, item_type, found, form.reason.data or "",
                                                 form.note.data or ""),
                     message=None if htmx else thanks, done=reported,
                     page=lambda: _form_page("moderation/flag.html", form, item_type, found),
                     partial=lambda: render_template("moderation/_flagged.html", item_type=item_type, item=found,
                                                     form=form, notice=None))


# --- moderators' actions -----------------------------------------------------------------------------------

def _moderate(item_type, item_id, form, run, done):
    found = _item(item_type, item_id)
    allow(permissions.can_moderate(current_user, _community(item_type, found)))

    def moderate():
        try:
            run(found)
        except NotAllowed as error:  # the item changed since the page was shown: say so there, not a 403
            raise DomainError(error.message) from None

    def refused(error):
        if error.field and hasattr(form, error.field) and isinstance(form, HideForm):
            return _form_page("moderation/hide.html", form, item_type, _item(item_type, item_id))
        flash(str(error.message), "error")
        return _back(form)
    # The callers have validated the form.
    return form_view(form, moderate, validate=False, message=done, done=lambda _result: _back(form), refused=refused)


def _button(item_type, item_id, run, done):
    """restore, lock, unlock: a button whose small form (a note, where to go back) has nothing to show again."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    return _moderate(item_type, item_id, form, lambda found: run(found, form), done)


@bp.post("/moderation/<item_type>/<int:item_id>/restore")
def restore(item_type, item_id):
    return _button(item_type, item_id,
                   lambda found, form: services.restore(current_user, item_type, found, note=form.note.data or ""),
                   _("Restored: it is shown again and its reports are closed."))


@bp.route("/moderation/<item_type>/<int:item_id>/hide", methods=["GET", "POST"])
def hide(item_type, item_id):
    form = HideForm()
    if request.method == "GET":
        found = _item(item_type, item_id)
        allow(permissions.can_moderate(current_user, _community(item_type, found)))
        form.next.data = _safe_next(request.args.get("next")) or services.link_for(item_type, found)
        return _form_page("moderation/hide.html", form, item_type, found)
    if not form.validate_on_submit():
        found = _item(item_type, item_id)
        allow(permissions.can_moderate(current_user, _community(item_type, found)))
        return _form_page("moderation/hide.html", form, item_type, found)
    return _moderate(item_type, item_id, form,
                     lambda found: services.hide(current_user, item_type, found, form.reason.data or ""),
                     _("Hidden: the reason is shown in its place and the author is told."))


@bp.post("/moderation/<item_type>/<int:item_id>/lock")
def lock(item_type, item_id):
    return _button(item_type, item_id, lambda found, form: services.lock(current_user, item_type, found),
                   _("Locked: no more comments can be added."))


@bp.post("/moderation/<item_type>/<int:item_id>/unlock")
def unlock(item_type, item_id):
    return _button(item_type, item_id, lambda found, form: services.unlock(current_user, item_type, found),
                   _("Unlocked: comments can be added again."))
