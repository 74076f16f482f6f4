"""Open311 GeoReport v2 (issue #10): the API under /open311/v2/ (key-authenticated, so outside CSRF), its
documentation page, and the admins' pages that issue and revoke API keys."""
from flask import Blueprint

from portal.extensions import csrf

bp = Blueprint("open311", __name__)
api = Blueprint("api", __name__, url_prefix="/open311/v2")

bp.register_blueprint(api)
csrf.exempt(api)
