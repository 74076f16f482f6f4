import html
import re

from portal.audit.models import AuditEntry
from portal.audit.services import entries_about, record
from portal.extensions import db
from tests.factories import gen_user


def test_record_keeps_actor_on_behalf_object_and_details():
    member, elder = gen_user(), gen_user()
    entry = record(member, "resident.viewed", elder, on_behalf_of=elder, subject_user=elder, note="desk")
    db.session.flush()
    assert entry.actor_id == member.id and entry.on_behalf_of_id == elder.id
    assert entry.object_type == "user" and entry.object_id == elder.id
    assert entry.details == {"note": "desk"}
    assert entry in entries_about(elder)


def test_admin_reads_and_filters_the_log_others_may_not(client, auth):
    admin, person = gen_user(is_admin=True), gen_user()
    record(admin, "places.community_created", None, name="A")
    record(person, "account.preferences", person, subject_user=person, locale="zh")
    db.session.commit()
    auth.login(person)
    assert client.get("/admin/audit/").status_code == 403
    auth.logout()
    auth.login(admin)
    page = client.get("/admin/audit/?action=account.").get_data(as_text=True)
    assert "changed the account preferences" in page and "places.community_created" not in page
    # the code stays, small, as the link that filters by it
    assert 'href="/admin/audit/?action=account.preferences"' in page


def test_the_log_reads_like_a_log_in_each_language(client, auth):
    from tests.factories import gen_organization
    admin = gen_user(is_admin=True, display_name="Admin Li")
    org = gen_organization(name="花家地社区居委会")
    record(admin, "organization.created", org, reason="居民要求 \"急\"", personal=True, ids=[3, 4],
           nested={"楼": "3号楼"})
    record(admin, "issue.teleported", None)
    record(None, "gadget.spun_up", None)
    db.session.commit()
    auth.login(admin)
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "created an organization" in page
    assert f'href="/o/{org.id}"' in page and f"Organization #{org.id}" in page
    # details as label: value, never JSON with escapes
    assert "<dt>Reason</dt><dd>居民要求 &#34;急&#34;</dd>" in page or "<dt>Reason</dt><dd>居民要求 &quot;急&quot;</dd>" in page  # noqa: E501
    assert "<dt>Personal data</dt><dd>yes</dd>" in page and "<dt>Ids</dt><dd>3, 4</dd>" in page
    assert "3号楼" in page and "\\u" not in page and '{&#34;reason' not in page
    # codes nobody has named yet read as words, with the object's noun when it is known
    assert "Issue: teleported" in page and "Gadget: spun up" in page
    # times in the one format, no seconds, no zone name
    assert "UTC" not in page and "CST" not in page
    zh = client.get("/admin/audit/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "创建了组织" in zh and "<dt>原因</dt>" in zh and "organization.created</code>" in zh
    # nothing scrolls sideways: no wide table; any scroll box would be keyboard-reachable and labelled
    assert "<table" not in page
    for box in re.findall(r'<div class="[^"]*(?:wrap|scroll)[^"]*"[^>]*>', page):
        assert 'tabindex="0"' in box and ("aria-label" in box or "aria-labelledby" in box), box


def test_audit_entries_are_never_edited_by_services():
    # The log is append-only: the only writer is `record`, which adds rows.
    import inspect

    from portal.audit import services
    source = inspect.getsource(services)
    assert "delete(" not in source and "update(" not in source
    assert db.session.query(AuditEntry).count() == 0


def test_the_log_pages_by_keyset_and_keeps_the_filter(client, auth):
    admin = gen_user(is_admin=True)
    entries = [record(admin, "account.preferences", admin, n=n) for n in range(55)]
    record(admin, "issue.reported", None)  # filtered out
    db.session.commit()
    auth.login(admin)
    ids = sorted(db.session.scalars(db.select(AuditEntry.id).where(AuditEntry.action.startswith("account."))),
                 reverse=True)  # the 55, the admin's registration and sign-in
    assert len(ids) == 57
    page = client.get("/admin/audit/?action=account.").get_data(as_text=True)
    assert page.count('class="audit-entry"') == 50
    older = re.search(r'href="(/admin/audit/\?[^"]*before=(\d+)[^"]*)"', page)
    assert older and int(older.group(2)) == ids[49] and "action=account." in older.group(1)
    assert 'rel="prev"' not in page  # the newest page has no "newer" link
    rest = client.get(html.unescape(older.group(1))).get_data(as_text=True)
    assert rest.count('class="audit-entry"') == 7 and 'rel="next"' not in rest
    newer = re.search(r'href="(/admin/audit/\?[^"]*after=(\d+)[^"]*)"', rest)
    assert newer and int(newer.group(2)) == ids[50] and "action=account." in newer.group(1)
    back = client.get(html.unescape(newer.group(1))).get_data(as_text=True)
    assert back.count('class="audit-entry"') == 50 and "<dt>N</dt><dd>54</dd>" in back
    assert entries[0].id in ids
    assert client.get("/admin/audit/?before=99999999999999&after=x&actor=9999999999999").status_code == 200


def test_the_log_page_costs_the_same_for_more_entries(client, auth):
    from tests.factories import gen_organization
    from tests.queries import count_queries
    admin = gen_user(is_admin=True)
    for n in range(3):
        record(gen_user(), "organization.created", gen_organization(), on_behalf_of=gen_user(), n=n)
    db.session.commit()
    auth.login(admin)
    few = count_queries(client, "/admin/audit/")
    for n in range(60):
        record(gen_user(), "organization.created", gen_organization(), on_behalf_of=gen_user(), n=n)
    db.session.commit()
    assert count_queries(client, "/admin/audit/") == few
