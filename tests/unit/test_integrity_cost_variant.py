"""``benchmarks.integrity_cost`` compares the node with its ``unchecked`` twin: that twin must
really lack issue 16's per-request checks (else the benchmark compares the node with itself),
and the real node must still have them. Each side runs in its own interpreter, since taking
the checks out patches modules for the whole process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys, tempfile, os
from pathlib import Path
if sys.argv[1] == "unchecked":
    from benchmarks.node_servers import without_integrity_checks
    without_integrity_checks()
import warehouse_node.routers.orders as orders
from warehouse_node.body import BodyRefused
from warehouse_node.file_loss import FileWatch

seen = []
try:
    orders.check_content_type([(b"content-type", b"text/plain")])
except BodyRefused as exc:
    seen.append(f"content-type {exc.status}")
try:
    orders.parse_json(b'{"total": "1.00", "total": "2.00"}')
except BodyRefused as exc:
    seen.append(f"repeated key {exc.status}")
db = Path(tempfile.mkdtemp()) / "orders.db"
db.write_bytes(b"")
watch = FileWatch(db)
os.unlink(db)
if watch.problem() is not None:
    seen.append("file loss")
watch.close()
print(",".join(seen))
"""


def checks_seen(variant: str) -> list[str]:
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, variant],
        capture_output=True, text=True, check=True, cwd=root, timeout=60,
    )  # fmt: skip
    return [c for c in out.stdout.strip().split(",") if c]


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("durable", ["content-type 415", "repeated key 422", "file loss"]),
        ("unchecked", []),
    ],
)
def test_only_the_unchecked_twin_lacks_the_checks(variant: str, expected: list[str]) -> None:
    assert checks_seen(variant) == expected
