"""One way to write a form view. The view loads what the address names and checks the permission rule; then
`form_view` does the rest, in this order:

1. a GET (or HEAD) shows the form page;
2. input no database can hold (a NUL character, an integer beyond a 32-bit column), and a name with
   invisible or text-direction characters (portal.forms.PlainName), comes back on the form, before anything
   reads it;
3. the form's own validators, when the view asks for them;
4. the service call: NotAllowed rolls back and answers 403; any other DomainError rolls back (or commits
   what the service recorded first, `commit_refusal`) and goes next to the field it names (else `field`,
   else above the form), and the form page comes back with the person's typing and `status`;
5. commit, flash `message`, and go to `done` (a redirect, or whatever response `done` builds).

The form page is `page`, or `partial` when the request comes from htmx: each a template name (rendered with
`context`) or a function that renders it. A button's small form has no page (`page=None`): input it cannot
take is a 400, and `refused=flash_back(url)` says why on the page it came from. Imports no area."""
from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request
from flask_babel import lazy_gettext as _l

from portal.errors import DomainError, NotAllowed
from portal.extensions import db

# Every integer column and id in the portal is a 32-bit INTEGER. PostgreSQL refuses a larger number even in a
# WHERE clause, and SQLite anything beyond 64 bits; the 32-bit range is the one both hold.
DB_INT_MIN = -2**31
DB_INT_MAX = 2**31 - 1
SUBMIT_METHODS = ("POST", "PUT", "PATCH", "DELETE")

NUL_CHARACTER = _l("This contains a NUL character, which cannot be saved. Remove it and send again.")
OUT_OF_RANGE = _l("This number is out of range.")


def form_view(form, call: Callable, *, done, message=None, page=None, partial=None, context: dict | None = None,
              field: str | None = None, status: int = 200, validate: bool = True, guard_input: bool = True,
              commit_refusal: bool = False, refused: Callable | None = None):
    """The response of a form view. `call()` runs the service and returns its result; `done` and `message`
    are values or functions of that result: `done` a URL to redirect to, or a response (a Response object or a
    (body, status) tuple, never a bare string, which is taken for a URL). `refused(error)` may answer a
    refusal itself (after the error is on the form); returning None shows the form page. `guard_input=False`
    only where every posted value is read as an id or a known choice and never stored (then a NUL is that
    field's ordinary mistake)."""
    def form_page(answer_status=200):
        if page is None:
            abort(400)
        shown = partial if partial is not None and getattr(request, "htmx", False) else page
        body = shown() if callable(shown) else render_template(shown, **(context or {}))
        return _with_status(body, answer_status)

    def refusal(error):
        answer = refused(error) if refused is not None else None
        return answer if answer is not None else form_page(status)

    if request.method not in SUBMIT_METHODS:
        return form_page()
    problems = input_problems(form) if guard_input else []
    if problems:
        for problem in problems:
            show_on_form(form, problem, field)
        return refusal(problems[0])
    if validate and not form.validate():
        return form_page(status)
    try:
        result = call()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except DomainError as error:
        if commit_refusal:
            db.session.commit()
        else:
            db.session.rollback()
        show_on_form(form, error, field)
        return refusal(error)
    db.session.commit()
    text = message(result) if callable(message) else message
    if text:
        flash(text, "success")
    target = done(result) if callable(done) else done
    return redirect(target) if isinstance(target, str) else target


def show_on_form(form, error: DomainError, fallback: str | None = None) -> None:
    """A refusal on the form: next to the field it names (else `fallback`), or above the form."""
    target = getattr(form, error.field or "", None) or (getattr(form, fallback) if fallback else None)
    if target is not None:
        target.errors = [*target.errors, str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def flash_back(url: str) -> Callable:
    """A `refused` answer for a button with no form to show again: the reason as an error flash, then back
    to `url`."""
    def answer(error):
        flash(str(error.message), "error")
        return redirect(url)
    return answer


def input_problems(form) -> list[DomainError]:
    """What the person sent that no database takes, one DomainError per field: text holding a NUL character
    (PostgreSQL refuses it; SQLite would keep it), a number beyond an integer column. A posted value that is
    no field of the form (a hidden input the view reads itself) is checked for NUL too."""
    problems, names = [], set()
    for item in form:
        names.add(item.name)
        if any(isinstance(value, str) and "\x00" in value for value in item.raw_data or ()):
            problems.append(DomainError(NUL_CHARACTER, item.short_name))
        elif not all(fits_database(number) for number in _integers(item.data)):
            problems.append(DomainError(OUT_OF_RANGE, item.short_name))
        else:
            refusal = next(filter(None, (check.refuses(value) for check in item.validators
                                         if hasattr(check, "refuses") for value in item.raw_data or ())), None)
            if refusal:
                problems.append(DomainError(refusal, item.short_name))
    for name, values in request.form.lists():
        if name not in names and ("\x00" in name or any("\x00" in value for value in values)):
            problems.append(DomainError(NUL_CHARACTER))
            break
    return problems


def fits_database(number: int) -> bool:
    return DB_INT_MIN <= number <= DB_INT_MAX


def posted_id(value) -> int | None:
    """A posted id the database can look up (a plain number in range), else None: for a value the view reads
    from the request itself rather than through a form field."""
    text = value.strip() if isinstance(value, str) else ""
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if fits_database(number) else None


def db_int(text) -> int:
    """`int` for a number a view reads from the request itself (`request.args.get("page", 1, type=db_int)`):
    a ValueError, so the default, for a number beyond an integer column too."""
    number = int(text)
    if not fits_database(number):
        raise ValueError(f"{number} is beyond an integer column")
    return number


def posted_text(value) -> str:
    """A value the view reads from the request itself (a search's words, a slug to look up) as text a
    database takes: without NUL and the other control characters, "" for nothing."""
    if not isinstance(value, str):
        return ""
    return "".join(c for c in value if c in "\t\n\r" or not (c < " " or "\x7f" <= c <= "\x9f"))


def _integers(data) -> list[int]:
    values = data if isinstance(data, (list, tuple, set)) else (data,)
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def _with_status(body, status):
    if status == 200:
        return body
    if isinstance(body, tuple):
        return (body[0], status, *body[2:])
    return body, status
