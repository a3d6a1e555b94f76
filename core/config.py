"""Configuration: the environment and the TOML file, parsed once into frozen objects.

Every value is checked here, at start-up, so a bad setting stops the process with one line naming
it (``ConfigError``) instead of surfacing later as a 500. Nothing in this module does I/O at import.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import limits
import phonenumbers

from core.errors import ConfigError
from core.sources.form_tools import TOOLS
from core.sources.generic import MAPPABLE_FIELDS
from core.sources.registry import SOURCES
from core.sources.source import Setting, SourceConfig

DEFAULT_ROTOR_BASE_URL = "https://api.getrotor.com/open-api"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
PRIORITIES = ("low", "medium", "high")
CAPTCHAS = ("turnstile", "recaptcha")
FORM_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RESET_TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
ENV_NAME_PATTERN = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class AccountConfig:
    """One Rotor account (one client company): its key and its daily request budget."""

    name: str
    api_key: str | None = field(repr=False)
    daily_limit: int = 1000
    # Where the key came from, so a missing key can be reported by the variable's name.
    api_key_env: str = "ROTOR_API_KEY"


@dataclass(frozen=True)
class FormConfig:
    """One website form, declared under ``[forms.<key>]``."""

    key: str
    tags: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    redirect_url: str | None = None
    source: str = "website"
    stage: str | None = None
    service_type: str | None = None
    priority: str | None = None
    account: str = "default"
    # Formspree's name for the hidden field that only bots fill in.
    honeypot_field: str = "_gotcha"
    captcha: str | None = None  # "turnstile" or "recaptcha": the token is checked before storing
    captcha_secret: str | None = field(default=None, repr=False)
    captcha_verify_url: str | None = None  # the provider's siteverify URL unless set (a proxy, tests)
    # The form tool that posts here (core.sources.form_tools), when recognising it by shape is not enough.
    builder: str | None = None
    # The tool's signing secret (from the variable ``secret_env`` names): its posts must then be signed.
    secret: str | None = field(default=None, repr=False)
    # Lead field = a label or dotted path in what the tool posts: read before the tool's own mapping.
    fields: Mapping[str, str] = field(default_factory=dict)


# What every [sources.<name>] table may set; each platform's Source declares the rest (core.sources.registry).
COMMON_SOURCE_KEYS = ("type", "secret_env", "tags", "account", "source", "deliver_test_leads")


@dataclass(frozen=True)
class Config:
    """Everything the web and worker processes read from their environment."""

    port: int = 8000
    redis_url: str = "redis://localhost:6379/0"
    rotor_base_url: str = DEFAULT_ROTOR_BASE_URL
    rotor_api_key: str | None = field(default=None, repr=False)
    rotor_daily_limit: int = 1000
    admin_token: str | None = field(default=None, repr=False)
    default_phone_region: str = "US"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    retry_max_attempts: int = 16
    retry_base_seconds: int = 30
    retry_max_seconds: int = 3 * 3600
    # Rotor documents no reset time; we assume its day turns at this UTC time (docs/quota.md).
    quota_reset_utc: str = "00:00"
    ops_reserve_percent: int = 2
    fresh_reserve_percent: int = 20
    auth_probe_seconds: int = 300
    # How long an identical submission counts as a duplicate (content fingerprint, delivered snapshot).
    dedup_window_seconds: int = 24 * 3600
    # How long raw payloads and PII are kept once a submission is settled or failed (and RQ's failed jobs).
    retention_seconds: int = 30 * 24 * 3600
    # One delivery run (a platform read plus a Rotor call, each under connect 3 s + read timeout):
    # RQ's timeout for a job of its own; a drain job gets twice it (core.store.jobs).
    job_timeout_seconds: int = 30
    rotor_timeout_seconds: float = 10.0
    # Public form endpoints, in the `limits` notation; counted in Redis so every web process shares them.
    rate_limit_per_ip: str = "20 per minute"
    rate_limit_per_form: str = "600 per minute"
    trusted_proxies: int = 0  # how many proxies in front set X-Forwarded-For (0: use the socket's address)
    forms: Mapping[str, FormConfig] = field(default_factory=dict)
    accounts: Mapping[str, AccountConfig] = field(default_factory=dict)
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)

    def account(self, name: str) -> AccountConfig:
        """The named account; ``default`` always exists (ROTOR_API_KEY, ROTOR_DAILY_LIMIT)."""
        if name in self.accounts:
            return self.accounts[name]
        if name == "default":
            return AccountConfig("default", self.rotor_api_key, self.rotor_daily_limit)
        raise ConfigError(f"LEADGATE_CONFIG: no account named {name!r}")

    def account_names(self) -> list[str]:
        return ["default", *(name for name in self.accounts if name != "default")]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the config from ``environ`` (default ``os.environ``) and ``LEADGATE_CONFIG``."""
        env = os.environ if environ is None else environ
        config_path = _text(env, "LEADGATE_CONFIG")
        document = _load_toml(config_path) if config_path else {}
        reset = _text(env, "ROTOR_QUOTA_RESET_UTC") or "00:00"
        if not RESET_TIME_PATTERN.match(reset):
            raise ConfigError(f"ROTOR_QUOTA_RESET_UTC: {reset!r} is not a time of day as HH:MM (UTC)")
        accounts = _accounts(document.get("accounts", {}), env)
        forms = _forms(document.get("forms", {}), env)
        sources = _sources(document.get("sources", {}), env)
        for kind, table in (("forms", forms), ("sources", sources)):
            for name, item in table.items():
                if item.account != "default" and item.account not in accounts:
                    raise ConfigError(f"LEADGATE_CONFIG: {kind}.{name}.account: no account named {item.account!r}")
        return cls(
            port=_integer(env, "PORT", 8000, minimum=1, maximum=65535),
            redis_url=_url(env, "REDIS_URL", "redis://localhost:6379/0", schemes=("redis", "rediss", "unix")),
            rotor_base_url=_url(env, "ROTOR_BASE_URL", DEFAULT_ROTOR_BASE_URL).rstrip("/"),
            rotor_api_key=_text(env, "ROTOR_API_KEY"),
            rotor_daily_limit=_integer(env, "ROTOR_DAILY_LIMIT", 1000, minimum=1),
            admin_token=_text(env, "LEADGATE_ADMIN_TOKEN"),
            default_phone_region=_region(env, "DEFAULT_PHONE_REGION", "US"),
            max_body_bytes=_integer(env, "LEADGATE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1024),
            retry_max_attempts=_integer(env, "LEADGATE_RETRY_MAX_ATTEMPTS", 16, minimum=1),
            retry_base_seconds=_integer(env, "LEADGATE_RETRY_BASE_SECONDS", 30, minimum=0),
            retry_max_seconds=_integer(env, "LEADGATE_RETRY_MAX_SECONDS", 3 * 3600, minimum=0),
            quota_reset_utc=reset,
            ops_reserve_percent=_integer(env, "ROTOR_OPS_RESERVE_PERCENT", 2, minimum=0, maximum=50),
            fresh_reserve_percent=_integer(env, "ROTOR_FRESH_RESERVE_PERCENT", 20, minimum=0, maximum=90),
            auth_probe_seconds=_integer(env, "ROTOR_AUTH_PROBE_SECONDS", 300, minimum=1),
            dedup_window_seconds=_integer(env, "LEADGATE_DEDUP_WINDOW_SECONDS", 24 * 3600, minimum=0),
            retention_seconds=_integer(env, "LEADGATE_RETENTION_DAYS", 30, minimum=1) * 24 * 3600,
            job_timeout_seconds=_integer(env, "LEADGATE_JOB_TIMEOUT_SECONDS", 30, minimum=5),
            rotor_timeout_seconds=_integer(env, "ROTOR_TIMEOUT_SECONDS", 10, minimum=1),
            rate_limit_per_ip=_rate(env, "LEADGATE_RATE_LIMIT_PER_IP", "20 per minute"),
            rate_limit_per_form=_rate(env, "LEADGATE_RATE_LIMIT_PER_FORM", "600 per minute"),
            trusted_proxies=_integer(env, "LEADGATE_TRUSTED_PROXIES", 0, minimum=0, maximum=5),
            forms=forms,
            accounts=accounts,
            sources=sources,
        )


def _load_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"LEADGATE_CONFIG: cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"LEADGATE_CONFIG: {path} is not valid TOML: {exc}") from exc


def _forms(forms: Any, env: Mapping[str, str]) -> dict[str, FormConfig]:
    if not isinstance(forms, dict):
        raise ConfigError("LEADGATE_CONFIG: [forms] must be a table of tables")
    return {key: _form(key, table, env) for key, table in forms.items()}


def _accounts(accounts: Any, env: Mapping[str, str]) -> dict[str, AccountConfig]:
    """``[accounts.<name>]`` tables: ``api_key_env`` names the variable holding the key (secrets stay in
    the environment), ``daily_limit`` the budget. A missing key is reported when a worker needs it."""
    if not isinstance(accounts, dict):
        raise ConfigError("LEADGATE_CONFIG: [accounts] must be a table of tables")
    result = {}
    for name, table in accounts.items():
        where = f"LEADGATE_CONFIG: accounts.{name}"
        if not FORM_KEY_PATTERN.match(name) or not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table named with letters, digits, '-' and '_'")
        unknown = sorted(set(table) - {"api_key_env", "daily_limit"})
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown setting (known: api_key_env, daily_limit)")
        key_env = table.get("api_key_env")
        if not isinstance(key_env, str) or not ENV_NAME_PATTERN.match(key_env):
            raise ConfigError(f'{where}.api_key_env must name an environment variable, e.g. "ACME_ROTOR_KEY"')
        limit = table.get("daily_limit", 1000)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigError(f"{where}.daily_limit must be a whole number of at least 1")
        result[name] = AccountConfig(name, _text(env, key_env), limit, api_key_env=key_env)
    _check_distinct_keys(result, env)
    return result


def _check_distinct_keys(accounts: Mapping[str, AccountConfig], env: Mapping[str, str]) -> None:
    """Rotor's limit is per key: two accounts sharing one would each count a budget of their own and
    together overspend it. Errors name the variables, never the key."""
    every = dict(accounts)
    if "default" not in every:
        every["default"] = AccountConfig("default", _text(env, "ROTOR_API_KEY"))
    seen: dict[str, AccountConfig] = {}
    for account in every.values():
        if not account.api_key:
            continue  # a missing key is reported when a worker needs it
        first = seen.setdefault(account.api_key, account)
        if first is not account:
            raise ConfigError(
                f"LEADGATE_CONFIG: accounts {first.name!r} ({first.api_key_env}) and {account.name!r} "
                f"({account.api_key_env}) use the same Rotor API key: Rotor's daily limit is per key, so "
                "they must be one account"
            )


def _form(key: str, table: Any, env: Mapping[str, str]) -> FormConfig:
    where = f"LEADGATE_CONFIG: forms.{key}"
    if not FORM_KEY_PATTERN.match(key):
        raise ConfigError(f"{where}: a form key may only use letters, digits, '-' and '_'")
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    known = {name for name in FormConfig.__dataclass_fields__ if name not in ("key", "captcha_secret", "secret")}
    known.update(("captcha_secret_env", "secret_env"))
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {"key": key}
    for name in ("tags", "allowed_origins"):
        if name in table:
            items = table[name]
            if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
                raise ConfigError(f"{where}.{name} must be a list of non-empty strings")
            values[name] = tuple(i.strip() for i in items)
    for name in (
        "redirect_url",
        "source",
        "stage",
        "service_type",
        "priority",
        "account",
        "honeypot_field",
        "captcha",
        "captcha_secret_env",
        "captcha_verify_url",
        "builder",
        "secret_env",
    ):
        if name in table:
            value = table[name]
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}.{name} must be a non-empty string")
            values[name] = value.strip()
    if values.get("priority") not in (None, *PRIORITIES):
        raise ConfigError(f"{where}.priority must be one of {', '.join(PRIORITIES)}")
    if "redirect_url" in values and urlsplit(values["redirect_url"]).scheme not in ("http", "https"):
        raise ConfigError(f"{where}.redirect_url must be an http(s) URL")
    secret_env = values.pop("captcha_secret_env", None)
    if values.get("captcha") not in (None, *CAPTCHAS):
        raise ConfigError(f"{where}.captcha must be one of {', '.join(CAPTCHAS)}")
    if values.get("captcha"):
        if not secret_env or not ENV_NAME_PATTERN.match(secret_env):
            raise ConfigError(f"{where}.captcha_secret_env must name the variable holding the captcha secret")
        values["captcha_secret"] = _text(env, secret_env)
        if not values["captcha_secret"]:
            raise ConfigError(f"{secret_env}: required by forms.{key}.captcha")
    if values.get("captcha") and "builder" in values:
        raise ConfigError(f"{where}.builder: a form with a captcha takes browsers' posts only, no form tool's")
    values.update(_form_tool(where, values.pop("builder", None), values.pop("secret_env", None), env))
    if "fields" in table:
        values["fields"] = _field_map(f"{where}.fields", table["fields"])
    return FormConfig(**values)


