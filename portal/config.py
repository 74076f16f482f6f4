"""Configuration from the environment."""
import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("PORTAL_INSTANCE_DIR", Path(__file__).resolve().parent.parent / "instance"))


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into instance/ and kept."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _database_url(url: str) -> str:
    # SQLAlchemy needs the driver named for psycopg 3; hosting platforms hand out plain postgres:// URLs.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    def __init__(self):
        self.SECRET_KEY = _secret_key()
        self.SQLALCHEMY_DATABASE_URI = _database_url(
            os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'portal.sqlite3'}"))
        self.PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        self.REDIS_URL = os.environ.get("REDIS_URL")
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
        self.MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
        self.MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "") in ("1", "true", "yes")
        self.MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "yishi@localhost")
        # Behind a reverse proxy, how many hops of X-Forwarded-For to trust (0: none).
        self.PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "0"))

    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # A 10 MB form is refused with 413 before it is read; photo uploads raise their own limit later.
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 8 * 1024 * 1024
    MAX_PHOTO_REQUEST_LENGTH = 6 * 15 * 1024 * 1024 + 1024 * 1024  # views marked `accepts_photos` only
    WTF_CSRF_TIME_LIMIT = None  # tokens last as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ("en", "zh")
    DEFAULT_TIME_ZONE = "Asia/Shanghai"
    LOGIN_FAILURE_LIMIT = 10
    LOGIN_WINDOW_MINUTES = 15
    TESTING = False


class TestConfig(Config):
    """The suite's settings: TEST_DATABASE_URL picks PostgreSQL, else a throwaway SQLite file."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, database_url: str | None = None):
        super().__init__()
        self.TESTING = True
        url = database_url or os.environ.get("TEST_DATABASE_URL") or "sqlite://"
        self.SQLALCHEMY_DATABASE_URI = _database_url(url)
        self.PORTAL_BASE_URL = "https://yishi.test"
        self.SERVER_NAME = None
        # Nothing listens here, so a test only talks SMTP through the `smtp_inbox` fixture.
        self.MAIL_SERVER, self.MAIL_PORT = "127.0.0.1", 9
        # Cheap hashing for throwaway test passwords; production keeps argon2-cffi's defaults.
        self.ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
