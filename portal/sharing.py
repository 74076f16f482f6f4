"""Sharing an item's page in WeChat and elsewhere: the card tags, the short link and its QR code (issue #21).

Each item page (issue, proposal, ballot, notice, action) hands its template a `ShareCard`, which base.html turns
into Open Graph and Twitter tags through one macro (templates/share/_meta.html); the page shows the short link,
a "copy link" button and the QR code of the short link (templates/share/_panel.html). What a card says is what
an anonymous visitor may read: for anything else it carries the site's name and a neutral title only, whoever
is looking (a card travels further than the person who copied it).

A short link is `/s/<code>`: six characters of an alphabet without look-alikes (no 0/o, 1/l/i), one per item,
made the first time its page is shown and never reused: the row is kept even when the item goes, so an old
link answers 404 rather than leading somewhere else. The redirect and the preview image are served by
portal/sharepages.py, above the areas; this module imports no area."""
import hashlib
import secrets
from dataclasses import dataclass

from flask import after_this_request, has_request_context, request, url_for
from sqlalchemy import CheckConstraint, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db
from portal.formatting import absolute_url

KINDS = ("issue", "proposal", "ballot", "notice", "action")
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # 31 letters and digits nobody misreads on paper or a screen
CODE_LENGTH = 6  # 31**6 ≈ 887 million codes: a random one is free almost always; a clash draws again
CODE_TRIES = 8
SITE_NAME = "议事"
PREVIEW_WIDTH, PREVIEW_HEIGHT = 1200, 630
_MADE = "sharing.made"  # the session's info: (kind, target id) of the links made in it


class ShortLink(db.Model):
    __tablename__ = "short_link"
    __table_args__ = (
        UniqueConstraint("code"),
        UniqueConstraint("kind", "target_id"),  # one link per item, whoever shares it
        CheckConstraint("kind IN ('issue', 'proposal', 'ballot', 'notice', 'action')", name="kind"),
    )

    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(16), nullable=False)
    kind = db.Column(db.String(16), nullable=False)
    target_id = db.Column(db.Integer, nullable=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)


# A kind of item -> its table (each has a community_id).
TABLES = {"issue": "issue", "proposal": "proposal", "ballot": "ballot", "notice": "public_notice", "action": "action"}


def _item_community(session, link, new) -> list:
    """A short link belongs to its item's community (portal.versions): made once, on the item page's first
    view, it changes that community's version, so a code kept in the process exists at the version it is
    kept under (and not in a database restored to before the link was made)."""
    table = db.metadata.tables[TABLES[link.kind]]
    return session.connection().execute(
        select(table.c.community_id).where(table.c.id == link.target_id)).scalars().all()


versions.track("short_link", community_of=_item_community)


def is_code(text: str) -> bool:
    """Whether `text` could be a code at all (the redirect answers 404 without a query otherwise)."""
    return len(text) == CODE_LENGTH and all(c in ALPHABET for c in text)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def find_short_link(code: str) -> ShortLink | None:
    code = code.lower()
    if not is_code(code):
        return None
    return db.session.scalar(db.select(ShortLink).where(ShortLink.code == code))


def creating_allowed() -> bool:
    """Links are made by GET (and HEAD) requests only, and outside requests (the demo, tests): a page shown
    again after a refused form writes nothing, as the form's own changes were rolled back."""
    return not has_request_context() or request.method in ("GET", "HEAD")


def short_link_for(kind: str, target_id: int) -> ShortLink | None:
    """The item's short link, made on first need (None when this request may not make it). Inserted in a
    savepoint, so a clash (the same code drawn, or another request making this item's link at the same
    moment) costs a retry, not the caller's transaction. During a request the row is committed after the
    page is rendered: a commit before would expire every object the page is about to read."""
    if kind not in KINDS:
        raise ValueError(kind)
    found = db.session.scalar(db.select(ShortLink).where(ShortLink.kind == kind, ShortLink.target_id == target_id))
    if found is not None or not creating_allowed():
        return found
    for _attempt in range(CODE_TRIES):
        link = ShortLink(code=new_code(), kind=kind, target_id=target_id)
        try:
            with db.session.begin_nested():
                db.session.add(link)
        except IntegrityError:
            found = db.session.scalar(db.select(ShortLink).where(ShortLink.kind == kind,
                                                                 ShortLink.target_id == target_id))
            if found is not None:
                return found
            continue
        db.session.info.setdefault(_MADE, set()).add((kind, target_id))
        if has_request_context():
            _commit_after_response()
        return link
    raise RuntimeError("no free short link code")


def short_code(kind: str, target_id: int, community=None) -> str | None:
    """The code of the item's short link (made on first need, as short_link_for). A link never changes nor
    goes once made, so with the item's community the code is kept in the process under the community's
    version (portal.versions): a page view asks the database nothing for it; another life of the database
    (a restore, the tests) brings other versions. A link this request made is not kept (not committed yet)."""
    codes = versions.remember_each("short_link_codes", community) if community is not None else {}
    code = codes.get((kind, target_id))
    if code is None:
        link = short_link_for(kind, target_id)
        code = link.code if link is not None else None
        if code is not None and (kind, target_id) not in db.session.info.get(_MADE, ()):
            codes[(kind, target_id)] = code
    return code


def _commit_after_response() -> None:
    @after_this_request
    def commit(response):
        db.session.commit()
        return response


@dataclass(frozen=True)
class ShareCard:
    """What a page tells a chat app and shows in its share panel. `public` is whether an anonymous visitor
    may read the item; when not, the tags name only the site and a neutral title."""
    kind: str
    public: bool
    title: str
    description: str
    url: str
    short_url: str | None  # None on a page re-shown after a refused form, before any GET made the link
    qr_image: str | None
    image: str | None

    @property
    def image_size(self) -> tuple[int, int]:
        return PREVIEW_WIDTH, PREVIEW_HEIGHT


def preview_version(*parts: object) -> str:
    """A short digest of what a preview image draws: its address changes when the picture does, so a chat
    app's cache of the old picture is not used for the new one."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:12]


def clip(text: str | None, length: int = 160) -> str:
    """A description's first `length` characters on one line, with an ellipsis when cut."""
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


def share_card(kind: str, target_id: int, *, public: bool, url: str, title: str, description: str,
               image_parts: tuple | None = None, community=None) -> ShareCard:
    """The card of one item for its page. `url` is the item's absolute address (PORTAL_BASE_URL);
    `image_parts` (what the preview draws: title, community, state) asks for the server-drawn preview. With
    the item's `community`, a short link's code, once made, is read once per version of the community."""
    code = short_code(kind, target_id, community)
    image = None
    if public and image_parts is not None:
        image = absolute_url("share.preview", kind=kind, target_id=target_id, v=preview_version(*image_parts))
    return ShareCard(kind=kind, public=public, title=title if public else "", url=url,
                     description=description if public else "",
                     short_url=absolute_url("share.short", code=code) if code else None,
                     qr_image=url_for("share.qr", code=code) if code else None, image=image)
