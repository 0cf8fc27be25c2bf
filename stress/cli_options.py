"""Options that ``orders-stress`` and ``orders-stress verify`` share: one definition each, so
the flag name, its environment variable and its help text cannot drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

from order_contracts import envvars

RoutingOption = Annotated[
    str | None,
    typer.Option(
        envvar=envvars.ORDER_ROUTING_SOURCE,
        help="routing document: PATH, http(s) URL or configmap:NAMESPACE/NAME",
    ),
]
NodeTokenOption = Annotated[
    str | None, typer.Option(envvar=envvars.NODE_API_TOKEN, help="nodes' bearer token, if set")
]
