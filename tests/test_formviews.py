"""form_view, the one way a form view runs: the input guard, the form's validators, the service call, then
commit-flash-redirect, or the form again with the person's typing and the reason (nothing written), or 403."""
import pytest
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from werkzeug.exceptions import BadRequest, Forbidden
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired

from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.formviews import DB_INT_MAX, flash_back, form_view, posted_id
from portal.places.models import SubDistrict


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField(validators=[DataRequired()])
    slug = StringField()
    hours = IntegerField()
    chosen = SelectField(coerce=int, validate_choice=False, choices=[])
    several = SelectMultipleField(coerce=int, validate_choice=False, choices=[])


def sub_district_count() -> int:
    return db.session.scalar(db.select(db.func.count(SubDistrict.id)))


def create(form):
    """A service call that writes a sub-district from the form."""
    sub_district = SubDistrict(name=form.name.data, slug=form.slug.data or "s")
    db.session.add(sub_district)
    db.session.flush()
    return sub_district


def refuse_after_writing(form, error):
    def call():
        create(form)
        raise error
    return call


def page(form):
    return lambda: f"PAGE {form.name.data} | {form.name.errors} | {form.form_errors}"


def partial(form):
    return lambda: f"PARTIAL {form.name.data} | {form.name.errors}"


def answer(app, data=None, *, method="POST", headers=None, view):
    """Run `view(form)` inside a request carrying `data`; its response and what was flashed."""
    with app.test_request_context("/", method=method, data=data, headers=headers or {}):
        form = NameForm()
        response = app.make_response(view(form))
        return response, get_flashed_messages(with_categories=True)


def body(response) -> str:
    return response.get_data(as_text=True)


def test_a_get_shows_the_form_page_and_calls_nothing(app):
    calls = []
    response, _flashed = answer(app, method="GET", view=lambda form: form_view(
        form, lambda: calls.append(1), done="/done", page=page(form)))
    assert response.status_code == 200 and body(response).startswith("PAGE")
    assert calls == []


def test_success_commits_flashes_and_redirects_where_the_result_says(app):
    response, flashed = answer(app, {"name": "望京街道", "slug": "wangjing"}, view=lambda form: form_view(
        form, lambda: create(form), message=lambda sd: f"Created {sd.name}.",
        done=lambda sd: f"/places/{sd.slug}", page=page(form)))
    assert response.status_code == 302 and response.headers["Location"] == "/places/wangjing"
    assert flashed == [("success", "Created 望京街道.")]
    db.session.rollback()  # only what was committed is still there
    assert db.session.scalars(db.select(SubDistrict.slug)).all() == ["wangjing"]


def test_done_may_answer_with_a_response_of_its_own(app):
    response, flashed = answer(app, {"name": "x"}, view=lambda form: form_view(
        form, lambda: create(form), done=lambda sd: ("issued", 201), page=page(form)))
    assert response.status_code == 201 and body(response) == "issued"
    assert flashed == []


def test_a_refusal_rolls_back_and_shows_the_form_again_with_the_typing_kept(app):
    response, flashed = answer(app, {"name": "望京"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("That name is taken.", "name")), done="/done",
        message="Saved.", page=page(form)))
    assert response.status_code == 200
    assert body(response) == "PAGE 望京 | ['That name is taken.'] | []"
    assert flashed == []
    db.session.rollback()
    assert sub_district_count() == 0


def test_a_refusal_without_a_field_lands_on_the_fallback_field_or_above_the_form(app):
    response, _flashed = answer(app, {"name": "x"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("No.")), done="/done", page=page(form), field="name"))
    assert body(response) == "PAGE x | ['No.'] | []"
    response, _flashed = answer(app, {"name": "x"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("No.", "not_a_field")), done="/done", page=page(form)))
    assert body(response) == "PAGE x | [] | ['No.']"


def test_the_page_after_a_refusal_carries_the_views_status(app):
    response, _flashed = answer(app, {"name": "x"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("No.", "name")), done="/done", page=page(form), status=400))
    assert response.status_code == 400
    response, _flashed = answer(app, {"name": ""}, view=lambda form: form_view(
        form, lambda: create(form), done="/done", page=page(form), status=400))
    assert response.status_code == 400 and "This field is required." in body(response)


