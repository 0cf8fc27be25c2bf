"""The controller's in-memory picture of warehouse Services and their EndpointSlices.

Watch events keep it current, so deciding "did routing change?" needs no API call. It can go
stale in one way only: objects deleted while this replica was a paused standby (kopf re-lists
on resume but never reports what vanished meanwhile). :meth:`ClusterIndex.replace` rebuilds it
from a fresh listing, and the reconciler does that before every write.
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


class ClusterIndex:
    """Services and EndpointSlices of one namespace, by name, reduced to what routing needs."""

    def __init__(self) -> None:
        self._services: dict[str, ServiceSummary] = {}
        self._slices: dict[str, SliceSummary] = {}

    def observations(self) -> list[RegionObservation]:
        return observations(self._services.values(), self._slices.values())

    def _changed(self, before: list[RegionObservation]) -> bool:
        return before != self.observations()

    def apply_service(self, event_type: str | None, body: Body) -> bool:
        """Record one watch event of a Service; True when the routing observations changed."""
        before = self.observations()
        name = str(body["metadata"]["name"])
        summary = None if event_type == "DELETED" else service_summary(body)
        if summary is None:
            self._services.pop(name, None)  # deleted, or relabelled out of the warehouse set
        else:
            self._services[name] = summary
        return self._changed(before)

    def apply_slice(self, event_type: str | None, body: Body) -> bool:
        """Record one watch event of an EndpointSlice; True when the observations changed."""
        before = self.observations()
        name = str(body["metadata"]["name"])
        summary = None if event_type == "DELETED" else slice_summary(body)
        if summary is None:
            self._slices.pop(name, None)
        else:
            self._slices[name] = summary
        return self._changed(before)

    def replace(self, services: Iterable[Body], slices: Iterable[Body]) -> bool:
        """Forget everything and take a fresh listing; True when the observations changed."""
        before = self.observations()
        service_list = [service_summary(body) for body in services]
        slice_list = [slice_summary(body) for body in slices]
        self._services = {s.name: s for s in service_list if s is not None}
        self._slices = {s.name: s for s in slice_list if s is not None}
        return self._changed(before)
