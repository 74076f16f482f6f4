"""Organizations and their members; later meetings, minutes and notices."""
from flask import Blueprint

bp = Blueprint("committees", __name__)
