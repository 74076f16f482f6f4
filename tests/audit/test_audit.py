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
    assert "account.preferences" in page and "places.community_created" not in page


def test_audit_entries_are_never_edited_by_services():
    # The log is append-only: the only writer is `record`, which adds rows.
    import inspect

    from portal.audit import services
    source = inspect.getsource(services)
    assert "delete(" not in source and "update(" not in source
    assert db.session.query(AuditEntry).count() == 0


def test_the_log_pages_and_keeps_the_filter_on_the_next_page(client, auth):
    admin = gen_user(is_admin=True)
    for n in range(55):
        record(admin, "account.preferences", admin, n=n)
    db.session.commit()
    auth.login(admin)
    page = client.get("/admin/audit/?action=account.").get_data(as_text=True)
    assert "Page 1 of 2" in page
    assert 'href="/admin/audit/?page=2&amp;action=account.' in page or \
        'href="/admin/audit/?action=account.&amp;page=2' in page
