"""Settings: declared once (name, default, help), read from the config file.

The config file is TOML at ``paths.config_file``. Command-line flags override
it for one run. Secrets never live here: credentials have their own store.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import UsageError
from .fileutil import atomic_write
from .paths import Paths

COMMONS_API = "https://commons.wikimedia.org/w/api.php"
META_OAUTH_BASE = "https://meta.wikimedia.org/w/rest.php/oauth2"
DEFAULT_PORT = 8471
ON_EXISTS_POLICIES = ("rename", "new-version", "fail")


@dataclass(frozen=True)
class PrivacyZone:
    lat: float
    lon: float
    radius_m: float
    name: str = ""


@dataclass(frozen=True)
class Settings:
    wiki: str = field(default=COMMONS_API, metadata={"help": "Action API URL of the wiki to upload to."})
    contact: str = field(
        default="",
        metadata={"help": "Your contact (e-mail or User:Name) for the User-Agent Wikimedia asks for."},
    )
    chunk_size: int = field(
        default=5 * 1024 * 1024,
        metadata={"help": "Chunk size in bytes; files larger than this are uploaded in chunks."},
    )
    on_exists: str = field(
        default="rename",
        metadata={"help": "When the title is taken: rename, new-version (own files only) or fail."},
    )
    license: str = field(
        default="",
        metadata={"help": "Default license template for your own work, e.g. cc-by-sa-4.0."},
    )
    author: str = field(default="", metadata={"help": "Author name shown on the file page."})
    username: str = field(default="", metadata={"help": "Your Wikimedia username (links the author)."})
    categories: tuple[str, ...] = field(
        default=(), metadata={"help": "Categories added to every upload."}
    )
    language: str = field(
        default="en", metadata={"help": "Language of descriptions that do not say their own."}
    )
    title_pattern: str = field(
        default="{title} {date}",
        metadata={"help": "Pattern for Commons file names ({title}, {description}, {date}, "
                  "{seq}, {filename}, {camera})."},
    )
    strip_location: bool = field(
        default=False, metadata={"help": "Never publish the location of any photo."}
    )
    source: str = field(default="{{own}}", metadata={"help": "Default source field."})
    privacy_zones: tuple[PrivacyZone, ...] = field(
        default=(), metadata={"help": "Places (lat, lon, radius_m) whose photos never get a location."}
    )
    concurrency: int = field(default=3, metadata={"help": "Uploads at once in the helper service."})
    port: int = field(default=DEFAULT_PORT, metadata={"help": "Port of the helper service on 127.0.0.1."})
    oauth_base: str = field(
        default=META_OAUTH_BASE, metadata={"help": "Base URL of the OAuth 2.0 endpoints."}
    )

    def with_overrides(self, **values: Any) -> Settings:
        clean = {k: v for k, v in values.items() if v is not None}
        return validate(replace(self, **clean))


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]


def setting_help() -> dict[str, str]:
    return {f.name: str(f.metadata.get("help", "")) for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    if name == "privacy_zones":
        zones = []
        for z in value or ():
            if not isinstance(z, dict):
                raise UsageError(f"privacy_zones entries must be tables with lat, lon, radius_m; got {z!r}")
            try:
                zones.append(PrivacyZone(float(z["lat"]), float(z["lon"]), float(z["radius_m"]),
                                         str(z.get("name", ""))))
            except (KeyError, TypeError, ValueError) as exc:
                raise UsageError(f"privacy zone {z!r} needs numeric lat, lon and radius_m") from exc
        return tuple(zones)
    if name == "categories":
        if isinstance(value, str):
            value = [value]
        return tuple(str(c) for c in value)
    default = getattr(Settings(), name)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UsageError(f"setting {name} must be true or false, not {value!r}")
        return value
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"setting {name} must be a whole number, not {value!r}") from exc
    return str(value)


def validate(settings: Settings) -> Settings:
    if settings.on_exists not in ON_EXISTS_POLICIES:
        raise UsageError(
            f"on_exists must be one of {', '.join(ON_EXISTS_POLICIES)}, not {settings.on_exists!r}"
        )
    if settings.chunk_size < 64 * 1024:
        raise UsageError("chunk_size must be at least 65536 bytes")
    if not 1 <= settings.concurrency <= 10:
        raise UsageError("concurrency must be between 1 and 10")
    return settings


def from_mapping(data: dict[str, Any]) -> Settings:
    names = set(setting_names())
    unknown = sorted(set(data) - names)
    if unknown:
        raise UsageError(
            f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(sorted(names))}"
        )
    return validate(Settings(**{k: _coerce(k, v) for k, v in data.items()}))


def load_settings(paths: Paths) -> Settings:
    """Read the config file (missing file = defaults)."""
    try:
        raw = paths.config_file.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise UsageError(f"cannot read the config file {paths.config_file}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"the config file {paths.config_file} is not valid TOML: {exc}") from exc
    return from_mapping(data)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def dump_settings(settings: Settings) -> str:
    """TOML text of the settings that differ from the defaults."""
    defaults = Settings()
    lines: list[str] = []
    zones: tuple[PrivacyZone, ...] = ()
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if value == getattr(defaults, f.name):
            continue
        if f.name == "privacy_zones":
            zones = value
            continue
        lines.append(f"{f.name} = {_toml_value(value)}")
    for z in zones:
        lines.append("")
        lines.append("[[privacy_zones]]")
        lines.append(f"lat = {z.lat!r}\nlon = {z.lon!r}\nradius_m = {z.radius_m!r}")
        if z.name:
            lines.append(f"name = {_toml_value(z.name)}")
    return "\n".join(lines) + ("\n" if lines else "")


def save_settings(paths: Paths, settings: Settings) -> None:
    atomic_write(paths.config_file, dump_settings(settings).encode("utf-8"), mode=0o600)


def user_agent(settings: Settings, version: str, http_version: str = "") -> str:
    """A User-Agent as Wikimedia's policy asks: tool/version (contact) library/version.

    The contact is the ``contact`` setting, else ``COMMONS_HELPER_CONTACT``, else the
    Wikimedia username (``User:Name``), so operators can reach whoever runs the tool.
    """
    contact = (settings.contact or os.environ.get("COMMONS_HELPER_CONTACT", "")
               or (f"User:{settings.username}" if settings.username else ""))
    contact = " ".join(contact.split())  # no control characters in a header
    detail = f" ({contact})" if contact else " (no contact set: commons-helper config set contact ...)"
    lib = f" httpx2/{http_version}" if http_version else ""
    return f"commons-helper/{version}{detail}{lib}"
