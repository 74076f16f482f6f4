"""The domain error every service raises when a rule says no; views show its message on the form."""


class DomainError(Exception):
    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotAllowed(DomainError):
    """The acting person may not do this."""
