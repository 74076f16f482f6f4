"""What every signed-in request costs before its own content: the person, their memberships and the header's
figures, each read once. A change that adds a statement to every page shows here."""
from datetime import timedelta

from flask import g

from portal.auth import roles, services
from portal.clock import local_today
from portal.extensions import db
from portal.places.models import Residency
from tests.factories import (
    gen_committee_member,
    gen_community,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_sub_district,
    gen_user,
)
from tests.queries import count_queries, recorded_statements


def _people():
    community = gen_community()
    resident = gen_user()
    gen_residency(resident, community)
    member = gen_committee_member(community)
    gen_residency(member, community)
    official = gen_user()
    gen_membership(official, gen_organization("subdistrict_office", sub_district=community.sub_district))
    admin = gen_user(is_admin=True)
    db.session.commit()
    return community, {"resident": resident, "member": member, "official": official, "admin": admin}


def _session_id(user) -> str:
    """What a cookie of a browser that signed in as `user` carries (a session of its own)."""
    services.open_session(user)
    db.session.commit()
    return user.get_id()


# The account page: the person with their memberships, open residencies and unread count (one statement), for
# those who see the moderation link its queue count, and the page's own e-mail delivery state. Nothing else.
ACCOUNT_STATEMENTS = {"resident": 2, "member": 3, "official": 2, "admin": 3}


def test_the_account_page_costs_a_fixed_few_statements_for_each_role(client, auth):
    _community, people = _people()
    for role, person in people.items():
        auth.login(person)
        with recorded_statements() as statements:
            assert client.get("/account").status_code == 200
        assert len(statements) == ACCOUNT_STATEMENTS[role], (role, statements)
        auth.logout()


def test_a_visitor_on_the_home_page_sends_no_statement(client):
    _people()
    assert count_queries(client, "/") == 0


def test_the_polled_badge_is_the_person_with_the_count(client, auth):
    _community, people = _people()
    auth.login(people["resident"])
    assert count_queries(client, "/notifications/unread-count") == 1


def test_the_badge_counts_again_after_a_write_to_notifications_in_the_same_request(app, auth, client):
    """The count read with the person at the start of the request is forgotten once the request writes
    notifications (marking read, or a new one for the person), so a page rendered afterwards is right."""
    from flask_login import login_user

    from portal.outbox import Notification, mark_read
    from portal.web import unread_notifications
    _community, people = _people()
    resident = people["resident"]
    db.session.add_all([Notification(recipient_id=resident.id, event="password_changed", payload={})
                        for _ in range(2)])
    db.session.commit()
    auth.login(resident)
    with app.test_request_context():
        login_user(app.login_manager._user_callback(_session_id(resident)))
        assert g.unread_notifications_at_start == 2 and unread_notifications() == 2
        mark_read(resident)
        assert unread_notifications() == 0
        db.session.add(Notification(recipient_id=resident.id, event="password_changed", payload={}))
        db.session.flush()
        assert "unread_notifications_at_start" not in g and unread_notifications() == 1
        db.session.rollback()


def test_an_officials_home_page_does_not_grow_with_the_communities_of_their_sub_district(client, auth):
    community, people = _people()
    auth.login(people["official"])
    before = count_queries(client, "/")
    for _ in range(4):
        gen_community(sub_district=community.sub_district)
    db.session.commit()
    assert count_queries(client, "/") == before


def test_the_loaded_person_carries_exactly_their_current_memberships(app, client, auth):
    community, people = _people()
    member = people["member"]
    ended = gen_organization("property_company", community=community)
    gen_membership(member, ended, start=local_today() - timedelta(days=30), end=local_today() - timedelta(days=1))
    later = gen_organization("residents_committee", community=gen_community())
    gen_membership(member, later, start=local_today() + timedelta(days=1))
    db.session.commit()
    auth.login(member)
    with app.test_request_context("/"):
        from flask_login import login_user
        loaded = app.login_manager._user_callback(_session_id(member))
        login_user(loaded)
        from_loader = sorted(m.id for m in roles.memberships(loaded))
        g.pop("current_memberships")
        assert from_loader == sorted(m.id for m in roles.memberships(loaded))
        assert len(from_loader) == 1


def test_an_inactive_account_is_not_loaded(app):
    person = gen_user()
    person.is_active_account = False
    db.session.commit()
    with app.test_request_context("/"):
        assert app.login_manager._user_callback(_session_id(person)) is None


def test_rules_see_a_residency_change_made_earlier_in_the_same_request(app):
    community = gen_community()
    person = gen_user()
    residency = gen_residency(person, community, status="pending")
    db.session.commit()
    with app.test_request_context("/"):
        assert not roles.is_verified_resident(person, community)
        residency.status = "verified"  # not flushed yet: the next rule must not answer from what it read
        assert roles.is_verified_resident(person, community)
        db.session.rollback()
        assert not roles.is_verified_resident(person, community)
        db.session.add(Residency(user=person, community=gen_community(), status="verified",
                                 claimed_at=residency.claimed_at))
        assert len(roles.open_residency_community_ids(person.id)) == 2


def test_rules_see_a_membership_added_earlier_in_the_same_request(app):
    community = gen_community()
    person = gen_user()
    db.session.commit()
    with app.test_request_context("/"):
        assert not roles.is_committee_member(person, community)
        gen_membership(person, gen_organization("residents_committee", community=community))
        assert roles.is_committee_member(person, community)


def test_a_residents_rules_read_their_residencies_once_per_request(app):
    communities = [gen_community(sub_district=gen_sub_district()) for _ in range(5)]
    person = gen_user()
    for community in communities[:3]:
        gen_residency(person, community)
    db.session.commit()
    [c.id for c in communities], person.id  # loaded again after the commit, before counting
    with app.test_request_context("/"):
        with recorded_statements() as statements:
            verified = [roles.is_verified_resident(person, c) for c in communities]
        assert verified == [True, True, True, False, False]
        assert len(statements) == 1
