"""A push service on 127.0.0.1 for the tests, speaking RFC 8030 as a browser vendor's does, and a browser's side
of a subscription (its P-256 key pair and auth secret, RFC 8291), made here as a browser makes them.

For every message it checks what a real push service checks, independently of the library the portal sends
with: the VAPID Authorization header (RFC 8292: `vapid t=<JWT>, k=<public key>`; an ES256 signature that
verifies with k, k the portal's configured key, `aud` the endpoint's origin, `exp` in the future and at most
24 hours ahead, `sub` a mailto: or https: contact), TTL and `Content-Encoding: aes128gcm`; then it decrypts the
body with the subscription's private key and auth secret (http_ece, as the browser would) and keeps the JSON.
A subscription can be told to answer other statuses (404, 410, 429 with Retry-After, 500, 403) one after
another, and the whole service can go down and come back on the same port."""
import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.conftest import free_port


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's side of one subscription: what PushSubscription.toJSON() gives the page, and the private
    half only the browser holds."""
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def to_json(self) -> dict:
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class VapidError(Exception):
    pass


def check_vapid(header: str, *, public_key: str, audience: str, now: float) -> dict:
    """The claims of a valid `vapid t=…, k=…` Authorization header; VapidError says what is wrong."""
    if not header.startswith("vapid "):
        raise VapidError("not a vapid authorization")
    params = dict(part.strip().split("=", 1) for part in header[len("vapid "):].split(","))
    token, key = params.get("t", ""), params.get("k", "")
    if key != public_key:
        raise VapidError("k is not the application server's key")
    try:
        head_b64, claims_b64, signature_b64 = token.split(".")
        head, claims = json.loads(unb64url(head_b64)), json.loads(unb64url(claims_b64))
        signature = unb64url(signature_b64)
    except ValueError as error:
        raise VapidError(f"malformed JWT: {error}") from None
    if head.get("alg") != "ES256" or len(signature) != 64:
        raise VapidError("not an ES256 JWT")
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        verifier.verify(der, f"{head_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError("bad signature") from None
    if claims.get("aud") != audience:
        raise VapidError(f"aud {claims.get('aud')!r} is not {audience!r}")
    if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 24 * 3600:
        raise VapidError("exp not within 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise VapidError("no sub")
    return claims


class PushService:
    def __init__(self, vapid_public_key: str):
        self.vapid_public_key = vapid_public_key
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.browsers: dict[str, Browser] = {}
        self.answers: dict[str, list] = {}   # token -> statuses (or (status, headers)) to answer first, in order
        self.received: list[dict] = []       # decrypted payloads accepted, with their token and headers
        self.refused: list[tuple[str, str]] = []  # (token, why) for requests that failed a check
        self.requests = 0
        self._lock = threading.Lock()
        self._server = None
        self._serial = 0

    def browser(self) -> Browser:
        with self._lock:
            self._serial += 1
            token = f"sub-{self._serial}-{b64url(os.urandom(6))}"
        browser = Browser(endpoint=f"{self.origin}/push/{token}")
        self.browsers[token] = browser
        return browser

    def answer(self, browser: Browser, *statuses) -> None:
        self.answers.setdefault(_token(browser.endpoint), []).extend(statuses)

    def received_by(self, browser: Browser) -> list[dict]:
        token = _token(browser.endpoint)
        return [r["payload"] for r in self.received if r["token"] == token]

    # --- the HTTP side ---

    def start(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers = service.handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        headers = {k.lower(): v for k, v in headers.items()}
        token = path.rsplit("/", 1)[-1]
        with self._lock:
            self.requests += 1
            browser = self.browsers.get(token)
            if browser is None or not path.startswith("/push/"):
                return 404, {}
            queued = self.answers.get(token)
            if queued:
                answer = queued.pop(0)
                status, extra = answer if isinstance(answer, tuple) else (answer, {})
                return status, extra
        try:
            check_vapid(headers.get("authorization", ""), public_key=self.vapid_public_key,
                        audience=self.origin, now=time.time())
        except VapidError as error:
            self.refused.append((token, str(error)))
            return 403, {}
        if headers.get("content-encoding") != "aes128gcm" or not headers.get("ttl", "").isdigit():
            self.refused.append((token, "encoding or TTL"))
            return 400, {}
        try:
            plain = http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth_secret,
                                     version="aes128gcm")
            payload = json.loads(plain)
        except Exception as error:  # what a browser drops: it cannot be decrypted or is not JSON
            self.refused.append((token, f"cannot decrypt: {error}"))
            return 400, {}
        with self._lock:
            self.received.append({"token": token, "payload": payload, "urgency": headers.get("urgency"),
                                  "ttl": int(headers["ttl"])})
        return 201, {"Location": f"{self.origin}/message/{len(self.received)}"}


def _token(endpoint: str) -> str:
    return urlsplit(endpoint).path.rsplit("/", 1)[-1]
