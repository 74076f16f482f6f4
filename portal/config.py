"""Configuration from the environment."""
import os
import secrets
from datetime import timedelta
from pathlib import Path

SOURCE_TREE = Path(__file__).resolve().parent.parent


def _instance_dir() -> Path:
    """PORTAL_INSTANCE_DIR, else instance/ of the source checkout, else instance/ in the working folder (an
    installed wheel has no source folder to write into)."""
    if os.environ.get("PORTAL_INSTANCE_DIR"):
        return Path(os.environ["PORTAL_INSTANCE_DIR"])
    if (SOURCE_TREE / "pyproject.toml").is_file():
        return SOURCE_TREE / "instance"
    return Path.cwd() / "instance"


INSTANCE_DIR = _instance_dir()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into instance/ and kept."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        # Written whole under a name of its own, then linked into place: processes starting together (gunicorn's
        # workers on a first start, the test runner's) all read the one key that was linked first, never a
        # half-written file, and none fails because another made it a moment before.
        draft = INSTANCE_DIR / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _database_url(url: str) -> str:
    # SQLAlchemy needs the driver named for psycopg 3; hosting platforms hand out plain postgres:// URLs.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _engine_options(url: str) -> dict:
    # No ping before each checkout (a round trip per request): a dropped connection is noticed when it is
    # used, and portal.delivery runs that GET again or answers 503. Connections older than half an hour are
    # replaced, before a firewall or the server's idle timeout cuts them.
    options = {"pool_recycle": int(os.environ.get("DATABASE_POOL_RECYCLE", "1800"))}
    if url == "sqlite://" or ":memory:" in url:
        options["pool_recycle"] = -1  # an in-memory database lives in its one connection: replacing it loses it
    if url.startswith("postgresql"):
        # Memory for each sort or hash of a statement: the dashboard groups and ranks tens of thousands of
        # issues, which PostgreSQL's 4 MB default would sort on disk or plan as sorts instead of hashes.
        # The cursor: psycopg's, with each result's column descriptions built only when read (portal.pgcursor).
        from portal.pgcursor import Cursor
        options["connect_args"] = {"options": f"-c work_mem={os.environ.get('DATABASE_WORK_MEM', '16MB')}",
                                   "prepare_threshold": _prepare_threshold(), "cursor_factory": Cursor}
    return options


def _prepare_threshold() -> int | None:
    """psycopg prepares a statement on a connection once it has run it this many times (5); "off" never (a
    PgBouncer in transaction mode before 1.21 cannot pass prepared statements on)."""
    value = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
    return None if value in ("off", "none", "") else max(0, int(value))


