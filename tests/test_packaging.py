"""The wheel is the deploy: built from this checkout, installed into a fresh virtualenv (dependencies from the
package index), it migrates a database and serves the portal from an empty folder, with its templates,
hashed static files (htmx included) and Chinese catalogue. Slow (about two minutes): `-m 'not packaging'`
skips it locally; `make test` runs it."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.packaging


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, **headers):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited: {server.stdout.read()}")
        try:
            return _get(url)
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtualenv holding only the built wheel and its dependencies, and an empty folder to run in."""
    base = tmp_path_factory.mktemp("wheel")
    dist, venv, site = base / "dist", base / "venv", base / "site"
    site.mkdir()
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, cwd=base)
    wheel = next(dist.glob("yishi_portal-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(wheel)], check=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PORTAL_", "DATABASE_", "TEST_DATABASE", "FLASK_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(DATABASE_URL=f"sqlite:///{site / 'portal.sqlite3'}", PATH=f"{venv / 'bin'}:{env['PATH']}")
    return venv, site, env


def test_the_wheel_carries_templates_static_files_catalogues_and_migrations(installed):
    venv, site, env = installed
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import portal, pathlib; p = pathlib.Path(portal.__file__).parent; print(p); "
         "print(*(int((p / f).is_file()) for f in ('templates/base.html', 'static/vendor/htmx.min.js', "
         "'translations/zh/LC_MESSAGES/messages.mo', 'migrations/env.py', 'migrations/alembic.ini')))"],
        cwd=site, env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert str(ROOT) not in found[0], "the portal must come from the virtualenv, not this checkout"
    assert found[1] == "1 1 1 1 1"
    versions = {p.name for p in (ROOT / "migrations" / "versions").glob("*.py")}
    packaged = {p.name for p in (Path(found[0]) / "migrations" / "versions").glob("*.py")}
    assert versions and packaged == versions


def test_the_wheel_migrates_and_serves_from_an_empty_folder(installed):
    venv, site, env = installed
    upgrade = subprocess.run([str(venv / "bin" / "flask"), "--app", "portal", "db", "upgrade"], cwd=site,
                             env=env, capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr
    assert (site / "portal.sqlite3").stat().st_size > 0
    port = _free_port()
    server = subprocess.Popen([str(venv / "bin" / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
                               "portal.wsgi:app"], cwd=site, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        status, _, body = _wait_for(f"http://127.0.0.1:{port}/", server)
        assert status == 200
        page = body.decode()
        htmx = re.search(r'src="(/static/[0-9a-f]{12}/vendor/htmx\.min\.js)"', page)
        assert htmx, "the page links htmx under a content-hashed name"
        status, headers, script = _get(f"http://127.0.0.1:{port}{htmx.group(1)}")
        assert status == 200
        assert script == (ROOT / "static" / "vendor" / "htmx.min.js").read_bytes()
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        status, _, body = _get(f"http://127.0.0.1:{port}/login", **{"Accept-Language": "zh-CN"})
        assert status == 200 and "登录" in body.decode()
        _, _, body = _get(f"http://127.0.0.1:{port}/login", **{"Accept-Language": "en"})
        assert "登录" not in body.decode()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (site / "instance" / "secret_key").is_file(), "the instance folder is made where the portal runs"
