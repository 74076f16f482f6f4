"""Ballots (表决): committee, residents' and homeowners' votes — exact, verifiable, safe under load."""
from flask import Blueprint

bp = Blueprint("votes", __name__)
