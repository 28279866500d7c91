"""Settings read once from the environment (API.md, "Running it") into a typed object."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


DEFAULT_TZ = "Asia/Shanghai"


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value < 3600:
        raise SystemExit(f"{name} must be between 0 and 3600 seconds, got {raw!r}")
    return value


@dataclass(frozen=True)
class RiskRules:
    """The risk_scan job's thresholds (API.md, "Money safety"), each a setting
    FESTIVAL_RISK_<NAME>. Shares and margins are whole percents, so no float decides a flag."""

    repeat_min_vouchers: int = 3  # repeat_pair: one person, one merchant, ≥ 3 vouchers …
    repeat_window_days: int = 7  # … within 7 days
    hug_min_redemptions: int = 20  # threshold_hugging: a merchant day of ≥ 20 redemptions …
    hug_share_pct: int = 60  # … ≥ 60% of them …
    hug_margin_pct: int = 5  # … with the order within 5% above min_spend_fen
    burst_minutes: int = 10  # burst: a 10-minute window …
    burst_min_redemptions: int = 20  # … of ≥ 20 redemptions …
    burst_factor: int = 5  # … and ≥ 5 × the merchant's median 10-minute count of 7 days before
    churn_min_redemptions: int = 10  # reversal_churn: ≥ 10 redemptions on a day …
    churn_share_pct: int = 20  # … ≥ 20% of them reversed

    @classmethod
    def from_env(cls, env: dict[str, str]) -> RiskRules:
        return cls(
            **{
                f.name: _int(env, f"FESTIVAL_RISK_{f.name.upper()}", getattr(cls, f.name))
                for f in fields(cls)
            }
        )


@dataclass(frozen=True)
class Settings:
    # None: start the embedded PostgreSQL under data_dir.
    database_url: str | None
    data_dir: Path
    jwt_secret: str = field(repr=False)
    tz: ZoneInfo
    jwt_issuer: str = "huaiyin-festival"
    jwt_audience: str = "festival-api"
    # PEM of the identity platform's RS256/EdDSA public key, if it issues resident tokens.
    jwt_public_key: str | None = field(default=None, repr=False)
    access_token_ttl_s: int = 8 * 3600
    max_body_bytes: int = 1024 * 1024
    pool_min: int = 2
    pool_max: int = 20
    # 0 behind PgBouncer older than 1.21 in transaction mode (no prepared statements there).
    statement_cache_size: int = 100
    # A request waits at most this long for a connection, and for each statement (a lock
    # wait included), then answers 503 unavailable: seconds.
    db_acquire_timeout_s: float = 2.0
    db_statement_timeout_s: float = 3.0
    # Honour X-Forwarded-For from a reverse proxy (deploy/) for per-IP rate limits.
    trust_forwarded_for: bool = False
    sms_sender: str = "log"
    # AES-256 key of the residents' phones at rest (32 bytes; FESTIVAL_PHONE_KEY, 64 hex
    # characters). None: the one generated into the data folder (phone_key_bytes()).
    phone_key: bytes | None = field(default=None, repr=False)
    # The send_messages job: how long a sender holds the messages it leased (seconds, in the
    # database's time; a provider call is given up after as long), and how many provider
    # calls it makes at once.
    sms_lease_s: float = 300.0
    sms_concurrency: int = 16
    # The key the city identity platform derives its `pid` with (HMAC-SHA256 of the phone
    # number, hex): SMS sign-ins derive the same, so one person is one person in both. None:
    # the service's own phone pepper (SMS accounts are then persons of their own).
    pid_key: str | None = field(default=None, repr=False)
    access_log: bool = True
    risk: RiskRules = field(default_factory=RiskRules)
    # The year the festival's turnover is compared with (same ISO week and weekday).
    baseline_year: int = 2019
    # A drill (演练, FESTIVAL_DRILL): business time is real time plus an offset kept in the
    # database, which the bureau moves forward (API.md, "Drill clock").
    drill: bool = False

    def phone_key_bytes(self) -> bytes:
        """The phones' key: FESTIVAL_PHONE_KEY's, else the one generated once into the data
        folder (as the JWT secret is), which every process sharing that folder reads."""
        if self.phone_key is not None:
            return self.phone_key
        return phone_key_in(self.data_dir)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("FESTIVAL_DATA_DIR") or "./var").resolve()
        tz_name = env.get("FESTIVAL_TZ") or DEFAULT_TZ
        try:
            tz = ZoneInfo(tz_name)
        except Exception:
            raise SystemExit(f"FESTIVAL_TZ: unknown time zone {tz_name!r}") from None
        public_key = env.get("FESTIVAL_JWT_PUBLIC_KEY") or None
        secret = env.get("FESTIVAL_JWT_SECRET") or _stored_secret(data_dir)
        if len(secret.encode()) < 32:
            raise SystemExit("FESTIVAL_JWT_SECRET must be at least 32 bytes (RFC 7518 §3.2)")
        if _int(env, "FESTIVAL_SMS_CONCURRENCY", cls.sms_concurrency) < 1:
            raise SystemExit("FESTIVAL_SMS_CONCURRENCY must be at least 1")
        key_file = env.get("FESTIVAL_JWT_PUBLIC_KEY_FILE")
        if key_file:
            public_key = Path(key_file).read_text()
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=data_dir,
            jwt_secret=secret,
            tz=tz,
            # Defaults are the dataclass's own (written once, above).
            jwt_issuer=env.get("FESTIVAL_JWT_ISSUER") or cls.jwt_issuer,
            jwt_audience=env.get("FESTIVAL_JWT_AUDIENCE") or cls.jwt_audience,
            jwt_public_key=public_key,
            access_token_ttl_s=_int(env, "FESTIVAL_TOKEN_TTL", cls.access_token_ttl_s),
            max_body_bytes=_int(env, "FESTIVAL_MAX_BODY_BYTES", cls.max_body_bytes),
            pool_min=_int(env, "FESTIVAL_POOL_MIN", cls.pool_min),
            pool_max=_int(env, "FESTIVAL_POOL_MAX", cls.pool_max),
            statement_cache_size=_int(env, "FESTIVAL_DB_STATEMENT_CACHE", cls.statement_cache_size),
            db_acquire_timeout_s=_float(
                env, "FESTIVAL_DB_ACQUIRE_TIMEOUT", cls.db_acquire_timeout_s
            ),
            db_statement_timeout_s=_float(
                env, "FESTIVAL_DB_STATEMENT_TIMEOUT", cls.db_statement_timeout_s
            ),
            trust_forwarded_for=_bool(
                env.get("FESTIVAL_TRUST_FORWARDED_FOR"), cls.trust_forwarded_for
            ),
            sms_sender=env.get("FESTIVAL_SMS_SENDER") or cls.sms_sender,
            phone_key=_phone_key(env.get("FESTIVAL_PHONE_KEY") or _stored_phone_key(data_dir)),
            sms_lease_s=_float(env, "FESTIVAL_SMS_LEASE", cls.sms_lease_s),
            sms_concurrency=_int(env, "FESTIVAL_SMS_CONCURRENCY", cls.sms_concurrency),
            pid_key=env.get("FESTIVAL_PID_KEY") or None,
            access_log=_bool(env.get("FESTIVAL_ACCESS_LOG"), cls.access_log),
            risk=RiskRules.from_env(env),
            baseline_year=_int(env, "FESTIVAL_BASELINE_YEAR", cls.baseline_year),
            drill=_bool(env.get("FESTIVAL_DRILL"), cls.drill),
        )


def _stored_secret(data_dir: Path) -> str:
    return _stored(data_dir, "jwt_secret", secrets.token_urlsafe(48))


def phone_key_in(data_dir: Path) -> bytes:
    """The phone key kept in (or generated into) a data folder."""
    return _phone_key(_stored_phone_key(data_dir))


def _stored_phone_key(data_dir: Path) -> str:
    return _stored(data_dir, "phone_key", secrets.token_hex(PHONE_KEY_BYTES))


PHONE_KEY_BYTES = 32  # AES-256


def _phone_key(text: str) -> bytes:
    raw = text.strip()
    if len(raw) != 2 * PHONE_KEY_BYTES or not all(c in "0123456789abcdefABCDEF" for c in raw):
        raise SystemExit(
            f"FESTIVAL_PHONE_KEY must be {PHONE_KEY_BYTES} bytes written as"
            f" {2 * PHONE_KEY_BYTES} hex characters (e.g. `openssl rand -hex 32`)"
        )
    return bytes.fromhex(raw)


def _stored(data_dir: Path, name: str, new: str) -> str:
    """A random secret generated once and kept in the data folder (mode 0600): `new` unless
    the file is there already."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = new
    # O_EXCL: two processes starting at once keep the first one's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret
