"""Names refuse what makes one name look like another (issue #18): text-direction overrides, embeddings and
isolates, and invisible characters. One validator, portal.forms.PlainName, on every name field of every form,
applied by form_view's input guard whether or not the view runs the form's validators."""
import pytest
from wtforms import StringField, TextAreaField

from portal.extensions import db
from portal.forms import NAME_TRICK, PlainName
from portal.places.models import SubDistrict
from tests.csrf import csrf_token
from tests.factories import gen_user
from tests.test_form_input import portal_form_classes

TRICKS = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
          "\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]

# Fields whose name says they hold a name (of a person, an organization, a place, a category) or names.
NAME_FIELDS = ("name", "owners")


@pytest.mark.parametrize("trick", TRICKS, ids=[f"U+{ord(t):04X}" for t in TRICKS])
def test_a_name_with_a_direction_control_or_an_invisible_character_is_refused(trick):
    assert PlainName().refuses(f"王{trick}建国") == str(NAME_TRICK)
    assert PlainName().refuses(f"{trick}Admin") == str(NAME_TRICK)


@pytest.mark.parametrize("name", ["王建国", "Wang Jianguo", "望京街道 (西区)", "O'Brien-Smith", "李 娜\n张 伟",
                                  "مريم", "עברית", "", None])
def test_ordinary_names_in_any_script_pass(name):
    assert PlainName().refuses(name) is None


def _name_fields():
    for form_class in sorted(portal_form_classes(), key=lambda c: (c.__module__, c.__name__)):
        for field_name, unbound in vars(form_class).items():
            if getattr(unbound, "field_class", None) in (StringField, TextAreaField) and \
                    field_name.endswith(NAME_FIELDS):
                yield f"{form_class.__module__}.{form_class.__name__}.{field_name}", unbound


def test_every_name_field_of_every_form_carries_the_validator():
    fields = list(_name_fields())
    assert len(fields) >= 10  # the test finds them
    missing = [label for label, unbound in fields
               if not any(isinstance(v, PlainName) for v in unbound.kwargs.get("validators") or ())]
    assert not missing, "name fields without portal.forms.PlainName: " + ", ".join(missing)


@pytest.mark.parametrize("trick", ["\u202e", "\u200b"])
def test_a_place_name_with_a_trick_comes_back_on_the_form_and_is_not_written(client, auth, trick):
    admin = gen_user(is_admin=True)
    db.session.commit()
    auth.login(admin)
    token = csrf_token(client, "/admin/places/sub-districts/new")
    response = client.post("/admin/places/sub-districts/new",
                           data={"csrf_token": token, "name": f"望京{trick}街道", "slug": "wangjing"})
    assert response.status_code == 200
    assert "invisible characters" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(SubDistrict.id))) == 0


def test_a_display_name_with_an_override_is_refused_and_the_name_kept(client, auth):
    person = gen_user(display_name="Resident R")
    db.session.commit()
    auth.login(person)
    token = csrf_token(client, "/account")
    response = client.post("/account", data={"csrf_token": token, "display_name": "Resident\u202eR nimdA",
                                             "locale": "en"})
    assert response.status_code in (200, 400)
    assert "invisible characters" in response.get_data(as_text=True)
    db.session.refresh(person)
    assert person.display_name == "Resident R"
