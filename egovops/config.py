"""Settings: built-in defaults, then `egovops.toml`, then `EGOVOPS_*` environment variables.

Every setting has a default that works with no file at all (the embedded SQLite store under `./var/`).
Nested settings are reached from the environment with a double underscore:
`EGOVOPS_STORE__URL=elasticsearch://127.0.0.1:9200`.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from secops.events import known_zone
from secops.incidents.settings import IncidentSettings
from secops.response.settings import ResponseSettings

CONFIG_NAME = "egovops.toml"


class ConfigError(ValueError):
    """A configuration file or variable is wrong; the message names where and what to do."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSettings(_Section):
    url: str = Field("sqlite:///var/egovops.db", description="sqlite:///PATH or elasticsearch://HOST:PORT")
    spool_dir: Path = Field(Path("var/spool"), description="durable queue used while Elasticsearch is away")
    index_prefix: str = "egovops"


class IngestSettings(_Section):
    keep_original: bool = Field(True, description="store the raw line as event.original")
    batch_size: int = Field(2000, ge=1, le=100_000)
    inbox: Path = Field(Path("var/inbox"), description="directory `egovops serve` follows")
    poll_interval: float = Field(0.5, gt=0, description="seconds between looks at followed files")
    idle_flush: float = Field(2.0, gt=0, description="seconds of quiet before an open record is flushed")
    timezone: str = Field("Asia/Shanghai", description="zone for timestamps that carry none (RFC 3164)")
    observer: str | None = Field(None, description="observer.hostname; default: this machine's name")
    silence: float = Field(
        900.0, gt=0, description="seconds without a record before a followed source counts as silent"
    )

    _known_zone = field_validator("timezone")(known_zone)


class RetentionSettings(_Section):
    default_days: int = Field(180, ge=1, description="Cybersecurity Law floor: keep logs >= 180 days")
    datasets: dict[str, int] = Field(default_factory=dict, description="days per event.dataset")


class ServeSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    estate: Path | None = Field(None, description="estate file the console's admin pages show")


class DetectionSettings(_Section):
    enabled: bool = Field(True, description="run the rules on what `ingest` and `serve` store")
    rules: list[Path] = Field(
        default_factory=list, description="Sigma rule files or directories, beside the built-in pack"
    )
    state: Path = Field(Path("var/detection.state"), description="window state `serve` keeps across restarts")
    lateness: float = Field(30.0, ge=0, description="seconds an event may arrive behind the newest one")


class CloudSettings(_Section):
    cloud: str | None = Field(None, description="clouds.yaml entry (default: $OS_CLOUD)")
    workers: int = Field(4, ge=1, le=64, description="parallel API calls inside one dependency layer")
    lifecycle: Path = Field(Path("var/tenants.jsonl"), description="tenant requests and their states")


class SecuritySettings(_Section):
    state_dir: Path = Field(Path("var"), description="users, tokens and sessions (security.db), session key")
    key_file: Path = Field(
        Path("var/secrets.key"), description="16-byte SM4 key sealing secrets; EGOVOPS_SECRET_KEY (hex) wins"
    )
    secrets_file: Path = Field(Path("var/secrets.sealed.json"), description="the sealed secrets")
    idle_timeout: int = Field(900, ge=30, description="seconds without a request before a session ends")
    lockout_threshold: int = Field(5, ge=1, description="failed logins in a row that lock an account")
    lockout_minutes: float = Field(15.0, gt=0, description="how long a locked account stays locked")
    address_limit: int = Field(
        20, ge=1, description="failed logins from one client address, any user names, before it must wait"
    )
    cookie_name: str = Field("egovops_session", pattern=r"^[A-Za-z0-9_-]+$")
    cookie_secure: bool = Field(False, description="send the session cookie over HTTPS only (behind TLS)")


class DrillSettings(_Section):
    history: Path = Field(Path("var/drills.db"), description="past scorecards (`egovops drill history`)")
    work_dir: Path = Field(Path("var/drills"), description="each drill's own event and case stores")
    range_dir: Path = Field(Path("var/range"), description="the range `egovops drill run` uses")


class Settings(BaseModel):
    """Every section; `load` layers the file and the environment over the defaults (pydantic-settings
    did it before, for a third of a second of imports on every command)."""

    model_config = ConfigDict(extra="forbid")

    store: StoreSettings = Field(default_factory=StoreSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    response: ResponseSettings = Field(default_factory=ResponseSettings)
    cloud: CloudSettings = Field(default_factory=CloudSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    drills: DrillSettings = Field(default_factory=DrillSettings)


ENV_PREFIX = "EGOVOPS_"


def environment_layer(environ: dict[str, str]) -> dict[str, Any]:
    """`EGOVOPS_SECTION__NAME=value` as nested settings, for the sections `Settings` has (other
    `EGOVOPS_*` variables belong to other tools: tests, benchmarks, the native matcher). Names are not
    case-sensitive; a value that is a JSON list or object is read as one."""
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in Settings.model_fields:
            continue
        node = layer
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = _env_value(value)
    return layer


def _env_value(value: str) -> Any:
    if value.startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def merged(*layers: dict[str, Any]) -> dict[str, Any]:
    """Later layers win; sections merge key by key."""
    out: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            else:
                out[key] = value
    return out


def find_config(explicit: Path | None = None) -> Path | None:
    """`--config` if given (it must exist), else `EGOVOPS_CONFIG`, else `./egovops.toml` if present."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: no such configuration file (drop --config to use defaults)")
        return explicit
    env = os.environ.get("EGOVOPS_CONFIG")
    if env:
        return find_config(Path(env))
    local = Path.cwd() / CONFIG_NAME
    return local if local.is_file() else None


def load(explicit: Path | None = None, **overrides: Any) -> Settings:
    """Settings from defaults, the config file and the environment, with clear errors on bad input.
    Precedence: explicit arguments, then EGOVOPS_* variables, then the TOML file."""
    path = find_config(explicit)
    from_file: dict[str, Any] = {}
    if path is not None:
        try:
            from_file = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return Settings.model_validate(merged(from_file, environment_layer(dict(os.environ)), overrides))
    except ValidationError as exc:
        where = f"{path} or the EGOVOPS_* environment" if path else "the EGOVOPS_* environment"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{where}: {problems}") from exc
