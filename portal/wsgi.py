"""WSGI entry point inside the package, for an installed wheel run from any folder:
`gunicorn -w 4 portal.wsgi:app` (the repository's wsgi.py is the same app)."""
import gc

from portal import create_app

app = create_app()
# What the app built at start (modules, routes, models' metadata, templates' environment) lives as long as
# the worker: moved out of the cyclic collector's reach, so its full passes walk only what requests leave
# behind instead of some 200,000 objects each time (about 100 ms of CPU every hundred consultation pages).
gc.freeze()
