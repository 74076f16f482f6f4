"""Neighbourhood issues (诉求): report, route, respond, resolve, rate — the swift-response loop."""
from flask import Blueprint

bp = Blueprint("issues", __name__)
