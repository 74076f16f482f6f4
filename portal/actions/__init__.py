"""Agreed actions (落实事项): carried out, evidenced, rated — closing the loop from decision to result."""
from flask import Blueprint

bp = Blueprint("actions", __name__)
