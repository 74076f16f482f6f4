"""The e-mail settings page: a radio group per event group, for every signed-in person, their own only."""
import pytest

from portal.auth.models import User
from portal.extensions import db
from portal.notifications import preferences
from portal.notifications.models import NotificationPreference
from tests.csrf import csrf_token
from tests.factories import (
    gen_committee_member,
    gen_community,
    gen_membership,
    gen_organization,
    gen_residency,
    gen_user,
)

PAGE = "/notifications/preferences"


def stored(user) -> dict:
    return dict(db.session.execute(db.select(NotificationPreference.group, NotificationPreference.mode)
                                   .where(NotificationPreference.user_id == user.id)).all())


def all_choices(**changes) -> dict:
    choices = {group: preferences.default_mode(group) for group in preferences.changeable_groups()}
    choices.update(changes)
    return choices


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(PAGE, data={}).status_code in (302, 400)


def resident():
    person = gen_user()
    gen_residency(person, gen_community())
    return person


def committee_member():
    return gen_committee_member(gen_community())


def official():
    person = gen_user()
    gen_membership(person, gen_organization("subdistrict_office"))
    return person


def admin():
    return gen_user(is_admin=True)


@pytest.mark.parametrize("make_person", [resident, committee_member, official, admin])
def test_everyone_signed_in_sees_their_choices_with_labels_and_saves_them(client, auth, make_person):
    person = make_person()
    db.session.commit()
    auth.login(person)
    page = client.get(PAGE).get_data(as_text=True)
    assert "<legend>Proposals and discussions</legend>" in page
    assert '<input checked id="proposals-1" name="proposals" type="radio" value="digest">' in page
    assert '<input checked id="my_issues-0" name="my_issues" type="radio" value="now">' in page
    assert '<label class="check" for="my_issues-0">' in page
    assert "My account and residence" in page and 'name="account"' not in page
    response = client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE),
                                       **all_choices(proposals="off", meetings="now", votes="digest")})
    assert response.status_code == 302
    assert stored(person) == {"proposals": "off", "meetings": "now", "votes": "digest"}
    page = client.get(PAGE).get_data(as_text=True)
    assert "Your e-mail settings are saved." in page
    assert '<input checked id="proposals-2" name="proposals" type="radio" value="off">' in page
    assert '<input checked id="votes-1" name="votes" type="radio" value="digest">' in page


def test_the_defaults_apply_until_a_person_chooses():
    person = gen_user()
    modes = preferences.modes_of([person.id])[person.id]
    assert modes["account"] == "now"
    assert modes["my_issues"] == modes["handling"] == modes["votes"] == "now"
    assert modes["proposals"] == modes["notices"] == "digest"


def test_a_choice_that_is_not_offered_is_refused_and_nothing_is_saved(client, auth):
    person = gen_user()
    db.session.commit()
    auth.login(person)
    response = client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE),
                                       **all_choices(proposals="hourly", meetings="off")})
    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert stored(person) == {}


def test_the_account_group_cannot_be_turned_off(client, auth):
    person = gen_user()
    db.session.commit()
    auth.login(person)
    client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE), **all_choices(), "account": "off"})
    assert stored(person) == {}
    with pytest.raises(preferences.DomainError):
        preferences.set_modes(person, person, {"account": "off"})


def test_without_a_csrf_token_nothing_changes(client, auth):
    person = gen_user()
    db.session.commit()
    auth.login(person)
    response = client.post(PAGE, data=all_choices(proposals="off"))
    assert response.status_code == 400 and "Your form expired" in response.get_data(as_text=True)
    assert stored(person) == {}


def test_nobody_changes_someone_elses_settings():
    me, other = gen_user(), gen_user()
    with pytest.raises(preferences.NotAllowed):
        preferences.set_modes(me, other, {"proposals": "off"})


def test_people_without_an_address_are_told_mail_is_in_app_only(client, auth):
    person = gen_user(phone="13900003333", email=None)
    db.session.commit()
    auth.login(person)
    assert "has no e-mail address" in client.get(PAGE).get_data(as_text=True)


def test_the_account_page_links_to_the_settings(client, auth):
    person = gen_user()
    db.session.commit()
    auth.login(person)
    assert 'href="/notifications/preferences"' in client.get("/account").get_data(as_text=True)
    assert db.session.get(User, person.id) is not None
