"""Personal information (PIPL arts. 44–47): a person's copy of their data, deleting an account, how long
what is kept stays, and consent to the privacy notice and to optional processing."""
from flask import Blueprint

bp = Blueprint("privacy", __name__)
