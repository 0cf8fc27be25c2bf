"""``warehouse-controller``: run the operator in this namespace with peering.

Equivalent to ``kopf run -m controller --namespace $CONTROLLER_NAMESPACE`` but it reads the
configuration first, so a bad variable is one clear line and exit code 2, not a stack trace.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence

import kopf

from order_contracts.regions import ConfigError
from order_contracts.version import add_version_flag

from . import handlers  # noqa: F401  (registers the handlers with kopf's default registry)
from .config import ControllerConfig


def run(
    config: ControllerConfig,
    stop_flag: threading.Event | None = None,
    ready_flag: threading.Event | None = None,
    liveness_endpoint: str | None = None,
) -> None:
    """Run one operator until ``stop_flag`` is set (or SIGTERM/SIGINT in the main thread).

    Works in any thread: kopf makes a fresh event loop, so tests run two of them side by side.
    """
    # Name our record in the KopfPeering status after the pod (kopf itself only reads POD_ID).
    pod = os.environ.get("POD_ID") or os.environ.get("POD_NAME")
    kopf.run(
        identity=pod or None,  # type: ignore[arg-type]  # kopf's Identity is a NewType of str
        namespaces=[config.namespace],
        standalone=config.standalone,
        peering_name=config.peering or None,
        priority=config.priority,
        liveness_endpoint=liveness_endpoint,
        memo=kopf.Memo(config=config),
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="warehouse-controller",
        description="Keep the warehouse-routing ConfigMap true (kopf operator, peering on). "
        "Configured by environment variables; see the README's Controller section.",
    )
    add_version_flag(parser)
    parser.add_argument("--verbose", action="store_true", help="log kopf's debug messages")
    parser.add_argument(
        "--log-format",
        choices=["full", "plain", "json"],
        default="full",
        help="log line format (default: full)",
    )
    args = parser.parse_args(argv)
    try:
        config = ControllerConfig.from_env()
    except ConfigError as exc:
        print(f"warehouse-controller: {exc}", file=sys.stderr)
        return 2
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()])
    if not args.verbose:
        # kopf logs "Handler ... succeeded" for every watch event; the routing change line
        # and kopf's warnings are what an operator needs to read.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    liveness = os.environ.get("CONTROLLER_LIVENESS", "").strip() or None
    run(config, liveness_endpoint=liveness)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
