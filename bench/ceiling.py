"""The "ceiling" of bench/pages_bench.py: a trivial Flask app that renders a 20-row Jinja list without a
database, served the same way as the portal (gunicorn -w 4, sync workers) on the same machine in the same
minute. Its requests per second are what this machine can serve at all; each portal page is reported as a
share of it.

    .venv/bin/gunicorn -w 4 -b 127.0.0.1:8001 --chdir bench ceiling:app"""
from flask import Flask, render_template_string

app = Flask(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{{ title }}</h1>
<ul>{% for row in rows %}
  <li><a href="/items/{{ row.id }}">{{ row.title }}</a> · {{ row.status }} · {{ row.count }}</li>{% endfor %}
</ul></main></body></html>"""

ROWS = [{"id": n, "title": f"Item {n} 楼道灯不亮", "status": "open" if n % 3 else "closed", "count": n * 7}
        for n in range(1, 21)]


@app.get("/")
def index():
    return render_template_string(PAGE, title="Ceiling", rows=ROWS)
