"""Residents: claims and verification, owners confirmed, registering and acting for residents at the
counter, and who sees phone numbers."""
from flask import Blueprint

bp = Blueprint("residents", __name__)
