"""The dashboard's filters (read from the address, so a filtered view can be bookmarked and exported) and
the hotspot → action form."""
import re
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from portal.formviews import posted_text

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_MONTHS = 60  # five years on one screen is plenty, and keeps every per-month table short


class BadFilter(ValueError):
    """A filter in the address that cannot be understood: the view answers 400 with this message."""


def parse_month(text: str, name) -> date:
    """'2026-01' → date(2026, 1, 1). Anything else (2026-13, 2026-1, words) → BadFilter naming the field."""
    match = MONTH.match((text or "").strip())
    if not match:
        raise BadFilter(_l("%(name)s must be a month written as YYYY-MM, for example 2026-01.", name=name))
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise BadFilter(_l("%(name)s is not a real month: %(text)s.", name=name, text=text))
    return date(year, month, 1)


def month_text(value: date) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def add_months(value: date, months: int) -> date:
    index = value.year * 12 + value.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def optional_int(text, name):
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise BadFilter(_l("%(name)s is not a valid choice.", name=name))
    return int(text)


def parse_filters(args, this_month: date) -> dict:
    """The raw filters from the query string: ids (not yet loaded or checked) and the month range.
    Defaults: the last twelve months up to this month."""
    month_to = parse_month(args["to"], _l("To month")) if args.get("to") else this_month
    month_from = parse_month(args["from"], _l("From month")) if args.get("from") else add_months(month_to, -11)
    if month_from > month_to:
        raise BadFilter(_l("The first month must not be after the last month."))
    if months_between(month_from, month_to) > MAX_MONTHS:
        raise BadFilter(_l("Choose at most %(n)d months.", n=MAX_MONTHS))
    return {
        "sub_district_id": optional_int(args.get("sub_district"), _l("Sub-district")),
        "community": posted_text(args.get("community")).strip() or None,
        # Categories are chosen by code (the same code in every community); the view checks its shape.
        "category": (args.get("category") or "").strip() or None,
        "org_id": optional_int(args.get("org"), _l("Organization")),
        "month_from": month_from,
        "month_to": month_to,
    }


class HotspotActionForm(FlaskForm):
    """Turn a hotspot (a building × category this month) into an agreed action."""
    community = HiddenField(validators=[DataRequired()])
    building = HiddenField(validators=[DataRequired()])
    category = HiddenField(validators=[DataRequired()])
    month = HiddenField(validators=[DataRequired()])
    title = StringField(_l("What will be done"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Details"), validators=[Optional(), Length(max=5000)])
    responsible_org = SelectField(_l("Responsible organization"), coerce=str, validate_choice=False,
                                  validators=[DataRequired()])
    due_date = DateField(_l("Due date"), validators=[DataRequired()])
