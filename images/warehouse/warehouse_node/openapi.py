"""The node's OpenAPI description, made to say what the code does.

``POST /order`` reads its body itself (one error shape for malformed JSON, wrong types and
unknown regions alike), so FastAPI cannot see the ``Order`` model: the request body is declared
here, with the node's own region list as the ``region`` enum and examples that Swagger's
"Try it out" sends as they are. The bearer scheme is declared once and required by the order
routes (auth is checked inside ``authorized_node`` rather than by a ``fastapi.security``
dependency, which would cost every order another dependency to solve). Every error status lists
``ErrorBody``, the one shape ``errors.py`` sends; FastAPI's own ``HTTPValidationError`` schema,
which the node never sends, is removed. tests/node/test_openapi.py checks all of this, and
tests/node/test_openapi_fuzz.py runs Schemathesis against a real node.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from order_contracts.orders import FieldError, Order, StoredOrder

from .errors import ConflictBody, ErrorBody, ReadOnlyBody

BEARER = "bearerAuth"
MONEY_STRING = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
SECURED: dict[str, Any] = {"security": [{BEARER: []}]}

_ERROR_DESCRIPTIONS = {
    401: "missing or wrong bearer token (only when the node has NODE_API_TOKEN set)",
    404: "not stored on this shard",
    409: "already stored with a different payload; `stored` is the order as it was first stored",
    413: "request body larger than NODE_MAX_BODY_BYTES (POST /orders: NODE_MAX_BULK_BODY_BYTES)",
    421: "this node is a read-only follower; `primary` names where writes go",
    415: "the body is not `application/json`",
    422: "invalid input; `detail` lists each field at fault",
    503: "the database could not be read or written; retry (a POST is idempotent)",
    504: (
        "committed on this node but the replica did not confirm it in time (sync replication):"
        " in doubt, so retry on this node only (the replay answers 200 once it is replicated),"
        " never on another region"
    ),
}

ORDER_EXAMPLES: dict[str, dict[str, Any]] = {
    "three fields": {
        "summary": "The original report's order: id, customer, home region",
        "value": {"order_id": "ord-1001", "customer_name": "Nguyen Van A", "region": "HCM"},
    },
    "with items": {
        "summary": "Items and a total (the total must equal the items' sum)",
        "value": {
            "order_id": "ord-1002",
            "customer_name": "Tran Thi B",
            "region": "HN",
            "items": [
                {"sku": "TEA-500G", "quantity": 2, "unit_price": "4.50"},
                {"sku": "CUP-01", "quantity": 1, "unit_price": "3.00"},
            ],
            "total": "12.00",
        },
    },
}


class OrderPage(BaseModel):
    """One page of ``GET /orders``."""

    orders: list[StoredOrder]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class BulkResult(BaseModel):
    """One order's answer in ``POST /orders``: the status ``POST /order`` would have sent."""

    order_id: str | None = Field(description="null when the item had no string order_id")
    status: Literal[200, 201, 409, 422, 503, 504]
    order: StoredOrder | None = Field(None, description="201/200: the order as stored")
    detail: list[FieldError] | None = Field(None, description="409/422/503/504: why not")
    stored: StoredOrder | None = Field(None, description="409: the order stored first")


class BulkResults(BaseModel):
    """``POST /orders``' 200: every order answered, in request order."""

    results: list[BulkResult]


_ERROR_MODELS: dict[int, type[ErrorBody]] = {409: ConflictBody, 421: ReadOnlyBody}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of these error statuses, each with the one error shape."""
    return {
        code: {
            "model": _ERROR_MODELS.get(code, ErrorBody),
            "description": _ERROR_DESCRIPTIONS[code],
        }
        for code in codes
    }


def order_request_body() -> dict[str, Any]:
    """``openapi_extra`` of ``POST /order``: the body the route parses by hand."""
    return {
        **SECURED,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/Order"},
                    "examples": ORDER_EXAMPLES,
                }
            },
        },
    }


def bulk_request_body() -> dict[str, Any]:
    """``openapi_extra`` of ``POST /orders``. Items are not constrained to ``Order``: an invalid
    one does not refuse the request, it gets a 422 result of its own (the bounds come from
    ``install_openapi``, which knows NODE_MAX_BULK)."""
    examples = {
        name: {"summary": example["summary"], "value": {"orders": [example["value"]]}}
        for name, example in ORDER_EXAMPLES.items()
    }
    return {
        **SECURED,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/BulkOrders"},
                    "examples": examples,
                }
            },
        },
    }


def _bulk_schema(max_bulk: int) -> dict[str, Any]:
    return {
        "type": "object",
        "title": "BulkOrders",
        "description": "Orders to create; each is answered as POST /order would answer it.",
        "properties": {
            "orders": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_bulk,
                "items": {"description": "an Order; an invalid one gets its own 422 result"},
            }
        },
        "required": ["orders"],
        "additionalProperties": False,
    }


def _order_schema(regions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``Order`` and what it refers to, as components; ``region`` limited to these regions."""
    schema = Order.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    region = schema["properties"]["region"]
    region.pop("maxLength", None)
    region.pop("minLength", None)
    region["enum"] = list(regions)
    region["description"] = "home region: one of the configured regions"
    components["Order"] = schema
    for model in (schema, components.get("OrderItem", {})):
        for prop in model.get("properties", {}).values():
            _money_strings(prop)
    return components


def _money_strings(prop: dict[str, Any]) -> None:
    """A money amount may be a JSON number or a decimal string: say which strings (cents)."""
    for option in prop.get("anyOf", []):
        _money_strings(option)
        if option == {"type": "string"}:
            option["pattern"] = MONEY_STRING


def _replace_validation_error(spec: dict[str, Any]) -> None:
    """FastAPI adds ``HTTPValidationError`` 422s to routes with parameters; the node's 422 is
    ``ErrorBody`` (errors.py rewrites parameter errors into it)."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422")
            if response and "HTTPValidationError" in str(response):
                operation["responses"]["422"] = {
                    "description": _ERROR_DESCRIPTIONS[422],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                    },
                }


def install_openapi(app: FastAPI, regions: tuple[str, ...], max_bulk: int) -> None:
    """Replace ``app.openapi`` by one that adds what FastAPI cannot infer (see module doc)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = spec.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        _replace_validation_error(spec)
        schemas.update(_order_schema(regions))
        schemas["BulkOrders"] = _bulk_schema(max_bulk)
        components["securitySchemes"] = {
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "NODE_API_TOKEN; required only when the node has one set",
            }
        }
        app.openapi_schema = spec
        return spec

    setattr(app, "openapi", openapi)  # noqa: B010 (FastAPI's documented override)
