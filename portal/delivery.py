"""How responses travel: compressed (brotli or gzip), static files under content-hashed names cached for a
year, anonymous public pages cacheable for a minute with an ETag, and a request retried once when the
database connection it used had been dropped."""
import gzip
import hashlib
import mimetypes
import os
import re
import zlib
from pathlib import Path

import brotli
from flask import Flask, Response, current_app, g, request, send_from_directory, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT_STATIC = "public, max-age=300"  # a plain, unhashed static name: may change at the next deploy
STALE_STATIC = "no-cache"  # a hashed name that does not match this server's file (mid-deploy)
PUBLIC_PAGE = "public, max-age=60"
PRIVATE_PAGE = "private, no-cache"

# Text worth compressing; images, PDF, XLSX and ZIP are compressed already and never on this list.
COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/plain", "text/csv", "text/calendar", "text/xml", "text/javascript",
    "application/javascript", "application/json", "application/geo+json", "application/xml",
    "application/atom+xml", "application/rss+xml", "application/manifest+json", "image/svg+xml",
})
MIN_COMPRESS_SIZE = 512  # below this the headers cost more than the saving
GZIP_LEVEL = 6
# Per request: quality 3 is about the size of gzip -6, at half its time or less; 5 saves another 10–15 % of
# the bytes (0.5 KB on a 12 KB page) at four times the CPU (~1 ms more a ballot page: bench/README). Static
# files get the best, once.
BROTLI_QUALITY = 3
STATIC_BROTLI_QUALITY = 11
DIGEST_LENGTH = 12
HASHED = re.compile(rf"[0-9a-f]{{{DIGEST_LENGTH}}}")
RETRY_KEY = "portal.retry_after_lost_connection"
RETRIED_KEY = "portal.retried"


def init_app(app: Flask) -> None:
    static = StaticFiles(Path(app.static_folder))
    app.extensions["portal.static"] = static
    app.view_functions["static"] = serve_static
    app.url_defaults(hashed_static_name)
    # Registered before the other after-request steps, so it runs last: it sees their headers.
    app.after_request_funcs.setdefault(None, []).insert(0, finish_response)
    app.wsgi_app = RetryAfterLostConnection(app.wsgi_app)
    app.session_interface = SessionWithoutStaticVary()


# --- static files ---------------------------------------------------------------------------------------------

