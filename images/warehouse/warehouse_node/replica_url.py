"""``NODE_REPLICA_URL``: where Litestream keeps a shard's replica, checked before anything runs.

Two kinds are supported: ``file:///absolute/dir`` (a laptop, tests, an NFS mount) and
``s3://bucket/path`` (any S3-compatible store; endpoint and credentials come from the
``NODE_REPLICA_S3_*`` variables). Anything else is refused at start with one line, because a
typo here would otherwise surface as Litestream errors long after the node said it was ready.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


def check_replica_url(value: str) -> str:
    """``value`` stripped, or ValueError saying what is wrong with it ("" = replication off)."""
    url = value.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{url!r}: a file replica URL is file:///absolute/dir (no host)")
        if not parts.path.startswith("/") or parts.path.rstrip("/") == "":
            raise ValueError(f"{url!r}: a file replica URL needs an absolute directory")
        if parts.query or parts.fragment:
            raise ValueError(f"{url!r}: a file replica URL takes no ?query or #fragment")
        return url
    if parts.scheme == "s3":
        if not _BUCKET.match(parts.netloc):
            raise ValueError(f"{url!r}: s3://BUCKET/path needs a valid bucket name")
        if parts.query or parts.fragment:
            raise ValueError(
                f"{url!r}: set the endpoint and region with NODE_REPLICA_S3_ENDPOINT / "
                "NODE_REPLICA_S3_REGION, not in the URL"
            )
        return url
    raise ValueError(f"{url!r}: the replica URL must be file:///dir or s3://bucket/path")


def file_replica_dir(url: str) -> str | None:
    """The directory of a ``file://`` replica, None for other kinds."""
    parts = urlsplit(url)
    return parts.path if parts.scheme == "file" else None