def test_a_refusal_the_service_recorded_can_be_kept(app):
    """A failed sign-in counts toward lock-out: what the service wrote before refusing is committed."""
    response, _flashed = answer(app, {"name": "kept"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("Wrong password.", "name")), done="/done",
        page=page(form), commit_refusal=True))
    assert "Wrong password." in body(response)
    db.session.rollback()
    assert sub_district_count() == 1


def test_not_allowed_rolls_back_and_answers_403(app):
    with pytest.raises(Forbidden):
        answer(app, {"name": "x"}, view=lambda form: form_view(
            form, refuse_after_writing(form, NotAllowed("No.")), done="/done", page=page(form)))
    db.session.rollback()
    assert sub_district_count() == 0


def test_invalid_input_calls_nothing(app):
    calls = []
    response, _flashed = answer(app, {"name": ""}, view=lambda form: form_view(
        form, lambda: calls.append(1), done="/done", page=page(form)))
    assert response.status_code == 200 and "This field is required." in body(response)
    assert calls == []


def test_without_validation_the_service_has_the_say(app):
    response, _flashed = answer(app, {"name": ""}, view=lambda form: form_view(
        form, lambda: "done", done="/done", page=page(form), validate=False))
    assert response.status_code == 302


def test_an_htmx_request_gets_the_partial_on_get_and_after_a_refusal(app):
    htmx = {"HX-Request": "true"}
    response, _flashed = answer(app, method="GET", headers=htmx, view=lambda form: form_view(
        form, lambda: None, done="/done", page=page(form), partial=partial(form)))
    assert body(response).startswith("PARTIAL")
    response, _flashed = answer(app, {"name": "typed"}, headers=htmx, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("No.", "name")), done="/done", page=page(form),
        partial=partial(form)))
    assert body(response) == "PARTIAL typed | ['No.']"
    response, _flashed = answer(app, {"name": "typed"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("No.", "name")), done="/done", page=page(form),
        partial=partial(form)))
    assert body(response).startswith("PAGE")


def test_a_template_name_is_rendered_with_the_context(app):
    response, _flashed = answer(app, method="GET", view=lambda form: form_view(
        form, lambda: None, done="/done", page="error.html",
        context={"code": 418, "title": "Teapot here", "text": "Short and stout"}))
    assert "Teapot here" in body(response) and "Short and stout" in body(response)


def test_refused_may_answer_a_refusal_itself_or_leave_it_to_the_form(app):
    response, _flashed = answer(app, {"name": "x"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("Gone.")), done="/done", page=page(form),
        refused=lambda error: ("elsewhere: " + str(error.message), 410)))
    assert response.status_code == 410 and body(response) == "elsewhere: Gone."
    response, _flashed = answer(app, {"name": "x"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("No.", "name")), done="/done", page=page(form),
        refused=lambda error: None))
    assert body(response) == "PAGE x | ['No.'] | []"


def test_a_button_says_why_on_the_page_it_came_from(app):
    response, flashed = answer(app, {"name": "x"}, view=lambda form: form_view(
        form, refuse_after_writing(form, DomainError("Already done.")), done="/done",
        refused=flash_back("/from")))
    assert response.status_code == 302 and response.headers["Location"] == "/from"
    assert flashed == [("error", "Already done.")]
    with pytest.raises(BadRequest):  # a button's form that is not valid: nothing to show again
        answer(app, {"name": ""}, view=lambda form: form_view(form, lambda: None, done="/done"))


# --- the input guard: what no database takes comes back on the form, and nothing reaches the database --------

HOSTILE = [
    ({"name": "a\x00b"}, "name", "NUL character"),
    ({"name": "ok", "slug": "\x00"}, "slug", "NUL character"),
    ({"name": "ok", "hours": "99999999999999999999"}, "hours", "out of range"),
    ({"name": "ok", "hours": str(DB_INT_MAX + 1)}, "hours", "out of range"),
    ({"name": "ok", "hours": "-9999999999"}, "hours", "out of range"),
    ({"name": "ok", "chosen": "9" * 30}, "chosen", "out of range"),
    ({"name": "ok", "several": ["1", "9" * 30]}, "several", "out of range"),
]


