"""The routing document (what the controller writes) and the routing decision (what reads it).

The controller and the local routing source *build* the document from what they observe; the
DAG and the stress tool *decide* with it. Both halves live here so that the writer and the reader
cannot drift apart: home region → readiness → health → fallback list (nearest first) → load.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from .health import Health
from .regions import fallback_order, normalize_region, proximity_rank

DOCUMENT_VERSION = 1


class RegionRoute(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    url: str
    ready: bool
    ready_endpoints: int = Field(alias="readyEndpoints", ge=0)
    #: the other regions to try, ready ones first, then nearest first
    fallback: list[str]
    #: proximity tier of each other region (1 = nearest); equal tiers are broken by load
    proximity_rank: dict[str, int] = Field(default_factory=dict, alias="proximityRank")
    #: read-only followers of this region's shard that serve now (GET /order/{id}, GET /orders);
    #: empty when the region has none (and in documents written before followers existed)
    read_urls: list[str] = Field(default_factory=list, alias="readUrls")


class RoutingDocument(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    version: int = DOCUMENT_VERSION
    generation: int = Field(ge=0)
    updated_at: datetime = Field(alias="updatedAt")
    regions: dict[str, RegionRoute]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=None)

    @classmethod
    def from_json(cls, text: str | bytes) -> RoutingDocument:
        return cls.model_validate_json(text)

    def ready_regions(self) -> list[str]:
        return [name for name, route in self.regions.items() if route.ready]


@dataclass(frozen=True)
class RegionObservation:
    """What the builder needs to know of one region: where it is and how many endpoints serve.

    ``read_urls`` are the region's followers that serve reads now (not-ready ones left out).
    """

    region: str
    url: str
    ready_endpoints: int
    read_urls: tuple[str, ...] = ()


def build_routing_document(
    observations: Iterable[RegionObservation],
    proximity: Mapping[str, list[list[str]]],
    previous: RoutingDocument | None = None,
    now: datetime | None = None,
) -> RoutingDocument:
    """The document for these observations; ``previous`` itself when nothing changed.

    Returning the previous document unchanged is what keeps ``generation`` meaningful: it moves
    on every change of content and only then, so readers can tell "changed" from "re-written".
    """
    observed = {obs.region: obs for obs in observations}
    ready = {name for name, obs in observed.items() if obs.ready_endpoints > 0}
    regions: dict[str, RegionRoute] = {}
    for name in sorted(observed):
        obs = observed[name]
        nearest_first = fallback_order(proximity, name, observed)
        ranks = proximity_rank(proximity, name)
        unknown_rank = len(proximity.get(name, [])) + 1
        regions[name] = RegionRoute(
            url=obs.url,
            ready=name in ready,
            ready_endpoints=obs.ready_endpoints,
            fallback=sorted(nearest_first, key=lambda r: r not in ready),
            proximity_rank={r: ranks.get(r, unknown_rank) for r in nearest_first},
            read_urls=list(obs.read_urls),
        )
    if previous is not None and previous.regions == regions:
        return previous
    return RoutingDocument(
        generation=(previous.generation + 1) if previous else 1,
        updated_at=now or datetime.now(UTC).replace(microsecond=0),
        regions=regions,
    )


class NoWarehouseAvailable(RuntimeError):
    """No region could take the order; the message lists what was wrong with each."""


@dataclass(frozen=True)
class Assignment:
    home_region: str
    region: str
    url: str
    fallback_used: bool
    reason: str


#: a health probe: (region, url) → the node's health, or None when it cannot be reached
HealthProbe = Callable[[str, str], Health | None]


def assign_warehouse(
    document: RoutingDocument,
    home_region: str,
    probe: HealthProbe,
    exclude: Collection[str] = (),
) -> Assignment:
    """Choose the warehouse for an order of ``home_region``.

    The home region wins when the document says it is ready and its health is ``ok``. Otherwise
    the fallback list is walked tier by tier (equally near regions form a tier) and the least
    loaded healthy region of the first tier that has one wins. A ``degraded`` node still accepts
    orders, so it is the last resort rather than a refusal. ``exclude`` removes regions the
    caller already knows are failing (a retry that gave up on its node).
    """
    home = normalize_region(home_region)
    route = document.regions.get(home)
    if route is None:
        known = ", ".join(sorted(document.regions)) or "none"
        raise NoWarehouseAvailable(
            f"region {home} is not in the routing document (generation {document.generation}; "
            f"known regions: {known})"
        )
    notes: list[str] = []
    degraded: list[tuple[str, Health]] = []

    def check(region: str) -> Health | None:
        candidate = document.regions.get(region)
        if region in exclude:
            notes.append(f"{region} excluded")
            return None
        if candidate is None or not candidate.ready:
            notes.append(f"{region} not ready")
            return None
        health = probe(region, candidate.url)
        if health is None:
            notes.append(f"{region} unreachable")
            return None
        if health.status == "ok":
            return health
        notes.append(f"{region} {health.status}")
        if health.status == "degraded":
            degraded.append((region, health))
        return None

    if check(home) is not None:
        return Assignment(home, home, route.url, False, f"home region {home} is healthy")

    tiers: dict[int, list[str]] = {}
    for region in route.fallback:
        tiers.setdefault(route.proximity_rank.get(region, len(route.fallback) + 1), []).append(
            region
        )
    for rank in sorted(tiers):
        healthy = [(r, h) for r in tiers[rank] if (h := check(r)) is not None]
        if healthy:
            region, _ = min(healthy, key=lambda pair: pair[1].load)
            why = "; ".join(notes)
            tie = f", least loaded of {len(healthy)}" if len(healthy) > 1 else ""
            return Assignment(
                home,
                region,
                document.regions[region].url,
                True,
                f"{why}; fallback to {region} (proximity tier {rank}{tie})",
            )
    if degraded:
        region, _ = degraded[0]
        return Assignment(
            home,
            region,
            document.regions[region].url,
            region != home,
            f"{'; '.join(notes)}; no healthy warehouse, using degraded {region}",
        )
    raise NoWarehouseAvailable(f"no warehouse can take a {home} order: {'; '.join(notes)}")
