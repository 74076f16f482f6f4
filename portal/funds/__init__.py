"""Funds and their public ledger (居务公开 of money): issue #23."""
from flask import Blueprint

bp = Blueprint("funds", __name__)