@pytest.mark.parametrize("data, field, message", HOSTILE)
def test_input_no_database_takes_comes_back_on_its_field_and_is_never_written(app, data, field, message):
    """On SQLite and on PostgreSQL alike (the suite runs on both): a NUL would be kept by SQLite and refused by
    PostgreSQL, a number beyond 32 bits refused by PostgreSQL even in a lookup, beyond 64 bits by SQLite."""
    calls = []

    def call_and_write(form):
        def call():
            calls.append(1)
            return create(form)
        return call
    kept = {}

    def view(form):
        kept["form"] = form
        return form_view(form, call_and_write(form), done="/done", page=lambda: "PAGE", status=400)
    response, flashed = answer(app, data, view=view)
    form = kept["form"]
    assert response.status_code == 400 and flashed == []
    assert any(message in str(e) for e in form[field].errors), form[field].errors
    assert form.name.data == data["name"]  # the typing is kept
    assert calls == []
    db.session.rollback()
    assert sub_district_count() == 0


def test_a_nul_in_a_posted_value_outside_the_form_is_refused_too(app):
    response, _flashed = answer(app, {"name": "ok", "minutes-3": "x\x00"}, view=lambda form: form_view(
        form, lambda: create(form), done="/done", page=page(form)))
    assert "NUL character" in body(response)
    db.session.rollback()
    assert sub_district_count() == 0


def test_the_largest_number_a_column_holds_goes_through(app):
    seen = {}
    response, _flashed = answer(app, {"name": "ok", "hours": str(DB_INT_MAX), "chosen": "-5"},
                                view=lambda form: form_view(form, lambda: seen.update(hours=form.hours.data),
                                                            done="/done", page=page(form)))
    assert response.status_code == 302 and seen == {"hours": DB_INT_MAX}


def test_the_guard_can_be_left_to_a_view_that_reads_every_value_as_an_id(app):
    response, _flashed = answer(app, {"name": "a\x00b"}, view=lambda form: form_view(
        form, lambda: None, done="/done", page=page(form), guard_input=False, validate=False))
    assert response.status_code == 302


def test_the_guarded_input_of_a_real_form_page_never_reaches_the_database(client, auth):
    """End to end through a real page: the admin's new sub-district form."""
    from tests.csrf import csrf_token
    from tests.factories import gen_user
    admin = gen_user(is_admin=True)
    db.session.commit()
    auth.login(admin)
    token = csrf_token(client, "/admin/places/sub-districts/new")
    response = client.post("/admin/places/sub-districts/new",
                           data={"csrf_token": token, "name": "望京\x00街道", "slug": "wangjing"})
    assert response.status_code == 200
    text = body(response)
    assert "NUL character" in text and 'value="wangjing"' in text
    assert sub_district_count() == 0


@pytest.mark.parametrize("value, expected", [("12", 12), (" 7 ", 7), (str(DB_INT_MAX), DB_INT_MAX),
                                             (str(DB_INT_MAX + 1), None), ("9" * 40, None), ("-1", None),
                                             ("１２", None), ("1e3", None), ("", None), (None, None), ("\x00", None)])
def test_posted_id_is_a_number_the_database_can_look_up(value, expected):
    assert posted_id(value) == expected


def test_a_name_field_refuses_invisible_and_direction_characters_even_without_validation(app):
    """portal.forms.PlainName on a field: the guard applies it before anything, whether or not the view runs
    the form's validators."""
    from portal.forms import PlainName

    class PlaceForm(FlaskForm):
        class Meta:
            csrf = False
        name = StringField(validators=[PlainName()])
        slug = StringField()

    calls = []
    with app.test_request_context("/", method="POST", data={"name": "望京\u202e街道", "slug": "a\u200bb"}):
        form = PlaceForm()
        response = app.make_response(form_view(form, lambda: calls.append(1), done="/done", validate=False,
                                                page=lambda: f"PAGE {form.name.errors} {form.slug.errors}"))
    assert calls == [] and "invisible characters" in response.get_data(as_text=True)
    assert response.get_data(as_text=True).endswith("()")  # a field that is no name may hold any character
