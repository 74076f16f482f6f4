from flask import abort, render_template, request
from flask_login import current_user

from portal.audit import bp, services
from portal.auth import permissions


@bp.get("/")
def index():
    if not permissions.can_read_audit_log(current_user):
        abort(403)
    filters = {
        "action": request.args.get("action", "").strip() or None,
        "actor_id": request.args.get("actor", type=int),
        "object_type": request.args.get("object_type", "").strip() or None,
        "object_id": request.args.get("object_id", type=int),
        "request_id": request.args.get("request_id", "").strip()[:64] or None,
    }
    page = services.search(page=request.args.get("page", 1, type=int), **filters)
    return render_template("audit/index.html", page=page, filters=filters)
