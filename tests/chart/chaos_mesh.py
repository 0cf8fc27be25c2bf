"""Chaos Mesh's v1alpha1 kinds as JSON Schemas (``crds/chaos-mesh/``, a hand-written subset: see
its README): the validator the chart tests check every rendered experiment with, since
``kubernetes-validate`` knows no custom resources."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent / "crds" / "chaos-mesh"
API_VERSION = "chaos-mesh.org/v1alpha1"
#: kind -> schema file
KINDS = {
    "PodChaos": "podchaos.json",
    "NetworkChaos": "networkchaos.json",
    "Schedule": "schedule.json",
}


def load(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return schema


@functools.cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@functools.cache
def validator(kind: str) -> Draft202012Validator:
    if kind not in KINDS:
        raise KeyError(f"no Chaos Mesh schema for kind {kind!r} (have: {', '.join(KINDS)})")
    return Draft202012Validator(load(KINDS[kind]), registry=_registry())


def errors(doc: dict[str, Any]) -> list[str]:
    """Why ``doc`` would be refused, one line per problem (``[]``: valid), each with its path."""
    found = validator(doc.get("kind", "?")).iter_errors(doc)
    return sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in found
    )
