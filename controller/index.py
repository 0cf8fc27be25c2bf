"""The controller's in-memory picture of warehouse Services and their EndpointSlices.

Its own small index rather than ``kopf.index``: it must be replaceable wholesale by a fresh
listing (see below), which kopf's indices are not.

Watch events keep it current, so deciding "did routing change?" needs no API call. It can go
stale in one way only: objects deleted while this replica was a paused standby (kopf re-lists
on resume but never reports what vanished meanwhile). :meth:`ClusterIndex.replace` rebuilds it
from a fresh listing, and the reconciler does that before every write.

A listing takes a moment, and watch events keep arriving meanwhile; the listing may predate
them. So between :meth:`begin_listing` and :meth:`replace` every event is also journaled and
replayed on top of the listing. Replaying in arrival order is safe even for an event the listing
already includes: any newer event of that object arrives after it and is applied after it.
"""

from __future__ import annotations

from collections.abc import Iterable

from order_contracts.routing import RegionObservation

from .observe import (
    Body,
    ServiceSummary,
    SliceSummary,
    observations,
    service_summary,
    slice_summary,
)

Change = tuple[str, str, ServiceSummary | SliceSummary | None]


class ClusterIndex:
    """Services and EndpointSlices of one namespace, by name, reduced to what routing needs."""

    def __init__(self) -> None:
        self._services: dict[str, ServiceSummary] = {}
        self._slices: dict[str, SliceSummary] = {}
        self._journal: list[Change] | None = None

    def observations(self) -> list[RegionObservation]:
        return observations(self._services.values(), self._slices.values())

    def _set(self, change: Change) -> None:
        kind, name, summary = change
        if kind == "service":
            if isinstance(summary, ServiceSummary):
                self._services[name] = summary
            else:
                self._services.pop(name, None)  # deleted, or relabelled out of the warehouse set
        elif isinstance(summary, SliceSummary):
            self._slices[name] = summary
        else:
            self._slices.pop(name, None)

    def _apply(self, change: Change) -> bool:
        before = self.observations()
        if self._journal is not None:
            self._journal.append(change)
        self._set(change)
        return before != self.observations()

    def apply_service(self, event_type: str | None, body: Body) -> bool:
        """Record one watch event of a Service; True when the routing observations changed."""
        summary = None if event_type == "DELETED" else service_summary(body)
        return self._apply(("service", str(body["metadata"]["name"]), summary))

    def apply_slice(self, event_type: str | None, body: Body) -> bool:
        """Record one watch event of an EndpointSlice; True when the observations changed."""
        summary = None if event_type == "DELETED" else slice_summary(body)
        return self._apply(("slice", str(body["metadata"]["name"]), summary))

    def begin_listing(self) -> None:
        """A listing is being fetched: journal events until :meth:`replace` (or :meth:`abort`)."""
        self._journal = []

    def abort_listing(self) -> None:
        self._journal = None

    def replace(self, services: Iterable[Body], slices: Iterable[Body]) -> bool:
        """Take a fresh listing, then replay events that arrived while it was fetched.

        True when the observations changed.
        """
        before = self.observations()
        service_list = [service_summary(body) for body in services]
        slice_list = [slice_summary(body) for body in slices]
        self._services = {s.name: s for s in service_list if s is not None}
        self._slices = {s.name: s for s in slice_list if s is not None}
        for change in self._journal or []:
            self._set(change)
        self._journal = None
        return before != self.observations()
