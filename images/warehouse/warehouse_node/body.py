"""Request bodies read one way only: declared JSON in UTF-8, parsed once, no duplicate keys.

Why: ``{"region": "HCM", "region": "HN"}`` means whatever the parser decides (Python's keeps
the last); a body declared ``text/plain``, form-encoded or UTF-16 was meant as something else
than the JSON we would read into it. Both are refused instead of guessed (issue 16, part 4).

Cost: the body is parsed once, by pydantic-core's parser (about 3-4 x faster than
``json.loads`` on an order), and checked for duplicates without a second parse:

- every ``:`` in a JSON text is either a key's separator or a character inside a string;
- re-encoding the parsed value (pydantic-core's ``to_json``, compact, never escaping ``:``)
  gives a text whose ``:`` count equals the body's exactly when no key was dropped, i.e. when
  there was no duplicate, provided the body spells no ``:`` as an escape (``\\u003a``);
- only when the counts differ, or the body has a ``\\u003x`` escape, is it parsed a second
  time, with ``json.loads(object_pairs_hook=...)``, to find (or rule out) the duplicate and its
  path. Measured (CPU time, one order with two items): ``json.loads`` 7.6 us; this 4.2 us.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

from pydantic_core import from_json, to_json

from .errors import shown

# Media types read as JSON. A request with no Content-Type is read as JSON too (curl -d with
# -H omitted would say form-encoded, which is refused; a bare client that says nothing is not).
_JSON_TYPES = frozenset({"application/json"})
_UTF8 = frozenset({"utf-8", "utf8"})


class BodyRefused(ValueError):
    """The body cannot be read unambiguously: ``field`` names where, ``status`` 415 or 422."""

    def __init__(self, status: int, field: str, message: str):
        self.status = status
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def check_content_type(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Raise a 415 :class:`BodyRefused` unless the body is declared JSON in UTF-8 (or not
    declared). ``headers`` are the ASGI scope's raw pairs: no header object built per order."""
    for header, raw in headers:
        if header == b"content-type":
            declared = raw.decode("latin-1")
            break
    else:
        return
    if not declared.strip():
        return
    media, _, params = declared.partition(";")
    media = media.strip().lower()
    json_like = media.startswith("application/") and media.endswith("+json")
    if media not in _JSON_TYPES and not json_like:
        raise BodyRefused(
            415, "content-type", f"{shown(media, 64)} is not accepted: send application/json"
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            raise BodyRefused(
                415,
                "content-type",
                f"charset {shown(value.strip(), 32)} is not accepted: JSON bodies are UTF-8",
            )


def parse_json(body: bytes) -> Any:
    """The body's JSON value; :class:`BodyRefused` (422) if malformed or a key is repeated."""
    try:
        value = from_json(body)
    except ValueError as exc:  # bad JSON, bad UTF-8 (UTF-16 included), absurd nesting alike
        raise BodyRefused(422, "body", f"malformed JSON: {exc}") from exc
    # Re-encoding is pydantic-core's too: a fraction of the parse, no Python per key.
    if b"\\u003" not in body and to_json(value).count(b":") == body.count(b":"):
        return value
    path = _duplicate_path(body)
    if path is not None:
        where, key = path
        raise BodyRefused(422, where, f"duplicate key {shown(key, 64)}: a key may appear once")
    return value


class _Repeated(dict[str, Any]):
    """An object that had a key twice (the slow path's marker); ``repeated`` is the first."""

    repeated: str


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Repeated(obj)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.repeated = key
            break
        seen.add(key)
    return marked


def _duplicate_path(body: bytes) -> tuple[str, str] | None:
    """``(dotted path of the repeated key, the key)`` of the first duplicate, or None."""
    try:
        value = json.loads(body, object_pairs_hook=_pairs)
    except (ValueError, RecursionError):  # from_json took it: nothing more to find here
        return None
    queue: deque[tuple[str, Any]] = deque([("", value)])
    while queue:
        prefix, item = queue.popleft()
        if isinstance(item, _Repeated):
            return (f"{prefix}.{item.repeated}" if prefix else item.repeated), item.repeated
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        for key, child in children:
            queue.append((f"{prefix}.{key}" if prefix else str(key), child))
    return None
