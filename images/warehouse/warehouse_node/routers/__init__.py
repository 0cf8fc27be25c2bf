"""One router per resource: orders, health, metrics."""