class Config:
    def __init__(self):
        self.SECRET_KEY = _secret_key()
        # Key of the owner roll's identity-document hashes (HMAC-SHA256); empty: derived from SECRET_KEY.
        # Set it once and keep it: with another key, known documents no longer match.
        self.OWNER_ID_HASH_KEY = os.environ.get("OWNER_ID_HASH_KEY") or None
        self.SQLALCHEMY_DATABASE_URI = _database_url(
            os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'portal.sqlite3'}"))
        self.SQLALCHEMY_ENGINE_OPTIONS = _engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        self.REDIS_URL = os.environ.get("REDIS_URL")
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
        # Owners' ballots: how many owners one proxy (书面委托) may represent in one ballot; local rules differ.
        self.PROXY_CAP = int(os.environ.get("PROXY_CAP", "3"))
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
        self.MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
        self.MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "") in ("1", "true", "yes")
        self.MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "yishi@localhost")
        self.MAIL_TIMEOUT = int(os.environ.get("MAIL_TIMEOUT", "10"))  # seconds for each SMTP step
        # E-mail notifications: no mail from QUIET_START to QUIET_END o'clock in the recipient's time zone
        # (except emergencies; equal hours turn quiet hours off); daily digests go at DIGEST_HOUR local time.
        self.NOTIFICATION_QUIET_START = int(os.environ.get("NOTIFICATION_QUIET_START", "22"))
        self.NOTIFICATION_QUIET_END = int(os.environ.get("NOTIFICATION_QUIET_END", "7"))
        self.NOTIFICATION_DIGEST_HOUR = int(os.environ.get("NOTIFICATION_DIGEST_HOUR", "7"))
        # Owners' ballots (Civil Code art. 278): a person who co-owns one unit and solely owns another counts
        # "separate" (2 heads: the co-owned unit is a head of its own) or "once" (1 head; both areas count).
        # The law is unsettled; the reading is frozen on each ballot at opening and shown on its result.
        self.CO_OWNER_HEADCOUNT = os.environ.get("CO_OWNER_HEADCOUNT", "separate")
        # Web Push (RFC 8030 with VAPID, RFC 8292): the key pair `flask --app portal vapid-keys` prints
        # (base64url: the public key as the browser's applicationServerKey, the raw private key) and the contact
        # the push services may write to (mailto: or https:). Without both keys push is off.
        self.VAPID_PUBLIC_KEY = os.environ.get("VAPID_PUBLIC_KEY") or None
        self.VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY") or None
        self.VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT") or None
        # The RQ queue the app feeds (with REDIS_URL) and `rq worker ... yishi` drains.
        self.NOTIFICATION_QUEUE = os.environ.get("NOTIFICATION_QUEUE", "yishi")
        # Insight (未诉先办): a month's forecast is an expected rise when it stands above the recent level (the
        # larger of last month and the 3-month mean) by FORECAST_RISE_MARGIN (0.5 = half as much again) and by
        # at least FORECAST_RISE_MIN issues.
        self.FORECAST_RISE_MARGIN = os.environ.get("FORECAST_RISE_MARGIN", "0.5")
        self.FORECAST_RISE_MIN = int(os.environ.get("FORECAST_RISE_MIN", "3"))
        # Personal information: the privacy notice's version (and when it came into force: people who agreed
        # before are asked to accept it again), and how many days what is kept stays.
        self.PRIVACY_NOTICE_VERSION = os.environ.get("PRIVACY_NOTICE_VERSION", "2")
        self.PRIVACY_NOTICE_SINCE = os.environ.get("PRIVACY_NOTICE_SINCE", "2026-12-06")
        self.DELETION_COOLING_OFF_DAYS = int(os.environ.get("DELETION_COOLING_OFF_DAYS", "7"))
        self.EXPORT_KEEP_DAYS = int(os.environ.get("EXPORT_KEEP_DAYS", "7"))
        self.RETENTION_HOTLINE_CONTACT_DAYS = int(os.environ.get("RETENTION_HOTLINE_CONTACT_DAYS", "180"))
        # The 12345 work order: the return visit (回访) is made within RETURN_VISIT_DAYS of the resolution; an
        # issue resolved after its first resolve-by but within an approved extension counts as resolved on
        # time only with WORK_ORDER_EXTENSION_ON_TIME.
        self.RETURN_VISIT_DAYS = int(os.environ.get("RETURN_VISIT_DAYS", "5"))
        self.WORK_ORDER_EXTENSION_ON_TIME = os.environ.get("WORK_ORDER_EXTENSION_ON_TIME", "") in ("1", "true", "yes")
        self.RETENTION_SIGN_IN_DAYS = int(os.environ.get("RETENTION_SIGN_IN_DAYS", "90"))
        self.RETENTION_UNCONFIRMED_DAYS = int(os.environ.get("RETENTION_UNCONFIRMED_DAYS", "30"))
        # Text messages (portal.notifications.sms): SMS_PROVIDER "aliyun" or "tencent" with its keys, sign
        # name and one approved template per group; without them the SMS channel is off.
        self.SMS_PROVIDER = (os.environ.get("SMS_PROVIDER") or "").strip().lower() or None
        self.SMS_ACCESS_KEY_ID = os.environ.get("SMS_ACCESS_KEY_ID")  # Alibaba AccessKeyId / Tencent SecretId
        self.SMS_ACCESS_KEY_SECRET = os.environ.get("SMS_ACCESS_KEY_SECRET")  # AccessKeySecret / SecretKey
        self.SMS_SIGN_NAME = os.environ.get("SMS_SIGN_NAME")
        self.SMS_SDK_APP_ID = os.environ.get("SMS_SDK_APP_ID")  # Tencent only
        self.SMS_REGION = os.environ.get("SMS_REGION")  # default cn-hangzhou (Alibaba) / ap-guangzhou (Tencent)
        self.SMS_ENDPOINT = os.environ.get("SMS_ENDPOINT")  # default the provider's public API address
        self.SMS_TEMPLATES = {group: os.environ.get(f"SMS_TEMPLATE_{group.upper()}")
                              for group in ("issue_resolved", "ballot_opened", "ballot_closing", "code")}
        self.SMS_DAILY_CAP = int(os.environ.get("SMS_DAILY_CAP", "5"))  # messages per person per local day
        self.SMS_MONTHLY_CAP = int(os.environ.get("SMS_MONTHLY_CAP", "10000"))  # messages per portal per month
        self.SMS_TIMEOUT = int(os.environ.get("SMS_TIMEOUT", "10"))
        # Behind a reverse proxy, how many hops of X-Forwarded-For to trust (0: none).
        self.PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "0"))
        # The language of pages and Open311 answers for requests whose Accept-Language names none of LANGUAGES
        # (a signed-in person's choice and the language cookie still come first): "zh" for a Chinese deployment.
        self.DEFAULT_LANGUAGE = os.environ.get("DEFAULT_LANGUAGE", "en")
        # Also the language of e-mails to people who never chose one and of text made outside a request.
        self.BABEL_DEFAULT_LOCALE = self.DEFAULT_LANGUAGE if self.DEFAULT_LANGUAGE in self.LANGUAGES else "en"

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
    # Sign-in lock-out: LOGIN_FAILURE_LIMIT failed tries for one account within the window lock that account;
    # an address is locked for everyone only at the far higher LOGIN_ADDRESS_FAILURE_LIMIT, since a whole
    # estate or carrier network may share it.
    LOGIN_FAILURE_LIMIT = 10
    LOGIN_ADDRESS_FAILURE_LIMIT = 100
    LOGIN_WINDOW_MINUTES = 15
    # "Keep me signed in" lasts 30 days (signing out, a password change or a lock ends it sooner).
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    TESTING = False


