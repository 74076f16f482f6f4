"""Moderation: flags from residents, the committee's queue, restore / hide with a reason / lock."""
from flask import Blueprint

bp = Blueprint("moderation", __name__)
