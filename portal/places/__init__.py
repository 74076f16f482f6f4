"""Sub-districts, communities, buildings, households, owners and residents."""
from flask import Blueprint

bp = Blueprint("places", __name__)
