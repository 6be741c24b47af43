"""The data card: counts, tokens, licences, drops and the split, as JSON and Markdown."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD_JSON = "data_card.json"
CARD_MD = "data_card.md"


def write_card(out_dir: Path, card: dict[str, Any]) -> None:
    (out_dir / CARD_JSON).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (out_dir / CARD_MD).write_text(render_markdown(card))


def read_card(out_dir: Path) -> dict[str, Any]:
    path = out_dir / CARD_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable data card ({exc})") from exc


def render_markdown(card: dict[str, Any]) -> str:
    out = ["# Data card: codet5p-lsp training corpus", "",
           f"Built {card.get('created', '?')} from git revision `{card.get('git_revision', '?')}`.", "",
           "## Splits (by distribution; the standard library is the test split)", "",
           "| split | distributions | files | bytes | tokens | pairs |", "|---|---|---|---|---|---|"]
    for split, s in card.get("splits", {}).items():
        tokens = card.get("tokens", {}).get(split, "-")
        out.append(f"| {split} | {s['distributions']} | {s['files']} | {s['bytes']} | {tokens} | {s['pairs']} |")
    out += ["", "## Licences (kept files)", "", "| licence | files |", "|---|---|"]
    for lic, n in sorted(card.get("licenses", {}).items(), key=lambda kv: -kv[1]):
        out.append(f"| {lic} | {n} |")
    out += ["", "## Dropped", "", "| reason | files |", "|---|---|"]
    for reason, n in sorted(card.get("dropped_files", {}).items()):
        out.append(f"| {reason} | {n} |")
    out += ["", f"Pairs dropped as exact duplicates of an earlier split: {card.get('pair_duplicates', 0)}; "
            f"files that did not parse (no pairs taken): {card.get('syntax_errors', 0)}.", ""]
    rejected = card.get("rejected_distributions", {})
    if rejected:
        out += ["## Distributions rejected by the licence filter", ""]
        out += [f"- {name}: {lic or 'no licence metadata'}" for name, lic in sorted(rejected.items())]
        out.append("")
    if card.get("heldout"):
        out += ["## Held-out evaluation sets", "", "```json", json.dumps(card["heldout"], indent=2), "```", ""]
    out += ["## Method", "", card.get("method", ""), ""]
    return "\n".join(out)
