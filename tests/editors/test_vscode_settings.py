"""The VS Code extension's settings mirror the server options (names, types and defaults).

`editors/vscode/package.json` declares every server option as `codet5p.<section>.<camelKey>`;
the extension sends them as `initializationOptions`. A server option added or renamed without
the setting (or the reverse) fails here.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from lsp_server.options import ServerOptions, parse_options

PACKAGE = Path(__file__).resolve().parents[2] / "editors" / "vscode" / "package.json"
CLIENT_ONLY = ("codet5p.server.", "codet5p.trace.", "codet5p.client.")


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def _settings() -> dict[str, dict]:
    props = json.loads(PACKAGE.read_text("utf-8"))["contributes"]["configuration"]["properties"]
    return {k: v for k, v in props.items() if not k.startswith(CLIENT_ONLY)}


def _server_defaults() -> dict[str, object]:
    out = {}
    for section in dataclasses.fields(ServerOptions):
        value = getattr(ServerOptions(), section.name)
        for f in dataclasses.fields(value):
            out[f"codet5p.{section.name}.{_camel(f.name)}"] = getattr(value, f.name)
    return out


def test_every_server_option_is_a_setting_and_back():
    assert set(_settings()) == set(_server_defaults())


def test_setting_defaults_equal_server_defaults():
    defaults = _server_defaults()
    for key, spec in _settings().items():
        assert spec["default"] == defaults[key], key


def test_setting_defaults_parse_without_problems():
    nested: dict = {}
    for key, spec in _settings().items():
        _, section, name = key.split(".")
        nested.setdefault(section, {})[name] = spec["default"]
    options, problems = parse_options(nested)
    assert problems == []
    assert options == ServerOptions()


def test_enums_match_the_server_literals():
    import typing

    for key, spec in _settings().items():
        if "enum" not in spec:
            continue
        _, section, name = key.split(".")
        cls = type(getattr(ServerOptions(), section))
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        hint = typing.get_type_hints(cls)[snake]
        assert set(spec["enum"]) == set(typing.get_args(hint)), key
