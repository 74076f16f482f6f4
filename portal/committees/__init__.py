"""Organizations and their members; later meetings, minutes and notices."""
from flask import Blueprint

bp = Blueprint("committees", __name__)

from portal.committees import views  # noqa: E402,F401
