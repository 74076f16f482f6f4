"""What every part of the Open311 interface shares: the specification it follows, the changeset date
discovery announces, and the refusal (Open311Error) with its HTTP status and description."""


SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00Z"  # when this interface last changed shape (discovery's changeset)


class Open311Error(Exception):
    """A refusal as the spec writes it: an HTTP status and a description ({code, description})."""

    def __init__(self, code: int, description):
        super().__init__(str(description))
        self.code = code
        self.description = description


def _bad(description):
    return Open311Error(400, description)
