"""English and Simplified Chinese ship complete: every string in the code has a Chinese translation."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "portal" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
METHODS = [("portal/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]


def _source_messages() -> set:
    """(message id, context) of every string in the code; a context comes from pgettext."""
    ids = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
            str(ROOT), METHODS, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
                                          "_l": None, "pgettext": ((1, "c"), 2)}):
        ids.add((message[0] if isinstance(message, tuple) else message, context))
    return ids


def test_every_source_string_has_a_complete_chinese_translation():
    with open(CATALOGUE, "rb") as f:
        catalogue = read_po(f)
    missing = sorted(m for m, context in _source_messages() if m and catalogue.get(m, context=context) is None)
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


# --- the date and time filters: one format per language, in the zone, to the minute --------------------------

def _freeze(monkeypatch, moment):
    import portal.clock
    monkeypatch.setattr(portal.clock, "utcnow", lambda: moment)


def test_datetime_local_is_one_format_per_language_with_the_year_only_when_not_this_year(app, monkeypatch):
    from datetime import datetime, timedelta, timezone

    from portal.web import datetime_local
    _freeze(monkeypatch, datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc))
    value = datetime(2026, 12, 11, 12, 0, 45, tzinfo=timezone.utc)  # 20:00:45 in Shanghai
    last_year = datetime(2025, 3, 2, 1, 5, tzinfo=timezone.utc)
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert datetime_local(value, "Asia/Shanghai") == "12月11日 20:00"
        assert datetime_local(value) == "12月11日 20:00"  # the portal's default zone
        assert datetime_local(last_year, "Asia/Shanghai") == "2025年3月2日 09:05"
        assert datetime_local(value, "Europe/London") == "12月11日 12:00"
        # the same instant in another tzinfo is the same text
        assert datetime_local(value.astimezone(timezone(timedelta(hours=5))), "Asia/Shanghai") == "12月11日 20:00"
        assert datetime_local(None) == ""
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert datetime_local(value, "Asia/Shanghai") == "11 Dec 20:00"
        assert datetime_local(last_year, "Asia/Shanghai") == "2 Mar 2025 09:05"
        for text in (datetime_local(value, "America/New_York"), datetime_local(last_year, "UTC")):
            assert "CST" not in text and "EST" not in text and "UTC" not in text and text.count(":") == 1


def test_the_year_rule_follows_the_communitys_zone_and_the_clock(app, monkeypatch):
    from datetime import datetime, timezone

    from portal.web import date_local, datetime_local
    # 31 Dec 2026 20:00 UTC is already 1 Jan 2027 in Shanghai, still 2026 in New York.
    _freeze(monkeypatch, datetime(2026, 12, 31, 20, 0, tzinfo=timezone.utc))
    new_year = datetime(2027, 1, 1, 1, 0, tzinfo=timezone.utc)
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert datetime_local(new_year, "Asia/Shanghai") == "1月1日 09:00"
        assert date_local(new_year, "Asia/Shanghai") == "1月1日"
        late_december = datetime(2026, 12, 31, 10, 0, tzinfo=timezone.utc)
        assert datetime_local(late_december, "Asia/Shanghai") == "2026年12月31日 18:00"  # last year there
        assert datetime_local(late_december, "America/New_York") == "12月31日 05:00"  # this year there
    _freeze(monkeypatch, datetime(2027, 6, 1, tzinfo=timezone.utc))  # a cached text is not reused next year
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert datetime_local(datetime(2026, 12, 31, 10, tzinfo=timezone.utc), "America/New_York") == \
            "2026年12月31日 05:00"


def test_date_local_for_due_dates(app, monkeypatch):
    from datetime import date, datetime, timezone

    from portal.web import date_local
    _freeze(monkeypatch, datetime(2026, 12, 5, tzinfo=timezone.utc))
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert date_local(date(2026, 12, 11)) == "12月11日" and date_local(date(2027, 1, 3)) == "2027年1月3日"
        assert date_local(None) == ""
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert date_local(date(2026, 12, 11)) == "11 Dec" and date_local(date(2027, 1, 3)) == "3 Jan 2027"


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
