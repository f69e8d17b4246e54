"""Reading configuration from the environment, failing fast with the variable's name.

A misconfigured process should stop at start-up with one readable line, not with a traceback from
deep inside Django, so `ConfigError` is a `SystemExit`: Python prints its message and exits 1.
"""

import ipaddress
import re

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

# Schemes people paste from other tools; Django and django-environ know them as plain PostgreSQL.
_POSTGRES_ALIASES = ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql+psycopg2://")


class ConfigError(SystemExit):
    """A configuration value is missing or invalid; the message names the variable."""

    def __init__(self, message: str):
        super().__init__(f"configuration error: {message}")


def read_str(name: str, default: str) -> str:
    return env.str(name, default=default).strip()


def read_bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def read_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.str(name, default="").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def read_delays(name: str, default: str) -> tuple[int, ...]:
    """Comma-separated whole seconds, e.g. `5,30,120`; empty means none."""
    raw = env.ENVIRON.get(name)  # not env.str: it reads an empty value as "unset"
    raw = (default if raw is None else raw).strip()
    try:
        delays = tuple(int(item) for item in raw.split(",") if item.strip())
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated whole seconds like 5,30,120, not {raw!r}") from None
    if any(not 0 <= delay <= 7 * 24 * 3600 for delay in delays) or len(delays) > 50:
        raise ConfigError(f"{name} must hold at most 50 delays, each from 0 to 604800 seconds")
    return delays


def read_list(name: str, default: list[str]) -> list[str]:
    raw = env.str(name, default=None)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def read_networks(name: str) -> list[str]:
    """Comma-separated IP addresses or CIDR networks (`10.0.0.5`, `172.16.0.0/12`, `fd00::/8`)."""
    entries = read_list(name, [])
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"{name} must be comma-separated addresses or networks such as 172.16.0.0/12, not {entry!r}"
            ) from None
    return entries


_RATE = re.compile(r"(?P<count>\d+)/(?P<period>s|sec|second|m|min|minute|h|hour|d|day)")
_PERIOD_NAMES = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def read_rate(name: str, default: str) -> str | None:
    """A throttle rate such as `600/minute` (also `/second`, `/hour`, `/day`); `off` or empty: None."""
    raw = env.ENVIRON.get(name)  # not env.str: it reads an empty value as "unset"
    raw = (default if raw is None else raw).strip().lower().replace(" ", "")
    if raw in {"", "off"}:
        return None
    match = _RATE.fullmatch(raw)
    if match is None or not 1 <= int(match["count"]) <= 1_000_000:
        raise ConfigError(
            f"{name} must look like 600/minute (1 to 1000000 per second, minute, hour or day) or be off, not {raw!r}"
        )
    return f"{int(match['count'])}/{_PERIOD_NAMES[match['period'][0]]}"


def read_cache(name: str, default: str) -> dict:
    url = env.str(name, default=default).strip() or default
    try:
        return environ.Env.cache_url_config(url)
    except (ImproperlyConfigured, ValueError, KeyError):
        raise ConfigError(f"{name} is not a cache URL this service understands (e.g. locmemcache://)") from None


def normalise_database_url(url: str) -> str:
    for alias in _POSTGRES_ALIASES:
        if url.startswith(alias):
            return "postgres://" + url[len(alias) :]
    return url


def read_database(name: str, default: str) -> dict:
    url = normalise_database_url(env.str(name, default=default).strip() or default)
    try:
        config = environ.Env.db_url_config(url)
    except (ImproperlyConfigured, ValueError, KeyError):
        raise ConfigError(f"{name} is not a database URL this service understands") from None
    if config.get("ENGINE") not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise ConfigError(f"{name} has an unsupported scheme (use postgres:// or sqlite:///)")
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Keep connections between requests. A connection that fails is closed at the end of its
        # request and the next request opens a new one, so after a database restart each kept
        # connection answers one 503. DB_CONN_HEALTH_CHECKS pings before each request's first query
        # instead: no failed request after a restart, one more round trip on every request.
        config["CONN_MAX_AGE"] = read_int("DB_CONN_MAX_AGE", 60, minimum=0, maximum=86400)
        config["CONN_HEALTH_CHECKS"] = read_bool("DB_CONN_HEALTH_CHECKS", False)
        config.setdefault("OPTIONS", {})["connect_timeout"] = read_int("DB_CONNECT_TIMEOUT", 5, minimum=1, maximum=120)
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        # The web process and the worker write to one SQLite file; wait for the lock a while
        # instead of failing at once, and let readers go on during writes.
        config.setdefault("OPTIONS", {}).update(
            {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
        )
    return config


def require_currency(name: str) -> str:
    """An ISO 4217 currency code (EUR, USD, JPY); required, since nothing else says which one."""
    from babel.numbers import is_currency

    code = env.str(name, default="").strip()
    if not code:
        raise ConfigError(
            f"{name} must be set to the ISO 4217 code of the prices' currency, e.g. EUR (see .env.example)"
        )
    if not is_currency(code):
        raise ConfigError(f"{name} must be an ISO 4217 currency code such as EUR, USD or JPY, not {code!r}")
    return code


def require_secret_key(*, debug: bool) -> str:
    key = env.str("SECRET_KEY", default="").strip()
    if key:
        return key
    if debug:
        return "insecure-development-key-do-not-use-in-production"
    raise ConfigError("SECRET_KEY must be set when DEBUG is off (see .env.example)")
