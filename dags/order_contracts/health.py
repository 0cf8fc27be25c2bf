"""What a warehouse's ``GET /health`` says, as the routing decision reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HealthStatus = Literal["ok", "degraded", "down"]


class Health(BaseModel):
    """A node's self-report. ``load`` is dimensionless: 0 idle, 1 or more overloaded."""

    model_config = ConfigDict(extra="allow")

    status: HealthStatus
    region: str
    orders: int = Field(ge=0, description="orders stored on this shard")
    in_flight: int = Field(ge=0, description="requests being served now (a bulk request is one)")
    recent_rps: float = Field(
        ge=0,
        description="requests per second over the last few seconds (a bulk request adds its"
        " orders, each weighted by NODE_BULK_ORDER_WEIGHT)",
    )
    load: float = Field(ge=0, description="max(in_flight/limit, recent_rps/limit)")
    version: str

    @property
    def accepts_orders(self) -> bool:
        return self.status != "down"


#: the statuses whose body is a node's report: a node that is down explains itself with a 503
REPORT_STATUSES = frozenset({200, 503})


def read_health_answer(status: int | None, body: bytes) -> Health | None:
    """The one reader of a ``GET /health`` answer, for every caller whatever its HTTP client.

    ``status`` None means no answer (unreachable, timed out). Only a 200 or a 503 whose body is a
    node's report counts; anything else (a proxy's 502, a 404 from something that is not a node,
    a body that is not a report) is None: "cannot take orders".
    """
    if status not in REPORT_STATUSES:
        return None
    try:
        return Health.model_validate_json(body)
    except ValueError:
        return None
