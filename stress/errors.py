"""The one error type that stops a run before it starts, with a message for the user."""


class StressError(RuntimeError):
    """The run could not start (a target unreachable, a routing document unreadable, ...)."""
