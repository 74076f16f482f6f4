"""Public notices (公示) of decisions, objections and answers."""
from flask import Blueprint

bp = Blueprint("notices", __name__)

from portal.notices import views  # noqa: E402,F401
