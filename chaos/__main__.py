"""``python -m chaos`` is ``orders-chaos``."""

from .cli import entry

entry()
