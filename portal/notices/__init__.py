"""Public notices (公示) of decisions, objections and answers."""
from flask import Blueprint

bp = Blueprint("notices", __name__)