class TestConfig(Config):
    """The suite's settings: TEST_DATABASE_URL picks PostgreSQL, else a throwaway SQLite file."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, database_url: str | None = None):
        super().__init__()
        self.TESTING = True
        url = database_url or os.environ.get("TEST_DATABASE_URL") or "sqlite://"
        self.SQLALCHEMY_DATABASE_URI = _database_url(url)
        self.SQLALCHEMY_ENGINE_OPTIONS = _engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.PORTAL_BASE_URL = "https://yishi.test"
        self.SERVER_NAME = None
        # Nothing listens here, so a test only talks SMTP through the `smtp_inbox` fixture.
        self.MAIL_SERVER, self.MAIL_PORT = "127.0.0.1", 9
        self.MAIL_TIMEOUT = 5
        # No job queue unless a test sets one up (tests/notifications/test_sender.py uses a real Redis).
        self.REDIS_URL = None
        # No push unless a test sets keys (tests/notifications/test_push.py makes its own pair).
        self.VAPID_PUBLIC_KEY = self.VAPID_PRIVATE_KEY = self.VAPID_SUBJECT = None
        # The tests' push service listens on 127.0.0.1 over plain HTTP.
        self.PUSH_ALLOW_LOCAL_ENDPOINTS = True
        # No text messages unless a test runs a provider's local server (tests/notifications/sms_servers.py).
        self.SMS_PROVIDER = None
        # Cheap hashing for throwaway test passwords; production keeps argon2-cffi's defaults.
        self.ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}  # 8 KiB: argon2's least
        # English unless a test sets another default, whatever the shell running the suite exports.
        self.DEFAULT_LANGUAGE = self.BABEL_DEFAULT_LOCALE = "en"
