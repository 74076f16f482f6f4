"""The addresses a shared link leads to: `/s/<code>` (a short link, 302 to the item's page) and the preview
image a chat app shows on the card (`/share/<kind>/<id>.png`).

The redirect holds no rule: the page it leads to asks for sign-in or answers 403 as it always does. The
preview names the item only where its share card may (`permissions.can_share_card`: what an anonymous
visitor may read); for anything else it is not there (404), whoever asks. A picture is drawn once per
version (portal.previews keeps it in a file cache) and answered with an ETag and Last-Modified from the
item, so a chat app's second fetch is a 304."""
import hashlib
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal import previews
from portal.actions.models import Action
from portal.auth import permissions
from portal.extensions import db
from portal.issues.models import Issue
from portal.notices.models import Notice
from portal.proposals.models import OUTCOME_LABELS, Proposal
from portal.qr import qr_png
from portal.sharing import KINDS, SITE_NAME, find_short_link, short_link_for
from portal.votes.models import Ballot
from portal.web import absolute_url, public

bp = Blueprint("share", __name__)

MAX_ID = 2**31 - 1
QR_SCALE = 8  # pixels per module: about 300 px for a short link, sharp on a phone held up to another
PREVIEW_MAX_AGE = 3600  # an hour: a changed title gets a new address anyway (the card's ?v= digest)
MODELS = {"issue": Issue, "proposal": Proposal, "ballot": Ballot, "notice": Notice, "action": Action}
ENDPOINTS = {"issue": ("issues.detail", "issue_id"), "proposal": ("proposals.detail", "proposal_id"),
             "ballot": ("votes.detail", "ballot_id"), "notice": ("notices.detail", "notice_id"),
             "action": ("actions.detail", "action_id")}


def item_of(kind: str, target_id: int):
    if kind not in KINDS or not (0 < target_id <= MAX_ID):
        return None
    return db.session.get(MODELS[kind], target_id)


def page_path(kind: str, item) -> str:
    endpoint, key = ENDPOINTS[kind]
    return url_for(endpoint, slug=item.community.slug, **{key: item.id})


def preview_facts(kind: str, item) -> tuple[str, str, str]:
    """(title, community, state) as the picture shows them, in the request's language."""
    if kind == "ballot":
        title, state = item.question, item.status_label
    elif kind == "notice":
        title, state = item.proposal.title, f"{_('Public notice')} · {OUTCOME_LABELS[item.outcome]}"
    else:
        title, state = item.title, item.status_label
    return title, item.community.name, str(state)


def updated_at(kind: str, item) -> datetime | None:
    """The item's last change this module can see, for Last-Modified (the ETag is the picture's digest)."""
    stamps = {
        "issue": ("submitted_at", "first_response_at", "resolved_at", "closed_at"),
        "proposal": ("updated_at",),
        "ballot": ("created_at", "frozen_at", "extended_at", "closed_at"),
        "notice": ("starts_at", "ended_at"),
        "action": ("created_at", "started_at", "done_at"),
    }[kind]
    found = [getattr(item, name) for name in stamps if getattr(item, name, None) is not None]
    if kind in ("notice", "ballot") and item.proposal.updated_at is not None:
        found.append(item.proposal.updated_at)
    return max(found) if found else None


@bp.get("/s/<code>")
@public
def short(code):
    link = find_short_link(code)
    item = item_of(link.kind, link.target_id) if link is not None else None
    if item is None:
        abort(404)
    return redirect(page_path(link.kind, item), 302)


@bp.get("/share/<kind>/<int:target_id>.png")
@public
def preview(kind, target_id):
    item = item_of(kind, target_id)
    if item is None or not permissions.can_share_card(kind, item):
        abort(404)
    title, community, state = preview_facts(kind, item)
    # Beside the uploads: on a shared volume every server reads the picture one of them drew.
    folder = current_app.config.get("PREVIEW_DIR") or f"{current_app.config['UPLOAD_DIR']}/previews"
    png, digest = previews.cached_png(folder, title, community, state, SITE_NAME)
    response = Response(png, mimetype="image/png")
    response.set_etag(hashlib.sha256(f"{digest}:{get_locale()}".encode()).hexdigest()[:24])
    changed = updated_at(kind, item)
    if changed is not None:
        response.last_modified = changed.replace(tzinfo=UTC) if changed.tzinfo is None else changed
    response.headers["Cache-Control"] = f"public, max-age={PREVIEW_MAX_AGE}"
    response.vary.add("Accept-Language")
    return response.make_conditional(request)



@bp.get("/s/<code>/qr.png")
@public
def qr(code):
    """The QR code of a short link, for its page and to save: the code holds the absolute short link
    (PORTAL_BASE_URL), which never changes, so it is cached for a year."""
    link = find_short_link(code)
    if link is None:
        abort(404)
    response = Response(qr_png(absolute_url("share.short", code=link.code), QR_SCALE), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def seed_share() -> list[str]:
    """The demo's part: a short link for every item (as if each page had been shown once), and where to see
    a card that names its item and one that does not (a draft, seen by its author)."""
    made = 0
    for kind, model in MODELS.items():
        for target_id in db.session.scalars(db.select(model.id).order_by(model.id)):
            made += short_link_for(kind, target_id) is not None
    db.session.flush()
    lines = [f"share: {made} short links (/s/<code>), a QR code and card tags on every item page"]
    shown = db.session.scalar(db.select(Proposal).where(Proposal.status != "draft", Proposal.hidden_state.is_(None))
                              .order_by(Proposal.id).limit(1))
    if shown is not None:
        link = short_link_for("proposal", shown.id)
        preview_url = absolute_url("share.preview", kind="proposal", target_id=shown.id)
        lines.append(f"share: proposal {shown.id} card with preview {preview_url}"
                     f" and short link {absolute_url('share.short', code=link.code)}")
    draft = db.session.scalar(db.select(Proposal.id).where(Proposal.status == "draft").order_by(Proposal.id).limit(1))
    if draft is not None:
        lines.append(f"share: draft proposal {draft} has a neutral card (only the site's name), as hidden items and "
                     "members-only communities do")
    return lines
