"""``commons-helper config``: show and change the settings in the config file."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from typing import Any

from .cli import Context
from .config import Settings, from_mapping, load_settings, save_settings, setting_help
from .errors import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "config", help="show or change settings (license, author, categories, ...)",
        description="Without arguments: show every setting, its value and what it does. "
                    "`config set NAME VALUE` and `config unset NAME` change the config file "
                    "(`commons-helper paths` shows where it is). Privacy zones are edited in the "
                    "web page or the config file.")
    p.add_argument("action", nargs="?", choices=("show", "set", "unset"), default="show")
    p.add_argument("name", nargs="?", help="setting name, e.g. license")
    p.add_argument("value", nargs="*", help="new value (several values for categories)")
    p.add_argument("--json", action="store_true", help="print the settings as JSON")
    p.set_defaults(func=run)


def _parse(name: str, values: list[str]) -> Any:
    default = getattr(Settings(), name)
    if name == "privacy_zones":
        raise UsageError("privacy zones are edited in the web page (commons-helper open) or the "
                         "config file, as [[privacy_zones]] tables with lat, lon and radius_m")
    if isinstance(default, tuple):
        return [v for value in values for v in value.split(",") if v.strip()]
    if len(values) != 1:
        raise UsageError(f"give exactly one value for {name}")
    value = values[0]
    if isinstance(default, bool):
        if value.lower() not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            raise UsageError(f"{name} is true or false, not {value!r}")
        return value.lower() in ("true", "yes", "on", "1")
    return value


def run(args: argparse.Namespace, ctx: Context) -> int:
    current = load_settings(ctx.paths)
    if args.action == "show":
        data = asdict(current)
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=2))
            return 0
        helps = setting_help()
        for f in fields(Settings):
            print(f"{f.name} = {json.dumps(data[f.name], ensure_ascii=False)}\n    {helps[f.name]}")
        return 0
    names = {f.name for f in fields(Settings)}
    if args.name not in names:
        raise UsageError(f"unknown setting {args.name!r}; known: {', '.join(sorted(names))}")
    data = {k: v for k, v in asdict(current).items() if v != getattr(Settings(), k)}
    if args.action == "unset":
        data.pop(args.name, None)
    else:
        if not args.value:
            raise UsageError(f"give a value: commons-helper config set {args.name} VALUE")
        data[args.name] = _parse(args.name, args.value)
    new = from_mapping(data)  # validates
    save_settings(ctx.paths, new)
    shown = getattr(new, args.name)
    value = json.dumps(list(shown) if isinstance(shown, tuple) else shown, ensure_ascii=False)
    print(f"{args.name} = {value}  (saved in {ctx.paths.config_file})")
    return 0
