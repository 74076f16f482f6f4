"""The officials' dashboard: the three rates, overdue work, hotspots, charts and exports."""
from flask import Blueprint

bp = Blueprint("dashboard", __name__)

from portal.dashboard import views  # noqa: E402,F401
