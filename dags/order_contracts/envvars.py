"""Numbers from environment variables, refused with a message that names the variable.

Every part is configured by environment; a typo must stop it at start with one clear line
(``NAME: 'x' is not a number``), not a traceback or a silently used default.
"""

from __future__ import annotations

from collections.abc import Mapping

from .regions import ConfigError


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """``env[name]`` as an integer ≥ ``minimum``; ``default`` when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}: {value} is below the minimum {minimum}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    """``env[name]`` as a finite number ≥ ``minimum``; ``default`` when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name}: {raw!r} is not a finite number")
    if value < minimum:
        raise ConfigError(f"{name}: {value:g} is below the minimum {minimum:g}")
    return value
