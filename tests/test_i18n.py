"""English and Simplified Chinese ship complete: every string in the code has a Chinese translation."""
from datetime import UTC
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "portal" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
METHODS = [("portal/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]


KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}


def _source_messages() -> set:
    """(msgid, context) of every string in the code; context is None outside pgettext."""
    ids = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS):
        ids.add((message[0] if isinstance(message, tuple) else message, context))
    return ids


def test_every_source_string_has_a_complete_chinese_translation():
    with open(CATALOGUE, "rb") as f:
        catalogue = read_po(f)
    missing = sorted(m for m in _source_messages() if m[0] and (catalogue.get(m[0], context=m[1]) is None))
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
    _freeze(monkeypatch, datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    value = datetime(2026, 12, 11, 12, 0, 45, tzinfo=UTC)  # 20:00:45 in Shanghai
    last_year = datetime(2025, 3, 2, 1, 5, tzinfo=UTC)
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
    from datetime import datetime

    from portal.web import date_local, datetime_local
    # 31 Dec 2026 20:00 UTC is already 1 Jan 2027 in Shanghai, still 2026 in New York.
    _freeze(monkeypatch, datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    new_year = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert datetime_local(new_year, "Asia/Shanghai") == "1月1日 09:00"
        assert date_local(new_year, "Asia/Shanghai") == "1月1日"
        late_december = datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
        assert datetime_local(late_december, "Asia/Shanghai") == "2026年12月31日 18:00"  # last year there
        assert datetime_local(late_december, "America/New_York") == "12月31日 05:00"  # this year there
    _freeze(monkeypatch, datetime(2027, 6, 1, tzinfo=UTC))  # a cached text is not reused next year
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh"}):
        assert datetime_local(datetime(2026, 12, 31, 10, tzinfo=UTC), "America/New_York") == \
            "2026年12月31日 05:00"


def test_date_local_for_due_dates(app, monkeypatch):
    from datetime import date, datetime

    from portal.web import date_local
    _freeze(monkeypatch, datetime(2026, 12, 5, tzinfo=UTC))
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


def test_relative_text_lasts_exactly_as_long_as_its_words():
    """relative_text_lasts(d): the words for d hold for that long as time passes, and change right after
    (what the issue list's kept rows rely on to end when their "due in …" would change)."""
    import random
    from datetime import timedelta

    from portal.web import relative_text, relative_text_lasts
    rng = random.Random(32)
    seconds = [1, 29, 30, 31, 59, 60, 89, 90, 91, 3000, 3060, 3599, 3600, 5400, 73_000, 86_399, 514_000,
               2_200_000, 26_800_000, 31_536_000, 400_000_000]
    seconds += [rng.uniform(1, 500_000_000) for _ in range(1_000)] + [rng.uniform(1, 7200) for _ in range(500)]
    for s in seconds:
        delta = timedelta(seconds=s)
        lasts = relative_text_lasts(delta)
        assert timedelta(0) <= lasts <= delta, s  # 0 at a rounding edge (90 s: "in 2 minutes", then 1)
        words = relative_text(delta, "en")
        for part in (0.25, 0.5, 0.999):
            assert relative_text(delta - lasts * part, "en") == words, (s, part)
        later = delta - lasts - timedelta(milliseconds=10)
        if later > timedelta(0):
            assert relative_text(later, "en") != words, s
    assert relative_text_lasts(timedelta(seconds=-5)) == timedelta(0)


def test_passed_text_lasts_exactly_as_long_as_its_words():
    """passed_text_lasts(d) for a time passed: "5 minutes ago" holds for that long and changes right after
    (what the notification centre's kept list relies on)."""
    import random
    from datetime import timedelta

    from portal.web import passed_text_lasts, relative_text
    rng = random.Random(33)
    seconds = [0.001, 1, 29, 30, 31, 59, 60, 89, 90, 91, 3000, 3060, 3599, 3600, 5400, 73_000, 86_399, 514_000,
               2_200_000, 26_800_000, 31_536_000, 400_000_000]
    seconds += [rng.uniform(0.001, 500_000_000) for _ in range(1_000)] + [rng.uniform(0.001, 7200) for _ in range(500)]
    for s in seconds:
        delta = timedelta(seconds=-s)
        lasts = passed_text_lasts(delta)
        assert timedelta(0) <= lasts <= timedelta(days=366), s
        words = relative_text(delta, "en")
        for part in (0.25, 0.5, 0.999):
            assert relative_text(delta - lasts * part, "en") == words, (s, part)
        assert relative_text(delta - lasts - timedelta(milliseconds=10), "en") != words, s
    assert passed_text_lasts(timedelta(seconds=5)) == passed_text_lasts(timedelta(0)) == timedelta(0)


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


# --- words: one Chinese word for each sense, the terms officials and residents use ------------------------------

def _compiled_catalogue():
    from babel.messages.mofile import read_mo
    with open(CATALOGUE.with_suffix(".mo"), "rb") as f:
        return read_mo(f)


def _entries():
    """(msgid, context, every msgstr text) of the compiled catalogue, the one the portal serves, and of the
    catalogue it is compiled from (a stale compiled file hides nothing)."""
    with open(CATALOGUE, "rb") as f:
        source = list(read_po(f))
    for message in list(_compiled_catalogue()) + source:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
        strings = tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)
        yield msgid, message.context, strings


def test_extraction_knows_the_message_contexts():
    assert {("Ballots", "ballot secrecy"), ("Place", "meeting"), ("Why", "hotspot"), ("Current", "ownership"),
            ("Open", "proposals")} <= _source_messages()
    assert "lazy_pgettext:1c,2" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize("context, msgid, meant, plain", [
    ("ballot secrecy", "Ballots", "投票方式", "表决"),
    ("meeting", "Place", "地点", "区域"),
    ("hotspot", "Why", "判定依据", "用途"),
    ("ownership", "Current", "当前", "现行"),
    ("proposals", "Open", "进行中", "未办结"),
])
def test_one_english_word_with_two_senses_has_two_chinese_words(app, context, msgid, meant, plain):
    from flask import render_template_string
    from flask_babel import force_locale, gettext, pgettext
    with app.test_request_context("/"), force_locale("zh"):
        assert (pgettext(context, msgid), gettext(msgid)) == (meant, plain)
        assert render_template_string("{{ pgettext(c, m) }}|{{ _(m) }}", c=context, m=msgid) == f"{meant}|{plain}"
    with app.test_request_context("/"), force_locale("en"):
        assert pgettext(context, msgid) == msgid


# Words the catalogue must not use, each with the one it uses instead.
BANNED = {
    "你": "您 (polite address)",
    "认证": "已核实 (verified: 认证 suggests a real-name check)",
    "隐私声明": "隐私政策", "隐私说明": "隐私政策",
    "超时": "超期", "逾期": "超期",
    "反映人": "诉求人 (the reporter)",
    "工作台": "数据看板 (the dashboard)",
    "未关闭": "未办结 (open)",
    "内容管理": "审核 (moderation)",
    "name:phone": "姓名:手机号", "developer": "开发商",
}


def test_the_compiled_catalogue_uses_one_word_for_one_thing():
    found = [(msgid, word) for msgid, _context, strings in _entries() for word in BANNED
             if any(word in text for text in strings)]
    assert not found, [f"{msgid!r}: {word} → {BANNED[word]}" for msgid, word in found[:20]]


def test_no_chinese_text_carries_english_prose():
    """Technical names stay (api_key, CSV, Open311, Asia/Shanghai); English words in a row do not, as in
    “望京街道 Wangjing Sub-district” or “填写 developer”."""
    import re
    prose = re.compile(r"\b[A-Za-z][a-z]+ [A-Za-z][a-z]+\b")
    found = [msgid for msgid, _context, strings in _entries()
             if any(prose.search(re.sub(r"%\(\w+\)[sd]", "", text)) for text in strings)]
    assert not found, found[:10]


def test_moderators_are_the_reviewers_never_the_platform_administrators():
    moderation = [(msgid, strings) for msgid, _context, strings in _entries() if "moderat" in msgid.lower()]
    assert len(moderation) > 15
    assert not [msgid for msgid, strings in moderation if any("管理员" in text for text in strings)]
    assert not [msgid for msgid, strings in moderation if any(
        "审核人" in text.replace("审核人员", "") for text in strings)]
    # the platform administrators keep their word
    admin = {msgid: strings[0] for msgid, _c, strings in _entries()}
    assert "管理员" in admin["Only administrators can create organizations."]


def test_the_named_terms_read_as_officials_and_residents_use_them():
    text = {(msgid, context): strings[0] for msgid, context, strings in _entries()}
    assert text[("(4) Hiring or dismissing the property service company", None)] == \
        "（四）选聘和解聘物业服务企业或者其他管理人"
    assert text[("Dashboard", None)] == "数据看板"
    assert text[("Me too", None)] == "我也遇到"
    assert text[("Reporter", None)] == "诉求人"
    assert text[("Open", None)] == "未办结"
    assert text[("Privacy notice", None)] == "隐私政策"
    assert text[("Overdue", None)] == "已超期"
    assert "已核实" in text[("Only verified residents of this community can report issues here.", None)]


def test_owner_help_texts_name_the_words_the_importer_accepts():
    from portal.places.importer import parse_owners
    helps = [(msgid, strings[0]) for msgid, _c, strings in _entries() if "name:phone" in msgid]
    assert len(helps) >= 4 and all("姓名:手机号" in text for _msgid, text in helps)
    assert all("“开发商”" in text for msgid, text in helps if "developer" in msgid)
    # what the help texts tell people to write is what the register importer takes
    assert parse_owners("开发商") == (True, ())
    assert parse_owners("王芳:13900001234; 李强：13900005678")[1][1].phone == "13900005678"


# --- the portal's default language -------------------------------------------------------------------------------

def test_a_browser_that_states_no_language_gets_the_portals_default(client, app, monkeypatch):
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)  # the library default, unless set
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", "zh")
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN"' in page and "首页" in page
    # a language the portal does not speak is no statement either
    assert '<html lang="zh-CN"' in client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    # a browser that states English, and a remembered choice, come first
    assert '<html lang="en"' in client.get("/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)


def test_an_unknown_default_language_falls_back_to_the_library_default(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", "fr")
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)


def test_default_language_comes_from_the_environment_and_the_suite_stays_english(monkeypatch):
    from portal.config import Config, TestConfig
    monkeypatch.setenv("DEFAULT_LANGUAGE", "zh")
    config = Config()
    assert (config.DEFAULT_LANGUAGE, config.BABEL_DEFAULT_LOCALE) == ("zh", "zh")
    assert (TestConfig().DEFAULT_LANGUAGE, TestConfig().BABEL_DEFAULT_LOCALE) == ("en", "en")
    monkeypatch.delenv("DEFAULT_LANGUAGE")
    assert Config().DEFAULT_LANGUAGE == "en"
    assert "DEFAULT_LANGUAGE ?= zh" in (ROOT / "Makefile").read_text()
