"""Every setting of the server in one object, read from the environment.

The defaults run the embedded setup (SQLite file under ./data, in-process
cache); DATABASE_URL and CACHE_URL switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MIN_JWT_SECRET_BYTES = 32
# Used only in development so that `make run` works without configuration.
DEVELOPMENT_JWT_SECRET = "anfu-development-secret-not-for-production-use"
# The platform city's districts by default (淮安市); the demo's places are keyed by them.
HUAIAN_DISTRICTS = ("清江浦区", "淮阴区", "淮安区", "洪泽区", "涟水县", "盱眙县", "金湖县")
MAX_DISTRICT_LENGTH = 32
# scheme://host[:port], as a browser sends it in Origin.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class Settings(BaseSettings):
    """Server configuration; every field can be set by an environment variable."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite://./data/anfu.sqlite3"
    cache_url: str = "memory://"
    anfu_env: Literal["development", "production"] = "development"
    anfu_jwt_secret: str = ""
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For is believed; none
    # by default. Behind them the client is the nearest address that is not one of them.
    trusted_proxies: str = ""
    db_pool_min: int = 2
    db_pool_max: int = 20

    jwt_issuer: str = "anfu"
    jwt_audience: str = "anfu-api"
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    # Failed logins allowed per phone and per client address within the window.
    login_failures_per_phone: int = 5
    login_failures_per_address: int = 30
    login_window_seconds: int = 15 * 60
    # Rate limits (services/limits.py): registrations (consumer or merchant) per client address,
    # redemption codes issued per user, and GraphQL requests per signed-in user and per address
    # of anonymous callers, each within its window.
    registrations_per_address: int = Field(default=10, ge=1)
    registration_window_seconds: int = Field(default=60 * 60, ge=1)
    redemption_codes_per_user: int = Field(default=30, ge=1)
    redemption_code_window_seconds: int = Field(default=10 * 60, ge=1)
    requests_per_user: int = Field(default=600, ge=1)
    requests_per_address: int = Field(default=300, ge=1)
    request_window_seconds: int = Field(default=60, ge=1)
    # A token's user and session are looked up in the database at most this often per process;
    # revocations reach every process at once through the shared cache.
    session_recheck_seconds: float = Field(default=60, ge=0)
    # The public-read cache (core/public_cache.py): what anonymous callers read, at most this
    # many entries per process, each kept at most this long (writes invalidate at once; this
    # only bounds garbage). 0 entries turns it off.
    public_cache_entries: int = Field(default=10_000, ge=0)
    public_cache_seconds: float = Field(default=60, gt=0)
    # Live subscriptions: WebSocket connections one user may hold open per server process,
    # subscriptions per connection, and events waiting for one subscriber before the oldest
    # is dropped.
    websockets_per_user: int = Field(default=5, ge=1)
    # An open connection's session is looked at again this often: a logout, a reused refresh
    # token or a deactivation closes it (4403) within this time.
    websocket_session_check_seconds: float = Field(default=10, gt=0)
    subscriptions_per_connection: int = Field(default=20, ge=1)
    subscriber_queue_size: int = Field(default=256, ge=1)

    # What one operation may ask for (schema/limits.py); over any of them it is refused with
    # QUERY_TOO_COMPLEX before it runs. Cost: about 1 per object or value, each list weighted by
    # its page size (`first`, else 20), nested lists multiplied.
    max_depth: int = Field(default=12, ge=1)
    max_aliases: int = Field(default=15, ge=0)
    max_tokens: int = Field(default=2000, ge=1)
    max_directives: int = Field(default=50, ge=0)
    max_cost: int = Field(default=5000, ge=1)
    # Characters of document text (comments included), and how often one field may be selected
    # under one name in one selection set: graphql-core's validation is quadratic in repeats.
    max_query_length: int = Field(default=32_768, ge=100)
    max_repeats: int = Field(default=20, ge=1)
    # Queries costing more than `heavy_cost` run at most `heavy_at_once` at a time per process:
    # a few heavy ones take turns rather than stall every other request together.
    heavy_cost: int = Field(default=2500, ge=1)
    heavy_at_once: int = Field(default=1, ge=1)
    # HTTP (transport/): a larger request body is refused with 413, and an operation still
    # running after this many seconds is stopped. 128 KiB holds the longest document and the
    # longest texts an operation takes; every byte more is JSON to decode before any refusal.
    max_body_bytes: int = Field(default=128 * 1024, ge=1024)
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    # /metrics on the API port; unset: on in development, off in production.
    metrics_enabled: bool | None = Field(default=None, alias="ANFU_METRICS")
    # Origins of browser pages (regulator tools) that may call the API, a JSON list such as
    # ["https://tools.example.gov.cn"]; none by default.
    cors_origins: tuple[str, ...] = Field(default=(), alias="ANFU_CORS_ORIGINS")

    # Rules (DESIGN.md "Rules with their defaults"); amounts in fen.
    card_cash_cap_fen: int = 500_000
    consumer_merchant_cap_fen: int = 2_000_000
    cooling_off_days: int = 7
    redemption_code_ttl_seconds: int = 300
    complaint_response_hours: int = 72
    # How often each server escalates overdue complaints and forgets old idempotency keys.
    maintenance_seconds: float = 300

    # Risk alerts (DESIGN.md "Credit and risk"; services/risk.py); amounts in fen.
    # SALES_SPIKE: 7-day sales over `factor` times the average week of the 90 days before,
    # and over `min_fen`, for a merchant selling for at least `history_days`.
    risk_sales_spike_factor: float = 3.0
    risk_sales_spike_min_fen: int = 500_000
    risk_history_days: int = 30
    # REDEMPTION_ANOMALY: 14-day redemptions under this share of the 90-day norm while cards
    # still sell; over `burst_count` redemptions at one store within `burst_minutes`; more
    # than `night_redemptions` redemptions between 00:00 and `night_end_hour` local time a day.
    risk_redemption_stall_ratio: float = 0.3
    risk_redemption_burst_count: int = 20
    risk_redemption_burst_minutes: int = 10
    risk_night_redemptions: int = 0
    risk_night_end_hour: int = Field(default=6, ge=1, le=23)
    # LARGE_PURCHASE: one consumer pays this much or more to one merchant within 24 hours.
    risk_large_purchase_fen: int = 1_000_000
    # ESCROW_SHORTFALL: custody below the ratio, or liability over this with a ratio under 1.
    risk_liability_fen: int = 20_000_000
    # COMPLAINT_SURGE: over `per_100` complaints per 100 live cards in 30 days, at least `min`.
    risk_complaint_surge_per_100: float = 5.0
    risk_complaint_surge_min: int = 3
    # STORE_CLOSURES: this share of the stores or more closed within 30 days.
    risk_store_closure_share: float = 0.3
    # A state (custody short, every store closed) a regulator closed an alert about is looked
    # at again after this long.
    risk_recheck_hours: float = 24

    timezone: str = Field(default="Asia/Shanghai", alias="ANFU_TIMEZONE")
    # Every store is in one of these, so statistics by district add up (a JSON list).
    districts: tuple[str, ...] = Field(default=HUAIAN_DISTRICTS, alias="ANFU_DISTRICTS")
    log_level: str = Field(default="INFO", alias="ANFU_LOG_LEVEL")
    # `json`: one JSON object per line (transport/logs.py); `text` for a terminal. Unset: JSON
    # in production, text in development.
    log_format: Literal["json", "text"] | None = Field(default=None, alias="ANFU_LOG_FORMAT")
    # `anfu serve`: server processes (more than one needs PostgreSQL and Redis), and how long
    # requests in flight may take to finish after SIGTERM before they are cancelled.
    workers: int = Field(default=1, ge=1, alias="ANFU_WORKERS")
    shutdown_timeout_seconds: float = Field(default=30, gt=0)

    # Persisted operations (services/persisted.py). `open` runs any document; `allowlist` runs
    # only the trusted documents of the manifest, except for REGULATOR tokens.
    persisted: Literal["open", "allowlist"] = Field(default="open", alias="ANFU_PERSISTED")
    # The manifest `anfu persisted build` writes; empty: clients/manifest.json beside the code.
    persisted_manifest: str = Field(default="", alias="ANFU_PERSISTED_MANIFEST")
    # Apollo APQ documents kept in the shared cache: none larger than this, each for this long,
    # and in the in-process cache no more than this many (Redis has only the time bound).
    apq_max_bytes: int = Field(default=16 * 1024, ge=1)
    apq_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    apq_max_entries: int = Field(default=10_000, ge=1)
    # Trusted and stored documents run from compiled plans (plans/); `off`: every document
    # goes through the general executor.
    plans: Literal["on", "off"] = Field(default="on", alias="ANFU_PLANS")

    @field_validator("districts")
    @classmethod
    def _check_districts(cls, districts: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(name.strip() for name in districts)
        if not names:
            raise ValueError("ANFU_DISTRICTS names at least one district")
        if any(not name or len(name) > MAX_DISTRICT_LENGTH for name in names):
            raise ValueError(f"A district name has 1 to {MAX_DISTRICT_LENGTH} characters")
        if len(set(names)) != len(names):
            raise ValueError("ANFU_DISTRICTS names a district twice")
        return names

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip():
                try:
                    ipaddress.ip_network(entry.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"TRUSTED_PROXIES lists {entry.strip()!r}, not an address or network"
                    ) from None
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(
            ipaddress.ip_network(entry.strip(), strict=False)
            for entry in self.trusted_proxies.split(",")
            if entry.strip()
        )

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"ANFU_CORS_ORIGINS lists {origin!r}: an origin is scheme://host[:port]"
                )
        return origins

    # Payments (DESIGN.md "Payments and reconciliation"). `sandbox` confirms every payment at
    # once (purchaseCard and topUpCard in one step); `wechat` is WeChat Pay API v3 in public-key
    # mode, two steps: createPaymentOrder, then the channel's notification. Production refuses
    # the sandbox unless ANFU_DEMO says the deployment is a demonstration.
    payment_channel: Literal["sandbox", "wechat"] = Field(
        default="sandbox", alias="ANFU_PAYMENT_CHANNEL"
    )
    demo_deployment: bool = Field(default=False, alias="ANFU_DEMO")
    # An unpaid order is asked about once, then closed, after this long; the sweep that does it
    # (and sends again refunds the channel did not take) runs this often.
    payment_order_minutes: int = Field(default=15, ge=1)
    payment_sweep_seconds: float = Field(default=60, gt=0)
    wechatpay_gateway: str = "https://api.mch.weixin.qq.com"
    wechatpay_mchid: str = ""
    wechatpay_appid: str = ""
    # The merchant API private key (PEM file) and its certificate's serial number.
    wechatpay_private_key_path: str = ""
    wechatpay_cert_serial: str = ""
    # WeChat Pay's public key (PEM file) and its id (PUB_KEY_ID_...): public-key mode.
    wechatpay_public_key_path: str = ""
    wechatpay_public_key_id: str = ""
    # The APIv3 key (32 bytes) that decrypts notifications.
    wechatpay_apiv3_key: str = ""
    wechatpay_notify_url: str = ""
    wechatpay_timeout_seconds: float = Field(default=10, gt=0)
    # A notification whose Wechatpay-Timestamp is further than this from now is refused.
    notification_max_skew_seconds: int = Field(default=300, ge=1)

    # Reconciliation (services/reconciliation.py). A difference about a payment or refund this
    # close to midnight, booked on the adjacent day, is a timing case and explained by itself.
    reconciliation_cutoff_seconds: int = Field(default=300, ge=0)
    # The custody bank's CSV export: our field=the bank's column header, comma-separated;
    # fields date, reference, amount (yuan), optional direction (借/贷) and account.
    bank_csv_columns: str = (
        "date=交易日期,reference=交易参考号,amount=发生额,direction=借贷标志,account=子账户"
    )
    # Where `anfu seed-demo` writes the demo's channel bills and bank statements.
    statements_dir: str = "data/statements"

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> Settings:
        if not self.is_production:
            return self
        if len(self.anfu_jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(
                f"ANFU_JWT_SECRET must be set to at least {MIN_JWT_SECRET_BYTES} bytes "
                "when ANFU_ENV=production"
            )
        if self.anfu_jwt_secret == DEVELOPMENT_JWT_SECRET:
            raise ValueError("ANFU_JWT_SECRET must not be the published development secret")
        if self.payment_channel == "sandbox" and not self.demo_deployment:
            raise ValueError(
                "ANFU_PAYMENT_CHANNEL=sandbox approves every payment: in production set "
                "ANFU_PAYMENT_CHANNEL=wechat, or ANFU_DEMO=1 for a demonstration deployment"
            )
        return self

    @model_validator(mode="after")
    def _require_wechat_configuration(self) -> Settings:
        if self.payment_channel != "wechat":
            return self
        missing = [
            name.upper()
            for name in (
                "wechatpay_mchid",
                "wechatpay_appid",
                "wechatpay_private_key_path",
                "wechatpay_cert_serial",
                "wechatpay_public_key_path",
                "wechatpay_public_key_id",
                "wechatpay_apiv3_key",
                "wechatpay_notify_url",
            )
            if not getattr(self, name)
        ]
        if missing:
            raise ValueError(f"ANFU_PAYMENT_CHANNEL=wechat needs {', '.join(missing)}")
        if len(self.wechatpay_apiv3_key.encode()) != 32:
            raise ValueError("WECHATPAY_APIV3_KEY must be 32 bytes")
        return self

    @property
    def is_production(self) -> bool:
        return self.anfu_env == "production"

    @property
    def serves_metrics(self) -> bool:
        return self.metrics_enabled if self.metrics_enabled is not None else not self.is_production

    @property
    def log_json(self) -> bool:
        return self.log_format == "json" if self.log_format is not None else self.is_production

    @property
    def jwt_secret(self) -> str:
        return self.anfu_jwt_secret or DEVELOPMENT_JWT_SECRET

    @property
    def orm_db_url(self) -> str:
        """DATABASE_URL in the form Tortoise expects, with a sized asyncpg pool."""
        return orm_url(self.database_url, self.db_pool_min, self.db_pool_max)

    def tortoise_config(self) -> dict[str, Any]:
        return tortoise_config(self.orm_db_url)


def orm_url(url: str, pool_min: int = 2, pool_max: int = 20) -> str:
    """Map postgres:// and postgresql:// to asyncpg and size its pool unless the URL does."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "asyncpg"}:
        return url
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("minsize", str(pool_min))
    query.setdefault("maxsize", str(pool_max))
    return urlunsplit(("asyncpg", parts.netloc, parts.path, urlencode(query), parts.fragment))


def tortoise_config(db_url: str) -> dict[str, Any]:
    connection: str | dict[str, Any] = db_url
    if urlsplit(db_url).scheme == "sqlite":
        # Write transactions that wait for the write lock (core/sqlite.py).
        from tortoise.backends.base.config_generator import expand_db_url

        connection = {**expand_db_url(db_url), "engine": "core.sqlite"}
    return {
        "connections": {"default": connection},
        "apps": {
            "anfu": {
                "models": ["models"],
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


@functools.cache
def get_settings() -> Settings:
    return Settings()


# For Tortoise's own `tortoise makemigrations` command ([tool.tortoise] in pyproject.toml).
TORTOISE_ORM: dict[str, Any] = tortoise_config(
    orm_url(os.environ.get("DATABASE_URL", Settings.model_fields["database_url"].default))
)
