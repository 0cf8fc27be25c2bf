"""The order schema: what a warehouse accepts and what it stores.

The node, the DAG's ingest task and the stress tool validate with this one model, so an order the
DAG accepts is an order the node accepts. Validation needs the configured region list; pass it as
``context={"regions": ...}`` or let it come from ``ORDER_REGIONS``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .regions import configured_regions, normalize_region

CENT = Decimal("0.01")
MAX_ITEMS = 500

OrderId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="Idempotency key: letters, digits and . _ : - (at most 128)",
    ),
]
Money = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("1000000000"), allow_inf_nan=False, description="non-negative amount"),
]


def _cents(value: Decimal) -> Decimal:
    """Amounts compare by value: 19.9 and 19.90 are the same price, so store them the same way;
    ``-0``/``-0.00`` is zero too (Decimal keeps the sign, and a replay spelled ``0`` would
    otherwise fingerprint differently and get a 409)."""
    quantized = value.quantize(CENT)
    if quantized != value:
        raise ValueError("at most 2 decimal places")
    return quantized.copy_abs() if quantized.is_zero() else quantized


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    quantity: StrictInt = Field(gt=0, le=100_000)
    unit_price: Money

    _unit_price_cents = field_validator("unit_price")(_cents)


class Order(BaseModel):
    """An order as submitted: the original report's three fields, optionally items and total."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    order_id: OrderId
    customer_name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    region: str = Field(min_length=1, max_length=16)
    items: list[OrderItem] | None = Field(default=None, min_length=1, max_length=MAX_ITEMS)
    total: Money | None = None

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str, info: ValidationInfo) -> str:
        region = normalize_region(value)
        context = info.context if isinstance(info.context, Mapping) else {}
        regions: Collection[str] = context.get("regions") or configured_regions()
        if region not in regions:
            raise ValueError(f"unknown region {value!r}; expected one of {', '.join(regions)}")
        return region

    @field_validator("total")
    @classmethod
    def _total_cents(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else _cents(value)

    @model_validator(mode="after")
    def _total_matches_items(self) -> Order:
        if self.items is not None and self.total is not None:
            expected = sum((i.unit_price * i.quantity for i in self.items), Decimal(0))
            if expected != self.total:
                raise ValueError(f"total {self.total} does not match the items' sum {expected}")
        return self

    def fingerprint(self) -> str:
        """Hash of the canonical payload: equal orders hash equal however they were spelled."""
        return _fingerprint(self.model_dump(mode="json", exclude_none=True))

    def canonical_json(self) -> str:
        """The order as a shard stores and answers it: compact JSON in field order, without
        unset optionals, amounts as 2-decimal strings (pydantic's own encoder: several times
        cheaper than ``json.dumps`` of a dump, and this runs for every order a node takes)."""
        return self.model_dump_json(exclude_none=True)

    def stored_form(self) -> tuple[str, str]:
        """``(canonical_json(), fingerprint())``: what a shard stores per order."""
        return self.canonical_json(), self.fingerprint()


def _fingerprint(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


OrderStatus = Literal["accepted"]


class StoredOrder(Order):
    """An order as a warehouse holds it: which region it belongs to and which warehouse took it."""

    home_region: str
    fulfilled_by: str
    status: OrderStatus = "accepted"
    created_at: datetime

    @property
    def is_fallback(self) -> bool:
        return self.home_region != self.fulfilled_by


class FieldError(BaseModel):
    """One reason an input was refused, naming the field (dotted path) at fault."""

    field: str
    message: str


def field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "body"
        message = err["msg"].removeprefix("Value error, ")
        errors.append(FieldError(field=field, message=message))
    return errors


class OrderRejected(ValueError):
    """An order failed validation; ``errors`` says which fields and why."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


def parse_order(payload: Any, regions: Collection[str] | None = None) -> Order:
    """Validate one order payload (a mapping) or raise :class:`OrderRejected`."""
    if not isinstance(payload, Mapping):
        raise OrderRejected([FieldError(field="body", message="an order must be a JSON object")])
    try:
        return Order.model_validate(payload, context={"regions": regions} if regions else None)
    except ValidationError as exc:
        raise OrderRejected(field_errors(exc)) from exc