def _form_tool(where: str, builder: str | None, secret_env: str | None, env: Mapping[str, str]) -> dict[str, Any]:
    """A form's pinned tool and the secret its posts are signed with: a secret needs a tool that signs."""
    if builder is not None and builder not in TOOLS:
        raise ConfigError(f"{where}.builder must be one of {', '.join(TOOLS)}")
    if secret_env is None:
        return {"builder": builder}
    signing = [name for name, tool in TOOLS.items() if tool.signature_header]
    if builder not in signing:
        raise ConfigError(f"{where}.secret_env needs builder set to a tool that signs its posts: {', '.join(signing)}")
    if not ENV_NAME_PATTERN.match(secret_env):
        raise ConfigError(f'{where}.secret_env must name an environment variable, e.g. "WEBFLOW_SECRET"')
    secret = _text(env, secret_env)
    if not secret:
        raise ConfigError(f"{secret_env}: required by {where.removeprefix('LEADGATE_CONFIG: ')}.secret_env")
    return {"builder": builder, "secret": secret}


def _field_map(where: str, table: Any) -> dict[str, str]:
    """``[forms.<key>.fields]``: lead field = the label or dotted path it is read from."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of lead field = label or dotted path")
    for name, found_at in table.items():
        if name not in MAPPABLE_FIELDS:
            raise ConfigError(f"{where}.{name}: not a lead field (known: {', '.join(MAPPABLE_FIELDS)})")
        if not isinstance(found_at, str) or not found_at.strip():
            raise ConfigError(f"{where}.{name} must be a non-empty label or dotted path")
    return {name: found_at.strip() for name, found_at in table.items()}


def _sources(tables: Any, env: Mapping[str, str]) -> dict[str, SourceConfig]:
    """``[sources.<name>]`` tables, plus the platforms configured by their own variables (Meta,
    Google), which exist without one."""
    if not isinstance(tables, dict):
        raise ConfigError("LEADGATE_CONFIG: [sources] must be a table of tables")
    tables = {**{kind: {} for kind, platform in SOURCES.items() if platform.default_secret_env}, **tables}
    declared = (setting.key for platform in SOURCES.values() for setting in platform.settings if setting.key)
    known = {*COMMON_SOURCE_KEYS, *declared}
    result = {}
    for name, table in tables.items():
        where = f"LEADGATE_CONFIG: sources.{name}"
        if not FORM_KEY_PATTERN.match(name) or not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table named with letters, digits, '-' and '_'")
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
        builtin = name in SOURCES and SOURCES[name].default_secret_env
        kind = table.get("type", name if builtin else None)
        if kind not in SOURCES:
            raise ConfigError(f"{where}.type must be one of {', '.join(SOURCES)}")
        platform = SOURCES[kind]
        secret_env = table.get("secret_env", platform.default_secret_env)
        if not isinstance(secret_env, str) or not ENV_NAME_PATTERN.match(secret_env):
            raise ConfigError(f"{where}.secret_env must name the environment variable holding its secret")
        values: dict[str, Any] = {
            "name": name,
            "type": kind,
            "secret_env": secret_env,
            "secret": _text(env, secret_env),
        }
        for key in ("account", "source"):
            if key in table:
                values[key] = _nonempty(table[key], f"{where}.{key}")
        if "tags" in table:
            if not isinstance(table["tags"], list) or not all(isinstance(t, str) and t for t in table["tags"]):
                raise ConfigError(f"{where}.tags must be a list of non-empty strings")
            values["tags"] = tuple(table["tags"])
        if "deliver_test_leads" in table:
            if not isinstance(table["deliver_test_leads"], bool):
                raise ConfigError(f"{where}.deliver_test_leads must be true or false")
            values["deliver_test_leads"] = table["deliver_test_leads"]
        # Keys another platform declares are known (a table may carry them) but only its own are read.
        values["settings"] = {setting.name: _setting(setting, table, env, where) for setting in platform.settings}
        result[name] = SourceConfig(**values)
    return result


def _setting(setting: Setting, table: Mapping[str, Any], env: Mapping[str, str], where: str) -> Any:
    """A platform's setting, read and checked the way its ``kind`` says (core.sources.source.Setting)."""
    if setting.env is not None:
        if setting.kind == "url":
            return _url(env, setting.env, setting.default).rstrip("/")
        return _text(env, setting.env)
    assert setting.key is not None, f"{setting.name}: a setting is found in the environment or the table"
    name = f"{where}.{setting.key}"
    if setting.kind == "paths":
        paths = table.get(setting.key)
        if not isinstance(paths, dict) or not paths or not all(isinstance(v, str) for v in paths.values()):
            raise ConfigError(f'{name} must map Rotor fields to payload paths, e.g. name = "data.name"')
        return dict(paths)
    if setting.key not in table:
        return setting.default
    value = table[setting.key]
    if setting.kind == "secret":
        return _text(env, value)  # the table names the variable; the secret stays in the environment
    if setting.kind == "choice":
        if value not in setting.choices:
            raise ConfigError(f"{name} must be {' or '.join(setting.choices)}")
        return value
    return value if setting.allow_empty and isinstance(value, str) else _nonempty(value, name)


def _nonempty(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name} must be a non-empty string")
    return value


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    value = _text(env, name) or default
    try:
        limits.parse_many(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a rate such as '20 per minute' or '5/second'") from None
    return value


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{name}: {value} is out of range (must be {bound})")
    return value


def _url(env: Mapping[str, str], name: str, default: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    value = _text(env, name) or default
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "unix"):
        raise ConfigError(f"{name}: {value!r} is not a {'/'.join(schemes)} URL")
    return value


def _region(env: Mapping[str, str], name: str, default: str) -> str:
    value = (_text(env, name) or default).upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{name}: {value!r} is not a two-letter region phonenumbers knows (e.g. US, GB, CA)")
    return value
