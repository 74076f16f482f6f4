"""English and Simplified Chinese ship complete: every string in the code has a Chinese translation."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "portal" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
METHODS = [("portal/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]


def _source_messages() -> set:
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
                                          "_l": None, "pgettext": ((1, "c"), 2)}):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def test_every_source_string_has_a_complete_chinese_translation():
    with open(CATALOGUE, "rb") as f:
        catalogue = read_po(f)
    missing = sorted(m for m in _source_messages() if m and (catalogue.get(m) is None))
    assert not missing, f"strings not in the Chinese catalogue (run `make extract`): {missing[:20]}"
    untranslated = [m.id for m in catalogue if m.id and (m.fuzzy or not m.string or (
        isinstance(m.string, tuple) and not all(m.string)))]
    assert not untranslated, f"untranslated or fuzzy Chinese strings: {untranslated[:20]}"


def test_language_follows_the_browser_and_sets_html_lang(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-CN"' in page
    assert "议事" in page
    page = client.get("/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en"' in page


def test_language_switch_is_remembered_in_a_cookie(client):
    from tests.csrf import csrf_token
    token = csrf_token(client, "/")
    response = client.post("/language", data={"language": "zh", "next": "/", "csrf_token": token})
    assert response.status_code == 302
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-CN"' in page


# --- the date and time filters: Babel's own output, with its objects and results kept between calls ----------

def _babel_datetime(value, zone, locale):
    from babel.dates import format_datetime

    from portal.clock import in_zone
    local = in_zone(value, zone)
    return format_datetime(local.replace(tzinfo=None), "medium", locale=locale) + local.strftime(" %Z")


def test_datetime_local_gives_babels_medium_format_in_the_zone_for_each_language(app):
    import random
    from datetime import datetime, timedelta, timezone

    from portal.web import datetime_local
    rng = random.Random(15)
    start = datetime(2019, 1, 1, tzinfo=timezone.utc)
    values = [start + timedelta(seconds=rng.randint(0, 10 * 365 * 86400)) for _ in range(300)]
    for language in ("en", "zh"):
        with app.app_context(), app.test_request_context("/", headers={"Accept-Language": language}):
            for zone in ("Asia/Shanghai", "Europe/London", "America/New_York", "UTC"):
                for value in values:
                    assert datetime_local(value, zone) == _babel_datetime(value, zone, language)
                    # the same instant in another tzinfo is the same text
                    assert datetime_local(value.astimezone(timezone(timedelta(hours=5))), zone) == \
                        _babel_datetime(value, zone, language)
            assert datetime_local(None) == ""
            assert datetime_local(values[0]) == _babel_datetime(values[0], "Asia/Shanghai", language)
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert "年" in datetime_local(values[0])
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert "年" not in datetime_local(values[0])


def test_relative_time_words_every_distance_as_babels_format_timedelta(app):
    import random
    from datetime import timedelta

    from babel.dates import format_timedelta

    from portal.web import relative_text
    rng = random.Random(15)
    seconds = [0, 1, 29, 30, 31, 59, 60, 89, 90, 91, 3000, 3060, 3599, 3600, 73_000, 73_500, 86_399,
               514_000, 2_200_000, 26_800_000, 31_536_000, 400_000_000]
    seconds += [rng.uniform(0, 500_000_000) for _ in range(2_000)] + [rng.uniform(0, 7200) for _ in range(500)]
    for language in ("en", "zh"):
        for s in seconds:
            for delta in (timedelta(seconds=s), timedelta(seconds=-s)):
                assert relative_text(delta, language) == format_timedelta(
                    delta, granularity="minute", add_direction=True, locale=language), (language, delta)
    assert relative_text(timedelta(days=-3), "en") == "3 days ago"
    assert relative_text(timedelta(hours=5), "zh") == "5小时后"


def test_relative_time_filter_follows_the_request_language(app):
    from datetime import timedelta

    from portal.clock import utcnow
    from portal.web import relative_time
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert relative_time(utcnow() - timedelta(days=2, minutes=3)) == "2 days ago"
        assert relative_time(None) == ""
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert relative_time(utcnow() + timedelta(hours=3, minutes=1)) == "3小时后"


def test_templates_translate_in_the_language_in_force_even_when_it_changes_mid_request(app):
    from flask import render_template_string
    from flask_babel import force_locale, refresh
    template = '{{ _("Home") }}|{{ ngettext("%(num)d comment", "%(num)d comments", 3) }}'
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert render_template_string(template) == "Home|3 comments"
        with force_locale("zh"):  # an e-mail in the recipient's language, inside someone else's request
            assert render_template_string(template) == "首页|3 条意见"
        assert render_template_string(template) == "Home|3 comments"
        from flask import g
        g._flask_babel.babel_locale = None
        refresh()
        assert render_template_string(template) == "Home|3 comments"
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert render_template_string(template) == "首页|3 条意见"
    with app.app_context():  # outside a request
        assert render_template_string(template).startswith("Home|")
