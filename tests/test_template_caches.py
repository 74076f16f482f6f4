"""Templates' url_for and _() answer from per-process caches (portal.web.TemplateUrls, portal.i18n
.template_gettext): the same text as Flask's and Flask-Babel's own, per request host and per language."""
from flask import render_template_string, url_for
from flask_babel import force_locale, gettext


def test_template_addresses_are_flasks_and_follow_the_request_host(app):
    page = "{{ url_for('auth.login') }} {{ url_for('auth.login', _external=True) }} {{ url_for('home.index', x=1) }}"
    for base in ("http://one.test", "https://two.test", "http://one.test"):
        with app.test_request_context("/", base_url=base):
            for _ in range(2):
                assert render_template_string(page) == (
                    f"{url_for('auth.login')} {url_for('auth.login', _external=True)} {url_for('home.index', x=1)}")
    with app.test_request_context("/", base_url="https://two.test"):
        assert render_template_string("{{ url_for('auth.login', _external=True) }}").startswith("https://two.test/")


def test_template_texts_follow_the_language_and_escape_as_before(app):
    seen = set()
    for language in ("zh", "en", "zh"):
        with app.test_request_context("/"), force_locale(language):
            for _ in range(2):
                text = render_template_string('{{ _("Sign in") }}|{{ _("Use at most %(n)d characters.", n=5) }}')
                assert text == f"{gettext('Sign in')}|{gettext('Use at most %(n)d characters.', n=5)}"
            seen.add(text)
    assert len(seen) == 2
    with app.test_request_context("/"):
        # As Jinja's own: the catalogue's text is trusted, the variables are escaped.
        assert render_template_string('{{ _("a < b") }}{{ _("a < b") }}') == "a < ba < b"
        assert render_template_string('{{ _("x %(v)s", v="<b>") }}') == "x &lt;b&gt;"


def test_template_csrf_token_is_flask_wtfs_kept_for_the_request(app):
    from flask import g, session
    from flask_wtf.csrf import generate_csrf, validate_csrf
    with app.test_request_context("/"):
        text = render_template_string("{{ csrf_token() }} {{ csrf_token() }}")
        first, second = text.split()
        assert first == second == generate_csrf()
        validate_csrf(first)  # raises when it is not a valid token for this session
        assert "csrf_token" in session and g.get("csrf_token") == first  # as flask-wtf's own: the session holds it
    with app.test_request_context("/"):
        # A new request asks flask-wtf again (here a new session: a new token).
        assert render_template_string("{{ csrf_token() }}") == generate_csrf()
