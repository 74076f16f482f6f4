from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
# Text messages: sign-in by SMS code (/login/sms), SMS settings and the administrator's counts.
sms_bp = Blueprint("sms", __name__)
