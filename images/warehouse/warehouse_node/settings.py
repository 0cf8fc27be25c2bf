"""The node's configuration: environment variables, overridden by command-line flags.

Every setting has one documented environment variable; ``warehouse-node`` flags pass the same
names as init values, which pydantic-settings ranks above the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from order_contracts import envvars
from order_contracts.regions import (
    ConfigError,
    default_regions_text,
    normalize_region,
    parse_regions,
)

from .replica_url import check_replica_url
from .tls import check_tls_pair

MAX_BODY_BYTES = 64 * 1024
# Bound on the start-up PRAGMA quick_check (docs/storage-integrity.md: ~5 s at 1M orders).
QUICK_CHECK_SECONDS = 120.0
# POST /orders: orders per request, and its own body limit (a thousand typical orders with a few
# items each are ~0.5 MB; 16 MiB leaves room for big ones without letting a body exhaust memory).
MAX_BULK = 1000
MAX_BULK_BODY_BYTES = 16 * 1024 * 1024


class NodeSettings(BaseSettings):
    """What one node needs to know. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True, frozen=True)

    region: str = Field(validation_alias=envvars.NODE_REGION, description="this warehouse's region")
    data_dir: Path = Field(Path("data"), validation_alias="DATA_DIR")
    host: str = Field("0.0.0.0", validation_alias="HOST")
    port: int = Field(8000, ge=1, le=65535, validation_alias="PORT")
    api_token: str = Field("", validation_alias=envvars.NODE_API_TOKEN, repr=False)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=envvars.LOG_LEVEL
    )
    order_regions: str = Field(default_regions_text(), validation_alias=envvars.ORDER_REGIONS)
    max_in_flight: int = Field(128, ge=1, validation_alias="NODE_MAX_IN_FLIGHT")
    max_rps: float = Field(4000.0, gt=0, validation_alias="NODE_MAX_RPS")
    #: what one order of a POST /orders adds to the rate, relative to a request of its own:
    #: benchmarks.node_ingest measures ~61 us of CPU per order in a bulk, ~450 us per POST /order
    bulk_order_weight: float = Field(0.1, gt=0, le=1, validation_alias="NODE_BULK_ORDER_WEIGHT")
    synchronous: Literal["FULL", "NORMAL"] = Field("FULL", validation_alias="NODE_SYNCHRONOUS")
    max_batch: int = Field(512, ge=1, le=10_000, validation_alias="NODE_MAX_BATCH")
    max_body_bytes: int = Field(MAX_BODY_BYTES, ge=1024, validation_alias="NODE_MAX_BODY_BYTES")
    max_bulk: int = Field(MAX_BULK, ge=1, le=100_000, validation_alias="NODE_MAX_BULK")
    max_bulk_body_bytes: int = Field(
        MAX_BULK_BODY_BYTES, ge=1024, validation_alias="NODE_MAX_BULK_BODY_BYTES"
    )
    shutdown_grace: int = Field(10, ge=0, validation_alias="NODE_SHUTDOWN_GRACE")
    # After a failed write (disk full), the node tries a write of its own this often until one
    # commits, so it leaves `degraded` by itself once the disk has room (docs/node.md).
    write_probe_interval: float = Field(
        1.0, gt=0, le=60, validation_alias="NODE_WRITE_PROBE_INTERVAL"
    )
    access_log: bool = Field(False, validation_alias="NODE_ACCESS_LOG")
    # Replication (docs/replication.md): Litestream streams the database to the replica URL.
    replica_url: str = Field("", validation_alias="NODE_REPLICA_URL")
    replication: Literal["sync", "async"] = Field("sync", validation_alias="NODE_REPLICATION")
    replication_timeout: float = Field(
        5.0, gt=0, le=300, validation_alias="NODE_REPLICATION_TIMEOUT"
    )
    role: Literal["primary", "follower"] = Field("primary", validation_alias="NODE_ROLE")
    primary_url: str = Field("", validation_alias="NODE_PRIMARY_URL")
    litestream: Literal["child", "external"] = Field("child", validation_alias="NODE_LITESTREAM")
    litestream_socket: str = Field("", validation_alias="NODE_LITESTREAM_SOCKET")
    litestream_config: str = Field("", validation_alias="NODE_LITESTREAM_CONFIG")
    litestream_bin: str = Field("", validation_alias="NODE_LITESTREAM_BIN")
    s3_endpoint: str = Field("", validation_alias="NODE_REPLICA_S3_ENDPOINT")
    s3_region: str = Field("", validation_alias="NODE_REPLICA_S3_REGION")
    s3_access_key_id: str = Field("", validation_alias="NODE_REPLICA_S3_ACCESS_KEY_ID")
    s3_secret_access_key: str = Field(
        "", validation_alias="NODE_REPLICA_S3_SECRET_ACCESS_KEY", repr=False
    )
    file_check_seconds: float = Field(1.0, gt=0, validation_alias="NODE_FILE_CHECK_SECONDS")
    # Slow clients (docs/node.md#slow-clients): a request must arrive whole within this bound;
    # idle keep-alive connections close after keep_alive_seconds; open connections are capped.
    request_read_timeout: float = Field(
        10.0, gt=0, le=3600, validation_alias="NODE_REQUEST_READ_TIMEOUT_SECONDS"
    )
    keep_alive_seconds: int = Field(5, ge=1, le=3600, validation_alias="NODE_KEEP_ALIVE_SECONDS")
    max_connections: int = Field(1024, ge=1, validation_alias="NODE_MAX_CONNECTIONS")
    quick_check_seconds: float = Field(
        QUICK_CHECK_SECONDS, ge=0, validation_alias="NODE_QUICK_CHECK_SECONDS"
    )
    # TLS (docs/tls.md): both set = HTTPS only; the pair is loaded here so a bad file stops the
    # start with one line instead of uvicorn's traceback.
    # NODE_TLS_CERT_FILE / NODE_TLS_KEY_FILE: the first slice's names, kept as aliases.
    tls_cert_file: str = Field("", validation_alias=AliasChoices(*envvars.NODE_TLS_CERT_ALIASES))
    tls_key_file: str = Field("", validation_alias=AliasChoices(*envvars.NODE_TLS_KEY_ALIASES))
    # How often (s) the files are checked for a renewal (tls.TlsReloader); 0 = never.
    tls_reload_interval: float = Field(
        10.0, ge=0, le=3600, validation_alias="NODE_TLS_RELOAD_INTERVAL"
    )

    @field_validator("region", "log_level", "synchronous", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return normalize_region(value) if isinstance(value, str) else value

    @field_validator("replication", "role", "litestream", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("replica_url", mode="after")
    @classmethod
    def _replica_url(cls, value: str) -> str:
        return check_replica_url(value)

    @model_validator(mode="after")
    def _region_is_configured(self) -> NodeSettings:
        try:
            regions = parse_regions(self.order_regions)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        if self.region not in regions:
            raise ValueError(
                f"NODE_REGION {self.region!r} is not one of ORDER_REGIONS ({', '.join(regions)})"
            )
        if self.role == "follower" and not self.replica_url:
            raise ValueError("NODE_ROLE=follower needs NODE_REPLICA_URL (the replica to follow)")
        check_tls_pair(self.tls_cert_file, self.tls_key_file)
        return self

    @property
    def tls(self) -> bool:
        """The node serves HTTPS only (NODE_TLS_CERT and NODE_TLS_KEY set)."""
        return bool(self.tls_cert_file)

    @property
    def replicated(self) -> bool:
        """Litestream streams this node's database (primary) or feeds it (follower)."""
        return bool(self.replica_url)

    @property
    def sync_acks(self) -> bool:
        """A 201/200 waits until the replica holds the order (primary, replica set, sync)."""
        return self.replicated and self.role == "primary" and self.replication == "sync"

    @property
    def regions(self) -> tuple[str, ...]:
        return parse_regions(self.order_regions)

    @property
    def db_path(self) -> Path:
        """The database this node serves: a follower's own read-only copy is follower.db."""
        return self.data_dir / ("follower.db" if self.role == "follower" else "orders.db")

    @property
    def replicated_db_path(self) -> Path:
        """The database path Litestream's config names (the primary's file, also for a
        follower, which restores that database's replica into :attr:`db_path`)."""
        return self.data_dir / "orders.db"
