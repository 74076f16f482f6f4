"""The audit log for admins: newest first, 50 a page (keyset), in words, each object a link where it has a page.

The log is a core module and imports no area: an object's model is found by its table name in the mapper
registry, and its page by the endpoint named here for that table."""
from functools import lru_cache

from flask import abort, render_template, request, url_for
from flask_login import current_user

from portal.audit import bp, labels, services
from portal.auth import permissions
from portal.extensions import db
from portal.formviews import posted_text

PER_PAGE = 50

# table name → (endpoint, id argument, whether the address carries the community's slug)
OBJECT_PAGES = {
    "issue": ("issues.detail", "issue_id", True),
    "proposal": ("proposals.detail", "proposal_id", True),
    "ballot": ("votes.detail", "ballot_id", True),
    "public_notice": ("notices.detail", "notice_id", True),
    "action": ("actions.detail", "action_id", True),
    "organization": ("committees.organization", "org_id", False),
    "meeting": ("committees.meeting", "meeting_id", False),
}


@lru_cache(maxsize=64)
def _model_for(table_name):
    for mapper in db.Model.registry.mappers:
        if getattr(mapper.local_table, "name", None) == table_name:
            return mapper.class_
    return None


def _object_links(entries) -> dict:
    """{(object_type, object_id): address} for the entries' objects that have a page: one query a type."""
    wanted = {}
    for entry in entries:
        if entry.object_type in OBJECT_PAGES and entry.object_id is not None:
            wanted.setdefault(entry.object_type, set()).add(entry.object_id)
    links = {}
    for table_name, ids in wanted.items():
        model = _model_for(table_name)
        if model is None:
            continue
        endpoint, id_name, by_community = OBJECT_PAGES[table_name]
        for obj in db.session.scalars(db.select(model).where(model.id.in_(sorted(ids)))):
            values = {id_name: obj.id}
            if by_community:
                values["slug"] = obj.community.slug
            if table_name == "meeting":
                values["org_id"] = obj.organization_id
            links[(table_name, obj.id)] = url_for(endpoint, **values)
    return links


def _id_arg(name):
    text = (request.args.get(name) or "").strip()
    return int(text) if text.isdigit() and len(text) <= 10 else None


@bp.get("/")
def index():
    if not permissions.can_read_audit_log(current_user):
        abort(403)
    filters = {
        "action": posted_text(request.args.get("action")).strip()[:64] or None,
        "actor_id": _id_arg("actor"),
        "object_type": posted_text(request.args.get("object_type")).strip()[:40] or None,
        "object_id": _id_arg("object_id"),
        "request_id": posted_text(request.args.get("request_id")).strip()[:64] or None,
    }
    filters = {k: (min(v, services.MAX_ID) if isinstance(v, int) else v) for k, v in filters.items()}
    page = services.search(before=_id_arg("before"), after=_id_arg("after"), per_page=PER_PAGE, **filters)
    args = {name: value for name, value in (("action", filters["action"]), ("actor", filters["actor_id"]),
                                            ("object_type", filters["object_type"]),
                                            ("object_id", filters["object_id"]),
                                            ("request_id", filters["request_id"])) if value}
    return render_template("audit/index.html", page=page, filters=filters, args=args,
                           links=_object_links(page.entries), labels=labels)
