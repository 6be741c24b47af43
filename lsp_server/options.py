"""Server options as typed dataclasses, parsed from `initializationOptions` or settings.

`parse_options(raw)` returns the options and a list of problems; each invalid value is named
in a problem and its default used, so a typo never stops the server. Keys are camelCase in
JSON (`maxNewTokens`) or snake_case; both are accepted.

```json
{"model": {"path": "/path/to/bundle", "threads": 2, "precision": "auto", "device": "cpu"},
 "completion": {"enabled": true, "maxNewTokens": 48, "deadlineMs": 1500, "maxPrefixTokens": 640,
                "maxSuffixTokens": 128, "multiline": "auto", "cacheSize": 128},
 "hover": {"enabled": true, "budgetMs": 2000, "maxNewTokens": 32},
 "index": {"enabled": true, "exclude": ["**/fixtures/**"], "maxFileSize": 1000000,
           "maxFiles": 50000, "cacheDir": null, "embeddingDtype": "float16"},
 "search": {"limit": 50, "rerank": true, "rerankTopK": 10, "candidates": 100},
 "log": {"level": "info", "file": null}}
```
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class ModelOptions:
    """Which bundle to load and how (None path: the shipped default bundle)."""

    path: str | None = None
    threads: int | None = None
    precision: Literal["auto", "int8", "fp32"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "cpu"


@dataclass
class CompletionOptions:
    enabled: bool = True
    max_new_tokens: int = 48
    deadline_ms: int = 1500
    max_prefix_tokens: int = 640  # bench/prompt_budget.py: EM 23.0 at 384, 24.5-26.0 from 512 on
    max_suffix_tokens: int = 128
    multiline: Literal["auto", "always", "never"] = "auto"
    cache_size: int = 128
    reuse_prompt: bool = True  # keep each document's prompt KV cache and prefill only new tokens
    draft_tokens: int = 6  # tokens guessed from the prompt and checked in one decoder call (0: off)


@dataclass
class HoverOptions:
    enabled: bool = True
    budget_ms: int = 2000
    max_new_tokens: int = 32


@dataclass
class IndexOptions:
    enabled: bool = True
    exclude: list[str] = field(default_factory=list)
    max_file_size: int = 1_000_000
    max_files: int = 50_000
    cache_dir: str | None = None
    embedding_dtype: Literal["float16", "float32"] = "float16"
    embed_batch_size: int = 16


@dataclass
class SearchOptions:
    limit: int = 50
    rerank: bool = True
    rerank_top_k: int = 10
    candidates: int = 100


@dataclass
class LogOptions:
    level: Literal["debug", "info", "warning", "error"] = "info"
    file: str | None = None


@dataclass
class ServerOptions:
    model: ModelOptions = field(default_factory=ModelOptions)
    completion: CompletionOptions = field(default_factory=CompletionOptions)
    hover: HoverOptions = field(default_factory=HoverOptions)
    index: IndexOptions = field(default_factory=IndexOptions)
    search: SearchOptions = field(default_factory=SearchOptions)
    log: LogOptions = field(default_factory=LogOptions)


_POSITIVE = {"max_new_tokens", "deadline_ms", "max_prefix_tokens", "budget_ms", "max_file_size",
             "max_files", "limit", "rerank_top_k", "candidates", "cache_size", "threads",
             "embed_batch_size"}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _check_value(name: str, hint: Any, value: Any) -> tuple[bool, Any]:
    """(ok, converted value) for a JSON value against a type hint."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return True, None
        for arg in args:
            if arg is not type(None):
                ok, conv = _check_value(name, arg, value)
                if ok:
                    return True, conv
        return False, None
    if origin is Literal:
        return value in typing.get_args(hint), value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            return False, None
        return True, list(value)
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            return False, None
        value = int(value)
        return (value > 0 if name in _POSITIVE else value >= 0), value
    if hint is str:
        return isinstance(value, str), value
    return False, None


def _fill(obj: Any, raw: Any, prefix: str, problems: list[str]) -> None:
    if not isinstance(raw, dict):
        problems.append(f"{prefix.rstrip('.') or 'options'}: expected an object, got {type(raw).__name__}; using defaults")
        return
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in raw.items():
        name = _snake(key)
        where = f"{prefix}{key}"
        if name not in names:
            problems.append(f"{where}: unknown option (ignored)")
            continue
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            _fill(current, value, where + ".", problems)
            continue
        ok, conv = _check_value(name, hints[name], value)
        if ok:
            setattr(obj, name, conv)
        else:
            problems.append(f"{where}: invalid value {value!r}; using default {current!r}")


def parse_options(raw: Any) -> tuple[ServerOptions, list[str]]:
    """Options from a JSON object; unknown keys and invalid values become problems."""
    options = ServerOptions()
    problems: list[str] = []
    if raw is None:
        return options, problems
    if isinstance(raw, dict) and isinstance(raw.get("codet5p"), dict):
        raw = raw["codet5p"]  # settings sent as {"codet5p": {...}}
    _fill(options, raw, "", problems)
    return options, problems


def options_to_dict(options: ServerOptions) -> dict:
    return dataclasses.asdict(options)
