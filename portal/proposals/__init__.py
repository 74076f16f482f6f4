"""Proposals and deliberation (议题): draft, collect supports, consult with stances, moderated."""
from flask import Blueprint

bp = Blueprint("proposals", __name__)

from portal.proposals import views  # noqa: E402,F401
