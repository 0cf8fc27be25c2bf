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
    in_flight: int = Field(ge=0, description="requests being served now")
    recent_rps: float = Field(ge=0, description="requests per second over the last few seconds")
    load: float = Field(ge=0, description="max(in_flight/limit, recent_rps/limit)")
    version: str

    @property
    def accepts_orders(self) -> bool:
        return self.status != "down"
