"""WSGI entry point inside the package, for an installed wheel run from any folder:
`gunicorn -w 4 portal.wsgi:app` (the repository's wsgi.py is the same app)."""
from portal import create_app

app = create_app()
