"""WSGI entry point: `gunicorn -w 4 wsgi:app` from the source folder (`portal.wsgi:app` from anywhere)."""
from portal.wsgi import app  # noqa: F401
