from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

from portal.notifications import views  # noqa: E402,F401
from portal.notifications import mail  # noqa: E402,F401  (registers the e-mail due step)
