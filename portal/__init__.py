"""Yishi (议事): community deliberation and participation portal."""
from pathlib import Path

from flask import Flask

from portal.config import INSTANCE_DIR, Config

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent


def resource_dir(name: str) -> Path:
    """templates/, static/ or migrations/: inside the installed package (a wheel maps the repository's
    top-level folders there), else the source checkout's own folder (editable installs, tests)."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else ROOT / name


def create_app(config=None) -> Flask:
    app = Flask(__name__, template_folder=str(resource_dir("templates")),
                static_folder=str(resource_dir("static")), instance_path=str(INSTANCE_DIR))
    app.config.from_object(config if config is not None else Config())
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_proxy(app)
    configure_extensions(app)
    from portal.web import DatabaseInt
    app.url_map.converters["int"] = DatabaseInt  # before any route is added
    configure_blueprints(app)
    from portal import delivery, markup, web
    from portal.auth import permissions
    web.init_app(app, rules=permissions)
    delivery.init_app(app)
    markup.init_app(app)
    from portal import cli, observability
    cli.init_app(app)
    observability.init_app(app)
    return app


def configure_proxy(app: Flask) -> None:
    hops = app.config.get("PROXY_HOPS", 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def configure_extensions(app: Flask) -> None:
    from portal import i18n
    from portal.extensions import babel, csrf, db, end_reads_with_commit, htmx, login_manager, migrate

    db.init_app(app)
    end_reads_with_commit(app)
    migrate.init_app(app, db, directory=str(resource_dir("migrations")), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, default_translation_directories="translations")
    i18n.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    from flask_babel import lazy_gettext as _l
    login_manager.login_message = _l("Please sign in to see this page.")

    @login_manager.user_loader
    def load_user(user_id):
        # One statement by primary key: the person with what the header and most permission rules ask next,
        # kept for the rest of the request: current memberships (roles), open residencies (roles) and the
        # number of unread notifications (the header's badge). Memberships × residencies are a few rows.
        from flask import g

        from portal.auth import roles
        from portal.auth.models import User, session_key_digest
        from portal.clock import utcnow
        parsed = User.parse_session_id(user_id)
        if parsed is None:
            return None
        since = utcnow() - app.config["REMEMBER_COOKIE_DURATION"]
        person = roles.read_person(db.session.execute(roles.person_statement(), {
            "user_id": parsed[0], "today": roles.today(), "digest": session_key_digest(parsed[2]),
            "since": since}).all())
        # A session or remember cookie whose session was signed out (no row), or from before a password
        # change, a sign-out everywhere or a lock (an earlier generation) loads nobody.
        if person is None:
            return None
        user, memberships, residencies, unread = person
        if not user.is_active or user.session_generation != parsed[1]:
            return None
        user.session_key = parsed[2]
        roles.remember_memberships(user, memberships)
        roles.remember_residencies(user, residencies)
        g.unread_notifications_at_start = unread
        return user

    import_models()
    from portal import versions
    versions.listen()


def import_models() -> None:
    """Every model module, so metadata (and Alembic) sees all tables."""
    import portal.actions.models  # noqa: F401
    import portal.audit.models  # noqa: F401
    import portal.auth.models  # noqa: F401
    import portal.committees.models  # noqa: F401
    import portal.dashboard.models  # noqa: F401
    import portal.insight.models  # noqa: F401
    import portal.due  # noqa: F401  (the last run of each time-driven step)
    import portal.funds.models  # noqa: F401
    import portal.issues.models  # noqa: F401
    import portal.moderation.models  # noqa: F401
    import portal.notices.models  # noqa: F401
    import portal.notifications.models  # noqa: F401
    import portal.notifications.sms_models  # noqa: F401
    import portal.outbox  # noqa: F401
    import portal.open311.models  # noqa: F401
    import portal.places.models  # noqa: F401
    import portal.privacy.models  # noqa: F401
    import portal.proposals.models  # noqa: F401
    import portal.sharing  # noqa: F401  (short links)
    import portal.votes.models  # noqa: F401


def configure_blueprints(app: Flask) -> None:
    from portal.audit import bp as audit_bp
    from portal.auth import bp as auth_bp
    from portal.committees import bp as committees_bp
    from portal.home import bp as home_bp
    from portal.issues import bp as issues_bp
    from portal.moderation import bp as moderation_bp
    from portal.notifications import bp as notifications_bp
    from portal.notifications import sms_bp
    from portal.places import bp as places_bp
    from portal.proposals import bp as proposals_bp
    from portal.votes import bp as votes_bp
    from portal.notices import bp as notices_bp
    from portal.calendar import bp as calendar_bp
    from portal.printing import bp as printing_bp
    from portal.actions import bp as actions_bp
    from portal.dashboard import bp as dashboard_bp
    from portal.insight import bp as insight_bp
    from portal.residents import bp as residents_bp
    from portal.open311 import bp as open311_bp
    from portal.privacy import bp as privacy_bp
    from portal.webapp import bp as webapp_bp
    from portal.sharepages import bp as share_bp
    from portal.funds import bp as funds_bp

    # An area's package holds only its blueprint; its pages (and with them the services that register
    # events, time-driven steps and signal receivers) are imported here, at the top, so no area imports its
    # own web layer by being imported. The first three keep the time-driven steps in the order run-due ran
    # them before.
    import portal.auth.services  # noqa: F401
    import portal.notifications.sender  # noqa: F401  (the send_notifications due step)
    import portal.notifications.reminders  # noqa: F401  (its events and due steps)
    import portal.notifications.push  # noqa: F401  (the push outbox, written with notifications; send_push)
    import portal.actions.views  # noqa: F401
    import portal.audit.views  # noqa: F401
    import portal.auth.views  # noqa: F401
    import portal.committees.views  # noqa: F401
    import portal.dashboard.views  # noqa: F401
    import portal.insight.views  # noqa: F401  (and the insight_forecasts due step)
    import portal.dashboard.funds  # noqa: F401  (money per community and fund, a fund's month as a file)
    import portal.funds.views  # noqa: F401
    import portal.funds.round_views  # noqa: F401  (budget rounds, on the funds blueprint)
    import portal.funds.ballot_views  # noqa: F401  (a budget round's ballot, issue #23)
    import portal.issues.views  # noqa: F401
    import portal.moderation.views  # noqa: F401
    import portal.notices.services  # noqa: F401  (starts a notice when a ballot is decided)
    import portal.notices.views  # noqa: F401
    import portal.notifications.email_views  # noqa: F401  (e-mail settings, unsubscribe)
    import portal.notifications.mail  # noqa: F401
    import portal.notifications.push_views  # noqa: F401  (subscribing browsers to Web Push)
    import portal.notifications.views  # noqa: F401
    import portal.notifications.sms_views  # noqa: F401  (SMS codes, settings, counts; the send_sms step)
    import portal.open311.api_views  # noqa: F401
    import portal.open311.views  # noqa: F401
    import portal.open311.webhooks  # noqa: F401  (work orders' changes to the hotline: receiver, due step)
    import portal.places.views  # noqa: F401
    import portal.privacy.views  # noqa: F401  (its due steps and the new-notice check)
    import portal.proposals.views  # noqa: F401
    import portal.residents.acting  # noqa: F401
    import portal.residents.views  # noqa: F401
    import portal.votes.views  # noqa: F401
    import portal.votes.paper_views  # noqa: F401  (paper ballots, print views and proxies)
    # With REDIS_URL, a commit that wrote notifications queues a drain for the RQ worker.
    portal.notifications.sender.watch_commits()
    # With SMS configured, a transaction that writes notifications writes their text messages too.
    portal.notifications.sms.watch_notifications()

    for bp in (home_bp, auth_bp, audit_bp, notifications_bp, committees_bp, residents_bp, places_bp,
               issues_bp, proposals_bp, moderation_bp, votes_bp, notices_bp, calendar_bp, printing_bp,
               actions_bp, dashboard_bp, insight_bp, open311_bp, privacy_bp, webapp_bp, sms_bp, share_bp,
               funds_bp):
        app.register_blueprint(bp)
