"""Tether's settings: one object, read from `TETHER_*` environment variables."""

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProviderSettings(BaseModel):
    """One provider's (or one family's, e.g. `google`) app credentials and base URLs, from
    `TETHER_PROVIDERS__<KEY>__<FIELD>`, e.g. `TETHER_PROVIDERS__GOOGLE__CLIENT_ID`."""

    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    # Google Ads and Microsoft Advertising: the developer token that gives the app API access.
    developer_token: str | None = Field(default=None, repr=False)
    # Named bases of the definition (see docs/providers.md), e.g. BASE_URLS__ADS.
    base_urls: dict[str, str] = {}
    # Google: the OAuth consent screen is in "Testing", so refresh tokens end after 7 days.
    consent_testing: bool = False


class Settings(BaseSettings):
    """Everything that differs between the embedded default and a deployment at scale."""

    model_config = SettingsConfigDict(
        env_prefix="TETHER_", env_nested_delimiter="__", extra="ignore"
    )

    # "production" turns off the sandbox and the demo, and refuses to start without explicit
    # keys, PostgreSQL, a broker and an https public URL (see settings_checks.py).
    env: Literal["embedded", "production"] = "embedded"
    data_dir: Path = Path(".tether")
    database_url: str | None = None
    # PostgreSQL connections each process keeps open, and the extra ones it may open at a peak.
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    db_max_overflow: int = Field(default=20, ge=0, le=1000)
    # Newest first, comma-separated `key_id:base64key`; empty means the embedded key file.
    secret_keys: str | None = Field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    sandbox_url: str | None = None
    sandbox_client_id: str = "tether"
    sandbox_client_secret: str = Field(default="tether-sandbox-secret", repr=False)
    mount_sandbox: bool = True
    # Catalog providers the sandbox stands in for, besides its own (for demos, tests, benches):
    # e.g. "google_ads,meta_ads" points those providers at the sandbox's dialect of them.
    sandbox_stands_in_for: str = ""
    # Per provider (or family): app credentials and base URLs (see docs/providers.md).
    providers: dict[str, ProviderSettings] = {}
    # Operators' own providers, declared in a TOML or YAML file.
    providers_file: Path | None = None
    seed_demo: bool = True
    oauth_state_lifetime_seconds: int = Field(default=600, ge=1, le=86_400)
    max_body_bytes: int = Field(default=1_000_000, ge=1, le=1_000_000_000)
    log_level: str = "info"
    # "json": one JSON object a line, for a log collector; "console": lines a person reads.
    # Unset: JSON in production, console otherwise (see docs/operations.md).
    log_format: Literal["json", "console"] | None = None
    # Proxies (IP addresses or CIDR networks, comma-separated) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed. Empty: nobody's, so a client cannot pose as another address.
    trusted_proxies: str = ""
    # On SIGTERM, how long requests and jobs in flight may take to finish before the process
    # closes its pools and exits anyway.
    shutdown_grace_seconds: int = Field(default=30, ge=0, le=3600)

    # The health engine (see docs/health.md).
    broker_url: str | None = Field(default=None, repr=False)
    # Prefix of every Redis key the broker uses, so several Tethers can share one Redis.
    broker_namespace: str = "dramatiq"
    # Run the scheduler (and, without a broker, a worker) inside `tether serve`.
    background: bool = True
    provider_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    worker_threads: int = Field(default=8, ge=1, le=1000)
    check_interval_seconds: int = Field(default=900, ge=1, le=7 * 86_400)
    accounts_check_interval_seconds: int = Field(default=6 * 3600, ge=1, le=30 * 86_400)
    refresh_window_seconds: int = Field(default=600, ge=0, le=7 * 86_400)
    refresh_lease_seconds: int = Field(default=60, ge=1, le=3600)
    expiring_warning_days: int = Field(default=7, ge=0, le=365)
    failing_alarm_after_seconds: int = Field(default=3600, ge=0, le=30 * 86_400)
    backoff_base_seconds: int = Field(default=30, ge=1, le=86_400)
    backoff_max_seconds: int = Field(default=3600, ge=1, le=7 * 86_400)
    outage_window_seconds: int = Field(default=600, ge=1, le=86_400)
    outage_min_authorizations: int = Field(default=3, ge=1)
    outage_ratio: float = Field(default=0.5, gt=0, le=1)
    # Probes in flight at once within one check job (a worker runs `worker_threads` jobs at once).
    check_concurrency: int = Field(default=16, ge=1, le=1000)
    scheduler_tick_seconds: float = Field(default=2.0, gt=0, le=3600)
    scheduler_batch: int = Field(default=2000, ge=1, le=1_000_000)
    # How long a check handed to the queue may stay unanswered before the scheduler resends it.
    dispatch_timeout_seconds: int = Field(default=300, ge=1, le=86_400)

    # Prometheus metrics (see docs/operations.md). Without a token /metrics answers anyone who
    # reaches it (counts by provider, never a secret); with one, only `Bearer <token>`.
    metrics_token: str | None = Field(default=None, repr=False, min_length=16)
    # The database is read for the scrape-time gauges at most this often per process.
    metrics_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
    # Where `tether worker` answers /metrics, /livez and /readyz (host: TETHER_HOST's); port 0
    # takes any free one, printed at start (for several workers on one machine without ports).
    worker_host: str | None = None
    worker_port: int = Field(default=9100, ge=0, le=65535)

    # The data sync (see docs/sync.md).
    sync_interval_hours: int = Field(default=24, ge=1, le=24 * 31)
    # How many days back (today included) each connection's metrics are kept loaded.
    sync_history_days: int = Field(default=90, ge=1, le=3660)
    # Calls in flight at once per authorization and per provider: within one process, and
    # across every worker when the broker is Redis (see sync/limits.py).
    sync_authorization_concurrency: int = Field(default=2, ge=1, le=1000)
    sync_provider_concurrency: int = Field(default=64, ge=1, le=100_000)

    # Email. Without an SMTP host, each message is written to `<data_dir>/outbox/` as a .eml file.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    # "starttls": upgrade a plain connection; "tls": TLS from the start (port 465); "none".
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_from: str = "Tether <tether@localhost>"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Lapses of a digest provider that reach one member within this window go out in one email.
    email_digest_window_seconds: int = Field(default=900, ge=0, le=86_400)
    # The wait before a failed send is tried again; it doubles with each failure, up to 15 min.
    email_retry_seconds: int = Field(default=60, ge=1, le=86_400)
    # Tries before an email the server keeps refusing for now (4xx, no connection) is abandoned;
    # a permanent refusal of the recipient (5xx) abandons it at the first.
    email_max_attempts: int = Field(default=8, ge=1, le=50)
    # Webhooks go only to public addresses; this lets them reach loopback and private networks
    # too, for a receiver hosted beside Tether (see docs/notifications.md).
    webhooks_allow_private_targets: bool = False

    # The web app (see docs/web.md). A session ends after this long unused, and at the latest
    # this many days after sign-in.
    session_idle_hours: int = Field(default=12, ge=1, le=24 * 30)
    session_max_days: int = Field(default=14, ge=1, le=365)
    # Refused sign-ins allowed per email and per client address before sign-ins slow down:
    # then each attempt waits, from the first delay doubling up to the longest. A count is
    # forgotten after the window passes without a refusal. Nobody is ever locked out.
    login_failures_per_email: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=30, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1)
    login_delay_seconds: int = Field(default=2, ge=1)
    login_delay_max_seconds: int = Field(default=60, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        """Each entry an IP address or network: uvicorn would take a typo as a host name that
        never matches, and the proxy's clients would all share its address unnoticed."""
        bad = [entry for entry in proxy_entries(value) if not _is_network(entry)]
        if bad:
            raise ValueError(
                f"not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8): "
                f"{', '.join(repr(entry) for entry in bad)}"
            )
        return value

    @property
    def resolved_log_format(self) -> Literal["json", "console"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env == "production" else "console"

    @model_validator(mode="after")
    def _production_defaults(self) -> "Settings":
        """In production the sandbox and the demo are off unless asked for (and then refused,
        see settings_checks.py)."""
        if self.env == "production":
            for name in ("mount_sandbox", "seed_demo"):
                if name not in self.model_fields_set:
                    setattr(self, name, False)
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL: the setting with its driver, or SQLite in data_dir."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'tether.db').resolve()}"
        return async_database_url(self.database_url)

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def sandbox_runs(self) -> bool:
        """Whether a sandbox answers for this Tether: mounted at /sandbox, or at its own URL."""
        return self.mount_sandbox or bool(self.sandbox_url)

    @property
    def resolved_sandbox_url(self) -> str:
        return (self.sandbox_url or f"{self.resolved_public_url}/sandbox").rstrip("/")

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.resolved_public_url}/oauth/callback"


def _is_network(entry: str) -> bool:
    # Strict, as uvicorn reads it: 10.0.0.1/8 (host bits set) would be a name matching nothing.
    try:
        ipaddress.ip_network(entry)
    except ValueError:
        return False
    return True


def proxy_entries(value: str) -> list[str]:
    """The entries of a comma-separated list of addresses, blanks left out."""
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def async_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs and pick Tether's async drivers."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
