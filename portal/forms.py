"""Form pieces every area uses."""


def optional_id(value):
    """A select's value as an id, or None for "nothing chosen" and anything that is not a number."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
