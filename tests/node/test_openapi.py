"""The node's /openapi.json says what the node does: order body, bearer scheme, one error shape.

Read from a real node process; every error the node really sends in these tests is validated
against the ``ErrorBody`` schema the description declares (jsonschema over the live spec).
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest

from tests.conftest import NodeFactory, RunningNode
from tests.node.conftest import seed_order

TOKEN = "openapi-test-token"


@pytest.fixture(scope="module")
def spec(shared_node: RunningNode) -> dict[str, Any]:
    with shared_node.client() as http:
        body: dict[str, Any] = http.get("/openapi.json").json()
    return body


def _schema_of(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """A component schema that resolves its ``$ref`` s inside the whole spec."""
    return {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}


def test_post_order_declares_the_order_body_with_examples(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/order"]["post"]["requestBody"]
    assert body["required"] is True
    media = body["content"]["application/json"]
    assert media["schema"] == {"$ref": "#/components/schemas/Order"}
    order = spec["components"]["schemas"]["Order"]
    assert order["properties"]["region"]["enum"] == ["HCM", "HN", "DN"]
    for example in media["examples"].values():  # Swagger's "Try it out" sends these
        jsonschema.validate(example["value"], _schema_of(spec, "Order"))


def test_post_orders_declares_the_bulk_envelope(spec: dict[str, Any]) -> None:
    media = spec["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]
    envelope = spec["components"]["schemas"]["BulkOrders"]
    assert media["schema"] == {"$ref": "#/components/schemas/BulkOrders"}
    assert envelope["properties"]["orders"]["maxItems"] >= 1
    for example in media["examples"].values():
        jsonschema.validate(example["value"], _schema_of(spec, "BulkOrders"))
        for order in example["value"]["orders"]:
            jsonschema.validate(order, _schema_of(spec, "Order"))
    results = spec["paths"]["/orders"]["post"]["responses"]["200"]["content"]["application/json"]
    assert results["schema"] == {"$ref": "#/components/schemas/BulkResults"}


def test_bearer_scheme_is_declared_and_required_by_order_routes(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "NODE_API_TOKEN; required only when the node has one set",
    }
    secured = [
        ("/order", "post"),
        ("/orders", "post"),
        ("/order/{order_id}", "get"),
        ("/orders", "get"),
    ]
    for path, method in secured:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert "401" in operation["responses"], path
    assert "security" not in spec["paths"]["/health"]["get"]


def test_every_error_response_declares_the_one_error_shape(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(spec)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) < 400 or path == "/health":
                    continue
                ref = response["content"]["application/json"]["schema"]["$ref"]
                expected = {"409": "ConflictBody", "421": "ReadOnlyBody"}.get(code, "ErrorBody")
                assert ref == f"#/components/schemas/{expected}", (path, method, code)


def test_the_errors_the_node_sends_match_the_declared_shape(
    node_factory: NodeFactory, spec: dict[str, Any]
) -> None:
    node = node_factory("HCM", env={"NODE_API_TOKEN": TOKEN, "NODE_MAX_BODY_BYTES": "2048"})
    error_body = _schema_of(spec, "ErrorBody")
    with node.client(TOKEN) as http, node.client() as anonymous:
        stored = http.post("/order", json=seed_order("openapi-1"))
        assert stored.status_code == 201
        sent: list[tuple[int, httpx.Response]] = [
            (401, anonymous.get("/orders")),
            (404, http.get("/order/never-stored")),
            (404, http.get("/no-such-route")),
            (405, http.delete("/order/openapi-1")),
            (409, http.post("/order", json=seed_order("openapi-1", customer_name="Other"))),
            (413, http.post("/order", content=b"{" + b" " * 4096 + b"}")),
            (422, http.post("/order", content=b"{not json")),
            (422, http.post("/order", json=seed_order("openapi-2", region="XX"))),
            (422, http.get("/orders", params={"limit": 0})),
            (422, http.post("/orders", json={"orders": []})),
            (405, http.delete("/orders")),
        ]
    for status, response in sent:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        jsonschema.validate(response.json(), error_body)
        if status == 409:
            jsonschema.validate(response.json(), _schema_of(spec, "ConflictBody"))
    fields = {status: r.json()["detail"][0]["field"] for status, r in sent}
    allow = {r.url.path: r.headers["allow"] for status, r in sent if status == 405}
    # /orders is GET in one router and POST in another: Allow names both (Starlette's: GET)
    assert allow == {"/order/openapi-1": "GET", "/orders": "GET, POST"}
    assert fields[401] == "authorization" and fields[413] == "body" and fields[405] == "method"