class StaticFiles:
    """A content hash per static file, computed when the app starts and again only when a file changes
    (its size or modification time), and each compressible file's compressed forms, made once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._digests: dict[str, tuple[tuple[int, int], str]] = {}
        self._encoded: dict[tuple[str, str, str], bytes] = {}
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file():
                    self.digest(path.relative_to(folder).as_posix())

    def digest(self, filename: str) -> str | None:
        path = safe_join(str(self.folder), filename)
        try:
            stat = os.stat(path) if path else None
        except OSError:
            return None
        if stat is None:
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        known = self._digests.get(filename)
        if known is not None and known[0] == key:
            return known[1]
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:DIGEST_LENGTH]
        self._digests[filename] = (key, digest)
        return digest

    def encoded(self, filename: str, digest: str, encoding: str) -> bytes:
        key = (filename, digest, encoding)
        data = self._encoded.get(key)
        if data is None:
            raw = (self.folder / filename).read_bytes()
            data = raw if encoding == "identity" else compress(raw, encoding, static=True)
            self._encoded[key] = data
        return data


class SessionWithoutStaticVary(SecureCookieSessionInterface):
    """Static files are the same for everyone: a before-request step peeking at the session must not add
    `Vary: Cookie` to them (and split every shared cache by visitor)."""

    def save_session(self, app, session, response):
        if request.endpoint == "static" and not session.modified:
            return None
        return super().save_session(app, session, response)


def hashed_static_name(endpoint, values):
    """url_for('static', filename='css/portal.css') → /static/<hash>/css/portal.css."""
    if endpoint == "static" and "filename" in values:
        digest = current_app.extensions["portal.static"].digest(values["filename"])
        if digest is not None:
            values["filename"] = f"{digest}/{values['filename']}"


def serve_static(filename: str):
    """/static/<hash>/<path> is static/<path> cached for a year (the hash changes with the content);
    /static/<path> still works, cached briefly."""
    files: StaticFiles = current_app.extensions["portal.static"]
    cache = SHORT_STATIC
    first, _, rest = filename.partition("/")
    if rest and HASHED.fullmatch(first):
        filename = rest
        cache = IMMUTABLE if files.digest(rest) == first else STALE_STATIC
    digest = files.digest(filename)
    if digest is None:
        raise NotFound()
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if mimetype not in COMPRESSIBLE or "Range" in request.headers:
        response = send_from_directory(files.folder, filename, max_age=None)
    else:
        encoding = preferred_encoding()
        response = Response(files.encoded(filename, digest, encoding), mimetype=mimetype)
        if encoding != "identity":
            response.headers["Content-Encoding"] = encoding
        response.vary.add("Accept-Encoding")
        response.set_etag(f"{digest}-{encoding}")
        response.make_conditional(request)
    response.headers["Cache-Control"] = cache
    return response


# --- compression ----------------------------------------------------------------------------------------------

def preferred_encoding() -> str:
    accepted = request.accept_encodings
    if accepted.quality("br") > 0:
        return "br"
    if accepted.quality("gzip") > 0:
        return "gzip"
    return "identity"


def compress(data: bytes, encoding: str, static: bool = False) -> bytes:
    if encoding == "br":
        return brotli.compress(data, quality=STATIC_BROTLI_QUALITY if static else BROTLI_QUALITY)
    return gzip.compress(data, compresslevel=9 if static else GZIP_LEVEL, mtime=0)


class _StreamCompressor:
    def __init__(self, encoding: str):
        if encoding == "br":
            self._brotli = brotli.Compressor(quality=BROTLI_QUALITY)
            self.compress, self.finish = self._brotli.process, self._brotli.finish
        else:
            self._zlib = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: gzip framing
            self.compress, self.finish = self._zlib.compress, self._zlib.flush

    def flush(self) -> bytes:
        if hasattr(self, "_brotli"):
            return self._brotli.flush()
        return self._zlib.flush(zlib.Z_SYNC_FLUSH)


def _compressed_stream(chunks, encoding: str, charset: str):
    """Each chunk is sent as soon as it is made (flushed), so a streamed answer stays streamed."""
    compressor = _StreamCompressor(encoding)
    try:
        for chunk in chunks:
            if isinstance(chunk, str):
                chunk = chunk.encode(charset)
            out = compressor.compress(chunk) + compressor.flush()
            if out:
                yield out
        yield compressor.finish()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def compress_response(response: Response) -> Response:
    if response.mimetype not in COMPRESSIBLE:
        return response
    response.vary.add("Accept-Encoding")
    if (request.method == "HEAD" or response.direct_passthrough or "Content-Encoding" in response.headers
            or response.status_code < 200 or response.status_code in (204, 206, 304)
            or "no-transform" in response.headers.get("Cache-Control", "")):
        return response
    encoding = preferred_encoding()
    if encoding == "identity":
        return response
    if response.is_streamed:
        response.response = _compressed_stream(response.response, encoding, "utf-8")
        response.headers.pop("Content-Length", None)
    else:
        data = response.get_data()
        if len(data) < MIN_COMPRESS_SIZE:
            return response
        response.set_data(compress(data, encoding))
    response.headers["Content-Encoding"] = encoding
    etag, weak = response.get_etag()
    if etag and not weak:  # another body than the identity one: a strong tag must differ
        response.set_etag(f"{etag}-{encoding}")
    return response


# --- caching of pages -----------------------------------------------------------------------------------------

def is_public_page(response: Response) -> bool:
    """The same page for every visitor who shares its language and cookies: nobody signed in, no flash
    shown, no session written, no form token on it, a plain 200 to a GET or HEAD."""
    return (request.method in ("GET", "HEAD") and response.status_code == 200
            and response.mimetype == "text/html"
            and response.headers.get("Cache-Control") == PRIVATE_PAGE
            and "Set-Cookie" not in response.headers
            and not session.modified and g.get("csrf_token") is None
            and not current_user.is_authenticated)


def finish_response(response: Response) -> Response:
    if is_public_page(response):
        response.headers["Cache-Control"] = PUBLIC_PAGE
        # htmx asks the same address for a fragment: a cache must not hand one out for the whole page.
        response.vary.update(("Accept-Language", "Cookie", "HX-Request"))
        if not response.is_streamed:
            response.add_etag(weak=True)
            response.make_conditional(request)
    return compress_response(response)


# --- dropped database connections -----------------------------------------------------------------------------

def is_lost_connection(error: BaseException) -> bool:
    """The database went away under this request (restart, failover, an idle connection cut)."""
    from sqlalchemy.exc import DBAPIError
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def ask_for_retry() -> bool:
    """Mark this request to be run again on a fresh connection, once, when doing so is safe (GET, HEAD).
    Returns whether it will be retried."""
    environ = request.environ
    if request.method in ("GET", "HEAD") and not environ.get(RETRIED_KEY):
        environ[RETRY_KEY] = True
        return True
    return False


class RetryAfterLostConnection:
    """WSGI middleware: an idempotent request that met a dropped database connection runs once more (the
    pool has thrown away its dead connections by then), so a database restart costs visitors nothing. Other
    requests get the 503 the app made: their transaction was rolled back, nothing half-written."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        started = []

        def hold(status, headers, exc_info=None):
            started[:] = [status, headers, exc_info]
            return lambda data: None  # Flask never writes through this callable

        body = self.wsgi_app(environ, hold)
        if environ.pop(RETRY_KEY, False):
            close = getattr(body, "close", None)
            if close is not None:
                close()
            environ[RETRIED_KEY] = True
            return self.wsgi_app(environ, start_response)
        start_response(*started)
        return body
