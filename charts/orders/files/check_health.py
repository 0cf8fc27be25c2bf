"""`helm test`: every region's Service (and follower Service) answers GET /health with a status
other than "down". https:// URLs are verified against ORDER_CA_BUNDLE when it is set (the
chart's TLS), else against the system's trust store."""

import json
import os
import ssl
import sys
import urllib.request

TIMEOUT = float(sys.argv[1])
CONTEXT = ssl.create_default_context(cafile=os.environ.get("ORDER_CA_BUNDLE") or None)
failures = []
for url in sys.argv[2:]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT, context=CONTEXT) as response:
            health = json.load(response)
    except Exception as exc:
        failures.append(f"{url}: {exc}")
        continue
    status = health.get("status")
    print(f"{url}: {status} ({health.get('region')}, {health.get('orders')} orders)")
    if status == "down":
        failures.append(f"{url}: status is down")
if failures:
    print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"all {len(sys.argv) - 2} services answer /health")
