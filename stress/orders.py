"""Seeded order generation: a region mix, valid orders, and deliberately invalid ones.

Valid orders are built with the shared :class:`~order_contracts.orders.Order` model, so they are
valid by construction (if the schema changes, generation fails loudly instead of the run blaming
the nodes). Invalid orders each break one rule the node must enforce; the kind is recorded so the
report can show that every kind was refused.
"""

from __future__ import annotations

import bisect
import json
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate, count
from typing import Any

from order_contracts.orders import Order, OrderItem

CUSTOMERS = (
    "Nguyen Van An",
    "Tran Thi Binh",
    "Le Van Cuong",
    "Pham Thi Dung",
    "Hoang Van Em",
    "Vu Thi Giang",
    "Dang Van Hai",
    "Bui Thi Lan",
    "Do Van Minh",
    "Ngo Thi Nga",
)

#: an impossible region name for the "unknown region" kind
UNKNOWN_REGION = "MARS"


@dataclass(frozen=True, slots=True)
class GeneratedOrder:
    """One order of the run. ``body`` is the JSON sent to a node, encoded once up front."""

    index: int
    order_id: str
    region: str
    payload: dict[str, Any]
    body: bytes
    valid: bool
    invalid_kind: str | None = None


def _valid_payload(rng: random.Random, order_id: str, region: str) -> dict[str, Any]:
    customer = rng.choice(CUSTOMERS)
    if rng.random() < 0.3:  # the original report's three-field shape
        order = Order(order_id=order_id, customer_name=customer, region=region)
    else:
        items = [
            OrderItem(
                sku=f"SKU-{rng.randrange(1, 500):04d}",
                quantity=rng.randrange(1, 5),
                unit_price=Decimal(rng.randrange(100, 50_000)) / 100,
            )
            for _ in range(rng.randrange(1, 4))
        ]
        total = sum((i.unit_price * i.quantity for i in items), Decimal(0))
        order = Order(
            order_id=order_id, customer_name=customer, region=region, items=items, total=total
        )
    return order.model_dump(mode="json", exclude_none=True)


def _base(order_id: str, region: str) -> dict[str, Any]:
    return {"order_id": order_id, "customer_name": "Invalid On Purpose", "region": region}


def _item(quantity: Any = 1, unit_price: Any = "9.99") -> dict[str, Any]:
    return {"sku": "SKU-0001", "quantity": quantity, "unit_price": unit_price}


# Each kind breaks exactly one rule; the node must answer 422 naming the field.
INVALID_KINDS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "unknown_region": lambda oid, region: _base(oid, UNKNOWN_REGION),
    "missing_customer": lambda oid, region: {"order_id": oid, "region": region},
    "bad_order_id": lambda oid, region: _base(f"{oid} has spaces", region),
    "zero_quantity": lambda oid, region: {**_base(oid, region), "items": [_item(quantity=0)]},
    "negative_price": lambda oid, region: {**_base(oid, region), "items": [_item(unit_price=-1)]},
    "total_mismatch": lambda oid, region: {**_base(oid, region), "items": [_item()], "total": "1"},
    "unknown_field": lambda oid, region: {**_base(oid, region), "coupon": "FREE"},
}


class OrderGenerator:
    """Orders ``0, 1, 2, …`` of a run: the same seed, run id and settings give the same orders."""

    def __init__(
        self,
        run_id: str,
        region_mix: Mapping[str, float],
        invalid_ratio: float = 0.0,
        seed: int = 0,
    ):
        if not 0.0 <= invalid_ratio <= 1.0:
            raise ValueError(f"--invalid-ratio {invalid_ratio}: must be between 0 and 1")
        if not region_mix:
            raise ValueError("--regions: no region to send orders to")
        self.run_id = run_id
        self.invalid_ratio = invalid_ratio
        self._regions = list(region_mix)
        self._cumulative = list(accumulate(region_mix.values()))
        self._rng = random.Random(seed)
        self._kinds = sorted(INVALID_KINDS)
        self._next = count()

    def _region(self) -> str:
        point = self._rng.random() * self._cumulative[-1]
        index = bisect.bisect_right(self._cumulative, point)
        return self._regions[min(index, len(self._regions) - 1)]

    def next_order(self) -> GeneratedOrder:
        index = next(self._next)
        order_id = f"{self.run_id}-{index:07d}"
        region = self._region()
        if self.invalid_ratio and self._rng.random() < self.invalid_ratio:
            kind = self._kinds[self._rng.randrange(len(self._kinds))]
            payload = INVALID_KINDS[kind](order_id, region)
            valid = False
        else:
            kind = None
            payload = _valid_payload(self._rng, order_id, region)
            valid = True
        body = json.dumps(payload, separators=(",", ":")).encode()
        return GeneratedOrder(index, order_id, region, payload, body, valid, kind)

    def take(self, n: int) -> list[GeneratedOrder]:
        return [self.next_order() for _ in range(n)]

    def __iter__(self) -> Iterator[GeneratedOrder]:
        while True:
            yield self.next_order()
