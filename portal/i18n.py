"""Language: the signed-in person's choice, else the remembered cookie, else the browser's, else the portal's
default (DEFAULT_LANGUAGE) when the browser states no language the portal speaks."""
from flask import current_app, has_request_context, request
from flask.globals import _cv_app
from flask_babel import Domain
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

LANGUAGE_COOKIE = "lang"
HTML_LANG = {"en": "en", "zh": "zh-CN"}
TEMPLATE_TEXTS_KEPT = 10_000


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in languages:
        return cookie
    return request.accept_languages.best_match(languages) or default_language()


def default_language() -> str:
    """The portal's own language for requests that state none (a hotline client, a crawler): DEFAULT_LANGUAGE
    when it is one of LANGUAGES, else Flask-Babel's default."""
    language = current_app.config.get("DEFAULT_LANGUAGE")
    if language in current_app.config["LANGUAGES"]:
        return language
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app) -> None:
    """Python's gettext and lazy strings (labels, error texts) go through PortalDomain. Templates translate
    through the request's catalogue looked up once per language: Flask-Babel's own
    callables find the domain, the locale and the locale's name again for each of a page's few hundred
    strings (about a tenth of a long page's rendering)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    # `_("…")` and `gettext("…")` without variables give the same text for every request in a language:
    # each is looked up, marked safe and %-formatted once per catalogue (Jinja's own path does it per call).
    app.jinja_env.globals["_"] = app.jinja_env.globals["gettext"] = template_gettext
    from portal.extensions import babel
    babel.domain_instance = PortalDomain(domain=app.config.get("BABEL_DEFAULT_DOMAIN", "messages"))


def _babel_state():
    """Flask-Babel's per-context namespace (locale, domain) without its own look-up's proxies, or None
    outside an app context."""
    context = _cv_app.get(None)
    return None if context is None else getattr(context.g, "_flask_babel", None)


class PortalDomain(Domain):
    """Flask-Babel's default domain, answering from the catalogue it found first in this context for as long
    as the locale there stays the same (force_locale and refresh replace it): each lazy label otherwise
    looks up the domain, the locale and its name again."""

    def get_translations(self):
        state = _babel_state()
        kept = getattr(state, "portal_domain_translations", None)
        if kept is not None and kept[0] is getattr(state, "babel_locale", None) and kept[1] is self:
            return kept[2]
        translations = super().get_translations()
        state = _babel_state()
        locale = getattr(state, "babel_locale", None)
        if locale is not None:
            state.portal_domain_translations = (locale, self, translations)
        return translations


def locale_name() -> str:
    """str(flask_babel.get_locale()) or "en", kept with the locale for the rest of the context."""
    state = _babel_state()
    locale = getattr(state, "babel_locale", None)
    kept = getattr(state, "portal_locale_name", None)
    if locale is not None and kept is not None and kept[0] is locale:
        return kept[1]
    from flask_babel import get_locale
    name = str(get_locale() or "en")
    state = _babel_state()
    locale = getattr(state, "babel_locale", None)
    if locale is not None:
        state.portal_locale_name = (locale, name)
    return name


@pass_context
def template_gettext(context, string, **variables):
    """Jinja's new-style gettext (the text looked up, Markup when autoescaping, always %-formatted with the
    variables), remembered per catalogue, autoescape and string when there are no variables."""
    translations = _translations()
    autoescape = context.eval_ctx.autoescape
    if variables:
        text = translations.ugettext(string)
        return (Markup(text) if autoescape else text) % variables
    try:
        texts = translations.portal_template_texts
    except AttributeError:
        texts = translations.portal_template_texts = {}
    key = (autoescape, string)
    text = texts.get(key)
    if text is None:
        text = (Markup(translations.ugettext(string)) if autoescape else translations.ugettext(string)) % {}
        if len(texts) < TEMPLATE_TEXTS_KEPT:  # templates pass literals: a few thousand at most
            texts[key] = text
    return text


def _translations():
    """What flask_babel.get_translations() answers, kept on Flask-Babel's own per-context namespace for as
    long as the locale (and domain) objects there stay the same: force_locale and refresh replace them."""
    from flask_babel import get_translations
    context = _cv_app.get(None)
    if context is None:
        return get_translations()
    state = getattr(context.g, "_flask_babel", None)
    locale = getattr(state, "babel_locale", None)
    if locale is None:  # the first string of the request: Flask-Babel picks the language
        return get_translations()
    domain = getattr(state, "babel_domain", None)
    kept = getattr(state, "portal_translations", None)
    if kept is not None and kept[0] is locale and kept[1] is domain:
        return kept[2]
    translations = get_translations()
    state.portal_translations = (locale, domain, translations)
    return translations
