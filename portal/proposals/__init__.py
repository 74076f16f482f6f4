"""Proposals and deliberation (议题): draft, collect supports, consult with stances, moderated."""
from flask import Blueprint

bp = Blueprint("proposals", __name__)
