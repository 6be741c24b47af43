"""Run a recipe step by step; every step is skipped when its output is complete, and training
stages resume from their last checkpoint, so re-running the same command continues the work.

Layout of a work directory: `corpus/` (unless an existing corpus is given), `tokenizer/`,
`instruct/train.jsonl`, `runs/<stage>/` (see `training.trainer`), `bundle/`.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from training.config import TrainConfig
from training.recipes import first_changed_stage, get_recipe

log = logging.getLogger(__name__)

STEPS = ("corpus", "tokenizer", "stages", "export")


def _corpus(recipe: dict[str, Any], out: Path) -> None:
    from training.data.corpus import build_corpus
    from training.data.sources import (cached_wheels, dir_distribution, download_wheels, read_pins,
                                       stdlib_distribution, wheel_distribution)
    from training.paths import wheel_cache

    spec = recipe["corpus"]
    if spec.get("dist_dirs"):
        dists = [dir_distribution(p) for d in spec["dist_dirs"] for p in sorted(Path(d).iterdir()) if p.is_dir()]
    else:
        pins = read_pins()
        download_wheels(pins, wheel_cache())
        dists = [d for d in (wheel_distribution(w) for w in cached_wheels(pins, wheel_cache())) if d]
    stdlib = stdlib_distribution(Path(spec["stdlib"]) if spec.get("stdlib") else None)
    build_corpus(out, dists, [stdlib], valid_fraction=spec.get("valid_fraction", 0.03),
                 heldout_n=spec.get("heldout_n", 1000))
    (out / "DONE").write_text("ok\n")


def run_recipe(name: str, work: Path, corpus: Path | None = None, until: str | None = None,
               steps_scale: float = 1.0, device: str = "auto", ablation: str | None = None,
               reuse: Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run recipe `name` (with `ablation`, see `training.recipes.ABLATIONS`) in `work`; return
    paths of what it produced. `steps_scale` multiplies every stage's steps and time budget.
    With `reuse` (the work directory of a run of the same recipe), the stages an ablation leaves
    unchanged are taken from there instead of being trained again. `overrides` replace training
    config fields in every stage."""
    from training.data.tokens import train_tokenizer, update_card_tokens
    from training.instruct import build_instructions
    from training.trainer import train

    if reuse is not None and not ablation:
        raise ValueError("--reuse needs an ablation: a full run has no stage to take from another run")
    recipe = get_recipe(name, ablation)
    changed = first_changed_stage(recipe)
    stage_names = [s[0] for s in recipe["stages"]]
    reusable = set(stage_names[:stage_names.index(changed)]) if changed and reuse else set()
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"work": str(work)}
    if ablation:
        result["ablation"] = recipe["ablation"]
    corpus_dir = corpus or work / "corpus"
    if corpus is None and not (corpus_dir / "DONE").is_file():
        log.info("recipe %s: building the corpus in %s", name, corpus_dir)
        _corpus(recipe, corpus_dir)
    if not (corpus_dir / "files" / "train.jsonl").is_file():
        raise FileNotFoundError(f"{corpus_dir}: no files/train.jsonl (not a corpus directory)")
    result["corpus"] = str(corpus_dir)
    if until == "corpus":
        return result
    tok_dir = work / "tokenizer"
    spec = recipe["tokenizer"]
    shared = corpus_dir / "tokenizer" / "tokenizer.json"
    if not (tok_dir / "tokenizer.json").is_file() and corpus is not None and shared.is_file():
        from model.special_tokens import appended_tokens
        from model.tokenizer import CodeTokenizer

        tok = CodeTokenizer.from_file(shared)
        if tok.vocab_size == spec["vocab_size"] + len(appended_tokens()):  # the corpus's own tokenizer fits: reuse it
            log.info("recipe %s: reusing %s", name, shared)
            tok.save(tok_dir)
    if not (tok_dir / "tokenizer.json").is_file():
        tok = train_tokenizer(corpus_dir, spec["vocab_size"], tok_dir, spec.get("max_chars", 0),
                              spec.get("min_frequency", 2))
        if corpus is None:
            update_card_tokens(corpus_dir, tok)
    result["tokenizer"] = str(tok_dir / "tokenizer.json")
    if until == "tokenizer":
        return result
    previous: Path | None = None
    for stage, kind, settings in recipe["stages"]:
        if stage in reusable:
            assert reuse is not None
            if not (reuse / "runs" / stage / "DONE").is_file():
                raise FileNotFoundError(f"{reuse}: stage {stage} is not finished there, so it cannot be reused")
            previous = reuse / "runs" / stage / "final"
            result[stage] = str(previous)
            result.setdefault("reused", []).append(stage)
            if until == stage:
                return result
            continue
        data = {"chunks": corpus_dir / "files" / "train.jsonl",
                "pairs": corpus_dir / "pairs" / "train.jsonl",
                "instructions": work / "instruct" / "train.jsonl"}[kind]
        if kind == "instructions" and not data.is_file() and reuse is not None \
                and (reuse / "instruct" / "train.jsonl").is_file():
            data = reuse / "instruct" / "train.jsonl"
        if kind == "instructions" and not data.is_file():
            spec = recipe["instructions"]
            build_instructions(corpus_dir / "pairs" / "train.jsonl", data, ngram=spec["ngram"],
                               max_examples=spec["max_examples"])
        settings = {**settings, **(overrides or {})}
        settings["steps"] = max(1, int(round(settings["steps"] * steps_scale)))
        if settings.get("time_budget_s"):
            settings["time_budget_s"] = float(settings["time_budget_s"]) * steps_scale
        settings["warmup_steps"] = min(settings.get("warmup_steps", 0), settings["steps"] // 2)
        cfg = TrainConfig.from_dict({
            **settings, "stage": stage, "model": recipe["model"], "data": str(data),
            "data_for": {"chunks": str(corpus_dir / "files" / "train.jsonl"),
                         "pairs": str(corpus_dir / "pairs" / "train.jsonl"), kind: str(data)},
            "tokenizer": str(tok_dir / "tokenizer.json"),
            "init_from": str(previous) if previous else "", "device": device,
            "threads": recipe.get("threads", 0)}, source=f"recipe {name}/{stage}")
        run_dir = work / "runs" / stage
        if not (run_dir / "DONE").is_file():
            log.info("recipe %s: stage %s (%d steps) in %s", name, stage, cfg.steps, run_dir)
            train(cfg, run_dir)
        previous = run_dir / "final"
        result[stage] = str(previous)
        if until == stage:
            return result
    if until == "stages":
        return result
    bundle = work / "bundle"
    if not (bundle / "manifest.json").is_file():
        from model.export import ExportOptions, export_bundle

        src = work / "runs" / recipe["export"]["from"] / "final"
        export_bundle(src, bundle, ExportOptions(quantize=recipe["export"].get("quantize", True),
                                                 overwrite=True))
    result["bundle"] = str(bundle)
    (work / "recipe_result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
