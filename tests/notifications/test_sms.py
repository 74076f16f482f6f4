"""Text messages through each provider's local server (tests/notifications/sms_servers.py), which checks the
request's signature as the provider documents it: accepted and refused signatures, rate limits, invalid
numbers, a provider down for a while (nothing lost, nothing sent twice), caps, quiet hours, which
notifications become text messages, and the person's choices."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.extensions import db
from portal.notifications import services, sms
from portal.notifications.sender import MAX_REJECTIONS
from portal.notifications.sms_models import SmsMessage, SmsPreference
from portal.notifications.sms_providers import AliyunSms, TencentSms, TextMessage
from portal.outbox import instant
from tests.factories import gen_user
from tests.issues.conftest import world  # noqa: F401  (fixture)
from tests.notifications.sms_servers import AliyunServer, TencentServer

DAYTIME = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
NIGHT = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
KEY_ID, SECRET = "LTAI5tYishiTestKey", "s3cret/with+odd=chars~*"
ALIYUN_TEMPLATES = {"issue_resolved": "SMS_465000001", "ballot_opened": "SMS_465000002",
                    "ballot_closing": "SMS_465000003", "code": "SMS_465000004"}
TENCENT_TEMPLATES = {"issue_resolved": "2100001", "ballot_opened": "2100002", "ballot_closing": "2100003",
                     "code": "2100004"}


def configure(app, server, provider, secret=SECRET):
    templates = ALIYUN_TEMPLATES if provider == "aliyun" else TENCENT_TEMPLATES
    app.config.update(SMS_PROVIDER=provider, SMS_ACCESS_KEY_ID=KEY_ID, SMS_ACCESS_KEY_SECRET=secret,
                      SMS_SIGN_NAME="议事", SMS_SDK_APP_ID="1400787878", SMS_ENDPOINT=server.endpoint,
                      SMS_REGION=None, SMS_TEMPLATES=dict(templates), SMS_TIMEOUT=5)


def start_server(provider):
    templates = ALIYUN_TEMPLATES if provider == "aliyun" else TENCENT_TEMPLATES
    server_class = AliyunServer if provider == "aliyun" else TencentServer
    return server_class(KEY_ID, SECRET, {code: sms.TEMPLATE_PARAMS[group] for group, code in templates.items()})


SMS_KEYS = ("SMS_PROVIDER", "SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME", "SMS_SDK_APP_ID",
            "SMS_ENDPOINT", "SMS_REGION", "SMS_TEMPLATES", "SMS_TIMEOUT", "SMS_DAILY_CAP", "SMS_MONTHLY_CAP")


@pytest.fixture(params=["aliyun", "tencent"])
def provider(request, app):
    saved = {key: app.config.get(key) for key in SMS_KEYS}
    server = start_server(request.param)
    server.kind = request.param
    configure(app, server, request.param)
    yield server
    app.config.update(saved)
    try:
        server.stop()
    except OSError:
        pass


def opened(person, title="Install a lift in building 3", closes=DAYTIME + timedelta(days=3)):
    return services.notify([person], "votes.opened", None, title=title, slug="x", ballot_id=1,
                           closes=instant(closes), zone="Asia/Shanghai")


def commit(at=DAYTIME):
    """Commit, and date the text messages just written a minute before `at` (the drains below run at fixed
    instants, the rows are written now)."""
    db.session.commit()
    db.session.execute(db.update(SmsMessage).where(SmsMessage.sent_at.is_(None), SmsMessage.attempts == 0)
                       .values(created_at=at - timedelta(minutes=1)))
    db.session.commit()


def rows():
    return db.session.scalars(db.select(SmsMessage).order_by(SmsMessage.id)).all()


# --- the signatures, against each provider's own check -------------------------------------------------------------

def test_a_signed_message_is_accepted_and_recorded_once(provider):
    person = gen_user(phone="13800000001")
    opened(person)
    commit()
    assert [r.status for r in rows()] == ["pending"]

    result = sms.drain(DAYTIME)

    assert result.sent == 1
    assert len(provider.accepted) == 1 and provider.refusals == []
    got = provider.accepted[0]
    assert got["phone"] == "13800000001" and got["sign_name"] == "议事"
    if provider.kind == "aliyun":
        assert got["template"] == "SMS_465000002"
        assert got["params"] == {"title": "Install a lift in b…", "closes": "12-10 11:00"}
    else:
        assert got["template"] == "2100002" and got["app_id"] == "1400787878"
        assert got["params"] == ["Install a lift in b…", "12-10 11:00"]
    row = rows()[0]
    assert (row.status, row.attempts, row.phone, row.provider_id) == ("sent", 1, "13800000001", got["id"])
    assert sms.drain(DAYTIME + timedelta(minutes=5)).sent == 0
    assert len(provider.accepted) == 1


def test_a_wrong_secret_is_refused_with_the_providers_error_and_the_message_waits(app, provider):
    configure(app, provider, provider.kind, secret="not-the-secret")
    opened(gen_user(phone="13800000002"))
    commit()

    result = sms.drain(DAYTIME)

    assert result.sent == 0 and result.retrying == 1
    assert provider.accepted == []
    refusal = provider.refusals[0]
    if provider.kind == "aliyun":
        assert refusal["Code"] == "SignatureDoesNotMatch"
        assert refusal["Message"].startswith("Specified signature is not matched with our calculation.")
    else:
        assert refusal["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    row = rows()[0]
    assert row.status == "pending" and row.rejections == 0 and row.next_attempt_at == DAYTIME + timedelta(minutes=1)
    assert "Signature" in row.last_error

    configure(app, provider, provider.kind)  # the right key again: the waiting message goes, once
    assert sms.drain(DAYTIME + timedelta(minutes=1)).sent == 1
    assert len(provider.accepted) == 1


def test_signing_matches_the_providers_documented_examples():
    # Alibaba's RPC signature, recomputed by hand from its documented steps for fixed parameters.
    import base64
    import hashlib
    import hmac
    params = {"AccessKeyId": "testid", "Action": "SendSms", "Format": "JSON", "PhoneNumbers": "13800000000",
              "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试", "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
              "TemplateCode": "SMS_154950909", "TemplateParam": '{"code":"1234"}',
              "Timestamp": "2019-01-08T08:22:10Z", "Version": "2017-05-25"}
    from portal.notifications.sms_providers import aliyun_signature, aliyun_string_to_sign
    to_sign = aliyun_string_to_sign("GET", params)
    assert to_sign.startswith("GET&%2F&AccessKeyId%3Dtestid%26Action%3DSendSms%26Format%3DJSON%26")
    assert "SignName%3D%25E9%2598%25BF" in to_sign  # UTF-8, percent-encoded twice
    assert "TemplateParam%3D%257B%2522code%2522%253A%25221234%2522%257D" in to_sign
    assert aliyun_signature("GET", params, "testsecret") == base64.b64encode(
        hmac.new(b"testsecret&", to_sign.encode(), hashlib.sha1).digest()).decode()
    # Tencent's TC3 example (API 3.0 signature v3 document, CVM DescribeInstances): the documented body hash,
    # and the signature as the test server recomputes it on its own (the document masks its SecretKey).
    from portal.notifications.sms_providers import tencent_canonical_request, tencent_signature
    from tests.notifications.sms_servers import tc3_signature
    body = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    canonical = tencent_canonical_request("POST", {"content-type": "application/json; charset=utf-8",
                                                   "host": "cvm.tencentcloudapi.com",
                                                   "x-tc-action": "DescribeInstances"},
                                          ["content-type", "host", "x-tc-action"], body)
    assert canonical == ("POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n"
                         "x-tc-action:describeinstances\n\ncontent-type;host;x-tc-action\n"
                         "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    assert tencent_signature("Gu5t9xGARNpq86cd98joQYCN3", 1551113065, canonical, service="cvm") == \
        tc3_signature("Gu5t9xGARNpq86cd98joQYCN3", "2019-02-25", "cvm", "1551113065", canonical)


# --- provider errors -----------------------------------------------------------------------------------------------

def test_an_invalid_number_is_refused_for_good_after_five_tries(provider):
    person = gen_user(phone="13800000003")
    opened(person)
    commit()
    # The provider refuses what our side cannot see: say the number is not a mobile one any more.
    channel = sms.channel_from_config()
    original = channel.send

    def send(message):
        return original(TextMessage("1380000000", message.template, message.params))
    channel.send = send
    now = DAYTIME
    for attempt in range(1, MAX_REJECTIONS + 1):
        result = sms.drain(now, channel=channel)
        row = rows()[0]
        assert row.rejections == attempt
        now = row.next_attempt_at or now
    assert result.failed == 1
    row = rows()[0]
    assert row.status == "failed" and row.next_attempt_at is None
    code = "isv.MOBILE_NUMBER_ILLEGAL" if provider.kind == "aliyun" else "InvalidParameterValue.IncorrectPhoneNumber"
    assert row.last_error.startswith(code)
    assert provider.accepted == []


def test_the_providers_rate_limit_is_a_temporary_refusal(provider):
    provider.per_minute = 1
    person = gen_user(phone="13800000004")
    opened(person, title="First")
    opened(person, title="Second")
    commit()

    result = sms.drain(DAYTIME)

    assert result.sent == 1 and result.retrying == 1
    second = rows()[1]
    assert second.status == "pending" and second.rejections == 0
    code = "isv.BUSINESS_LIMIT_CONTROL" if provider.kind == "aliyun" else "LimitExceeded.PhoneNumberThirtySecondLimit"
    assert second.last_error.startswith(code)
    provider.per_minute = 10
    assert sms.drain(DAYTIME + timedelta(minutes=1)).sent == 1
    assert [m["params"] for m in provider.accepted] == (
        [{"title": "First", "closes": "12-10 11:00"}, {"title": "Second", "closes": "12-10 11:00"}]
        if provider.kind == "aliyun" else [["First", "12-10 11:00"], ["Second", "12-10 11:00"]])


def test_provider_down_for_a_while_loses_nothing_and_sends_nothing_twice(provider):
    people = [gen_user(phone=f"1380000010{n}") for n in range(6)]
    for person in people:
        opened(person)
    commit()
    provider.go_down()

    first = sms.drain(DAYTIME)
    assert first.sent == 0 and first.retrying == 6
    assert {r.status for r in rows()} == {"pending"}
    assert all(r.rejections == 0 and r.attempts == 1 for r in rows())
    assert "cannot reach" in rows()[0].last_error
    # Still down at the next try.
    assert sms.drain(DAYTIME + timedelta(minutes=1)).retrying == 6

    provider.come_back()
    assert sms.drain(DAYTIME + timedelta(minutes=2)).sent == 0  # their backoff (2 minutes) has not passed
    assert sms.drain(DAYTIME + timedelta(minutes=3)).sent == 6
    assert sms.drain(DAYTIME + timedelta(minutes=30)).sent == 0
    assert sorted(m["phone"] for m in provider.accepted) == sorted(p.phone for p in people)
    assert {r.status for r in rows()} == {"sent"}


def test_claimed_rows_are_not_taken_by_a_second_sender(provider):
    opened(gen_user(phone="13800000005"))
    commit()
    assert sms.claim(DAYTIME)  # another sender holds the lease
    assert sms.drain(DAYTIME).sent == 0
    assert sms.drain(DAYTIME + timedelta(minutes=11)).sent == 1  # its lease ran out: sent, once
    assert len(provider.accepted) == 1


# --- caps and quiet hours ------------------------------------------------------------------------------------------

def test_daily_cap_per_person_and_monthly_cap_per_portal(app, provider):
    app.config.update(SMS_DAILY_CAP=2, SMS_MONTHLY_CAP=3)
    busy, other = gen_user(phone="13800000006"), gen_user(phone="13800000007")
    for n in range(3):
        opened(busy, title=f"Ballot {n}")
    commit()
    result = sms.drain(DAYTIME)
    assert (result.sent, result.capped) == (2, 1)
    assert [r.status for r in rows()] == ["sent", "sent", "capped"]

    # The next local day the person may get texts again, until the portal's month runs out.
    opened(busy, title="Next day")
    opened(other, title="For other")
    opened(other, title="Over the month")
    commit(DAYTIME + timedelta(days=1))
    result = sms.drain(DAYTIME + timedelta(days=1))
    assert (result.sent, result.capped) == (1, 2)
    assert len(provider.accepted) == 3
    counts = sms.counts(DAYTIME + timedelta(days=1))
    assert counts["month"] == 3 and counts["monthly_cap"] == 3 and counts["by_status"]["capped"] == 3


def test_quiet_hours_hold_a_message_until_morning_and_an_urgent_one_goes(provider):
    person = gen_user(phone="13800000008")
    opened(person)
    services.notify([person], "votes.opened", None, title="Urgent", closes=instant(NIGHT + timedelta(hours=2)),
                    zone="Asia/Shanghai", urgent=True)
    commit(NIGHT)

    result = sms.drain(NIGHT)

    assert (result.sent, result.held) == (1, 1)
    held = rows()[0]
    assert held.status == "pending" and held.next_attempt_at == datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    assert sms.drain(NIGHT + timedelta(hours=1)).sent == 0
    assert sms.drain(datetime(2026, 12, 7, 23, 0, tzinfo=UTC)).sent == 1
    assert len(provider.accepted) == 2


def test_a_message_that_could_not_go_within_a_day_expires(provider):
    opened(gen_user(phone="13800000009"))
    commit()
    row = rows()[0]
    row.created_at = DAYTIME - timedelta(days=1, minutes=1)
    db.session.commit()
    assert sms.drain(DAYTIME).expired == 1
    assert rows()[0].status == "expired" and provider.accepted == []


# --- which notifications become text messages ----------------------------------------------------------------------

def test_nothing_is_written_without_configuration(app):
    assert not sms.configured()
    opened(gen_user(phone="13800000011"))
    commit()
    assert rows() == []
    assert sms.drain(DAYTIME).sent == 0


def test_only_people_with_a_number_and_the_group_on_get_rows(provider):
    mobile, mail_only, turned_off = (gen_user(phone="13800000012"), gen_user(email="m@example.org"),
                                     gen_user(phone="13800000013"))
    db.session.add(SmsPreference(user_id=turned_off.id, group="ballot_opened", enabled=False))
    commit()
    for person in (mobile, mail_only, turned_off):
        opened(person)
    services.notify([mobile], "votes.closed", None, title="Not by SMS", slug="x", ballot_id=1)
    commit()
    assert [(r.recipient_id, r.group) for r in rows()] == [(mobile.id, "ballot_opened")]


def test_a_ballots_electorate_written_in_one_insert_gets_its_rows_in_the_same_transaction(provider):
    from sqlalchemy import select

    from portal.auth.models import User
    from portal.votes.services._common import _notify_all
    voters = [gen_user(phone=f"1380000020{n}") for n in range(3)]
    commit()

    class Ballot:
        __tablename__ = "ballot"
        id = 41
    _notify_all(select(User.id.label("user_id")).where(User.id.in_([v.id for v in voters])), "votes.closing_soon",
                Ballot(), {"title": "Parking rules", "closes": instant(DAYTIME + timedelta(hours=20)),
                           "zone": "Asia/Shanghai"}, DAYTIME)
    db.session.rollback()
    assert rows() == []  # rolled back together with the notifications

    _notify_all(select(User.id.label("user_id")).where(User.id.in_([v.id for v in voters])), "votes.closing_soon",
                Ballot(), {"title": "Parking rules", "closes": instant(DAYTIME + timedelta(hours=20)),
                           "zone": "Asia/Shanghai"}, DAYTIME)
    commit()
    assert sorted(r.recipient_id for r in rows()) == sorted(v.id for v in voters)
    assert {r.group for r in rows()} == {"ballot_closing"}
    assert sms.drain(DAYTIME).sent == 3


def test_issue_resolved_goes_to_its_reporter_only(provider, world):
    from tests.issues import gen_issue
    issue = gen_issue(world)
    db.session.flush()
    services.notify([world.reporter, world.neighbour], "issue_resolved", issue, title=issue.title,
                    slug=world.x.slug, issue_id=issue.id)
    commit()
    assert [(r.recipient_id, r.group) for r in rows()] == [(world.reporter.id, "issue_resolved")]
    assert sms.drain(DAYTIME).sent == 1
    assert provider.accepted[0]["params"] in ({"title": "Lift stuck on floor…"}, ["Lift stuck on floor…"])


def test_unreachable_adapter_addresses_are_reported_as_unreachable():
    for channel in (AliyunSms("id", "secret", "议事", endpoint="http://127.0.0.1:9/", timeout=2),
                    TencentSms("id", "secret", "议事", "1400", endpoint="http://127.0.0.1:9/", timeout=2)):
        with pytest.raises(Exception) as error:
            channel.send(TextMessage("13800000000", "T1", [("code", "123456")]))
        assert error.value.unreachable and not error.value.permanent


def test_the_worker_job_sends_text_messages_too(provider):
    from portal.worker import drain_job
    services.notify([gen_user(phone="13800000014")], "votes.opened", None, title="Now", zone="Asia/Shanghai",
                    closes=instant(datetime.now(UTC) + timedelta(hours=3)), urgent=True)  # whatever the hour
    commit(datetime.now(UTC))
    assert drain_job()["sms"] == 1
    assert len(provider.accepted) == 1 and rows()[0].status == "sent"
