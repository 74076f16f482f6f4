"""Form pieces every area uses."""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from portal.errors import DomainError

# What a `datetime-local` field sends ("2026-12-01T19:30"), and what people type without one.
LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def optional_id(value):
    """A select's value as an id, or None for "nothing chosen" and anything that is not a number."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def local_time(form_field, zone, *, required=True, message=None) -> datetime | None:
    """A time typed in the community's zone, as UTC; a DomainError on the field when it is not a time."""
    text = (form_field.data or "").strip()
    if not text:
        if required:
            raise DomainError(message or _("Give a date and time."), form_field.short_name)
        return None
    for pattern in LOCAL_FORMATS:
        try:
            local = datetime.strptime(text[:19], pattern)
        except ValueError:
            continue
        if 2000 <= local.year <= 2100:
            return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    raise DomainError(_("Write a date and time such as 2026-12-01 19:30."), form_field.short_name)
