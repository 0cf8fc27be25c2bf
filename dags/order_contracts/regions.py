"""Which regions exist and how near they are to each other: configuration, not code.

``ORDER_REGIONS`` lists the regions (``HCM,HN,DN`` by default). ``ORDER_PROXIMITY`` orders, for
each region, the others from nearest to farthest; regions that are equally near share a tier:
``HCM=DN,HN;HN=DN,HCM;DN=HCM+HN`` says that from DN, HCM and HN are equally near. Equal tiers
matter because the routing decision breaks ties among equally near warehouses by load.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from .envvars import ORDER_PROXIMITY, ORDER_REGIONS, ConfigError

__all__ = [
    "DEFAULT_PROXIMITY",
    "DEFAULT_REGIONS",
    "ConfigError",
    "Proximity",
    "configured_proximity",
    "configured_regions",
    "default_regions_text",
    "fallback_order",
    "normalize_region",
    "parse_proximity",
    "parse_regions",
    "proximity_rank",
]

DEFAULT_REGIONS: tuple[str, ...] = ("HCM", "HN", "DN")
# Road distance: Da Nang sits between Ho Chi Minh City (~960 km) and Hanoi (~760 km).
DEFAULT_PROXIMITY = "HCM=DN,HN;HN=DN,HCM;DN=HN,HCM"

Proximity = dict[str, list[list[str]]]


def normalize_region(name: str) -> str:
    """How every part spells a region: ``" hcm "`` is ``HCM``."""
    return name.strip().upper()


def default_regions_text() -> str:
    """:data:`DEFAULT_REGIONS` as ``ORDER_REGIONS`` spells them (``HCM,HN,DN``)."""
    return ",".join(DEFAULT_REGIONS)


def parse_regions(text: str | None) -> tuple[str, ...]:
    if text is None or not text.strip():
        return DEFAULT_REGIONS
    regions = [normalize_region(part) for part in text.split(",") if part.strip()]
    for region in regions:
        if not region.isalnum() or len(region) > 16:
            raise ConfigError(f"ORDER_REGIONS: {region!r} is not a region name (letters/digits)")
    if len(set(regions)) != len(regions):
        raise ConfigError(f"ORDER_REGIONS: duplicate region in {text!r}")
    return tuple(regions)


def configured_regions() -> tuple[str, ...]:
    return parse_regions(os.environ.get(ORDER_REGIONS))


def parse_proximity(text: str | None) -> Proximity:
    """Parse ``A=B,C+D;...`` into ``{"A": [["B"], ["C", "D"]]}``."""
    if text is None or not text.strip():
        text = DEFAULT_PROXIMITY
    table: Proximity = {}
    for entry in text.split(";"):
        if not entry.strip():
            continue
        home, sep, rest = entry.partition("=")
        if not sep:
            raise ConfigError(f"ORDER_PROXIMITY: {entry!r} needs the form REGION=NEAR,FARTHER")
        tiers = [
            [normalize_region(r) for r in tier.split("+") if r.strip()]
            for tier in rest.split(",")
            if tier.strip()
        ]
        table[normalize_region(home)] = tiers
    return table


def configured_proximity() -> Proximity:
    return parse_proximity(os.environ.get(ORDER_PROXIMITY))


def proximity_rank(proximity: Mapping[str, list[list[str]]], home: str) -> dict[str, int]:
    """Tier index of each region as seen from ``home`` (1 = nearest); unknown regions rank last."""
    ranks: dict[str, int] = {}
    for index, tier in enumerate(proximity.get(home, []), start=1):
        for region in tier:
            ranks.setdefault(region, index)
    return ranks


def fallback_order(
    proximity: Mapping[str, list[list[str]]], home: str, regions: Iterable[str]
) -> list[str]:
    """The other regions, nearest first; regions missing from the table come last, by name."""
    ranks = proximity_rank(proximity, home)
    unknown = len(ranks) + 1
    others = [r for r in regions if r != home]
    return sorted(others, key=lambda r: (ranks.get(r, unknown), r))
