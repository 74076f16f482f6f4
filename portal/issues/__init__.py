"""Neighbourhood issues (诉求): report, route, respond, resolve, rate — the swift-response loop."""
from flask import Blueprint

bp = Blueprint("issues", __name__)

from portal.issues import views  # noqa: E402,F401
