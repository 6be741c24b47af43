"""A bundle whose recorded retrieval evaluation ranks below BM25 is kept out of hybrid search."""
from __future__ import annotations

import json
from pathlib import Path

from lsp_server.engine import Engine
from lsp_server.options import ServerOptions
from lsp_server.search import HYBRID_SYSTEM, LEXICAL_SYSTEM, semantic_search_useful


def _manifest(hybrid: float, bm25: float) -> dict:
    return {"evaluation": {"retrieval": {"systems": {HYBRID_SYSTEM: {"mrr": hybrid},
                                                     LEXICAL_SYSTEM: {"mrr": bm25}}}}}


def test_gate_rules() -> None:
    assert semantic_search_useful({}) is True  # nothing recorded: trust the model
    assert semantic_search_useful(_manifest(0.72, 0.51)) is True
    assert semantic_search_useful(_manifest(0.17, 0.51)) is False
    assert semantic_search_useful({"evaluation": {"retrieval": {"systems": {HYBRID_SYSTEM: {}}}}}) is True


def test_recorded_evaluation_switches_the_engine_to_lexical(tiny_bundle: Path, tmp_path: Path) -> None:
    from training.commands.evaluate import record_in_manifest

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for f in tiny_bundle.iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    record_in_manifest(bundle, {"task": "retrieval", "n": 3,
                                "systems": _manifest(0.1, 0.5)["evaluation"]["retrieval"]["systems"]})
    assert json.loads((bundle / "manifest.json").read_text())["evaluation"]["retrieval"]["n"] == 3
    options = ServerOptions()
    options.model.path = str(bundle)
    options.model.threads = 1
    engine = Engine(options)
    try:
        assert engine.load_model() == "ready"
        assert engine.semantic is False and "lexical index only" in engine.model_message
    finally:
        engine.close()


def test_rerank_gate_compares_with_the_embedding_on_the_same_queries() -> None:
    from lsp_server.search import rerank_useful

    def manifest(emb: float, rr: float, suffix: str = "") -> dict:
        return {"evaluation": {"retrieval": {"systems": {
            "codet5p embedding": {"mrr": 0.9}, f"codet5p embedding{suffix}": {"mrr": emb},
            f"codet5p + match re-rank@32{suffix}": {"mrr": rr}}}}}

    assert rerank_useful({}) is True  # nothing recorded: keep the configured behaviour
    assert rerank_useful(manifest(0.7, 0.6, " (first 200 queries)")) is False
    assert rerank_useful(manifest(0.7, 0.75, " (first 200 queries)")) is True
    assert rerank_useful(manifest(0.7, 0.69)) is False


def test_lexical_weight_comes_from_the_manifest_and_shapes_the_fusion() -> None:
    from lsp_server.search import lexical_weight_of, rrf

    assert lexical_weight_of({}) == 1.0
    assert lexical_weight_of({"search": {"lexical_weight": 0.1}}) == 0.1
    assert lexical_weight_of({"search": {"lexical_weight": "x"}}) == 1.0
    assert lexical_weight_of({"search": {"lexical_weight": -3}}) == 1.0
    lexical, semantic = [1, 2, 3], [3, 2, 1]
    assert {i for i, _ in rrf([lexical, semantic])[:2]} == {1, 3}  # equal weights: both tops tie
    assert [i for i, _ in rrf([lexical, semantic], weights=[0.1, 1.0])][0] == 3  # the embedding leads


def test_likelihood_rerank_needs_a_recorded_weight_and_no_worse_evaluation() -> None:
    from lsp_server.search import likelihood_rerank_of

    def manifest(weight, hybrid: float | None = None, rr: float | None = None) -> dict:
        systems = {}
        if hybrid is not None:
            systems = {"codet5p embedding + BM25 (RRF) (first 100 queries)": {"mrr": hybrid},
                       "codet5p embedding + BM25 (RRF) + likelihood re-rank@10 (first 100 queries)": {"mrr": rr}}
        return {"search": {"likelihood_weight": weight}, "evaluation": {"retrieval": {"systems": systems}}}

    assert likelihood_rerank_of({}) is None  # the bundle records no likelihood re-rank
    assert likelihood_rerank_of(manifest(0.5)) == 0.5  # nothing evaluated: the recorded choice
    assert likelihood_rerank_of(manifest(0.5, 0.76, 0.80)) == 0.5
    assert likelihood_rerank_of(manifest(0.5, 0.76, 0.70)) is None  # it ranked worse: off
    assert likelihood_rerank_of(manifest("x")) is None and likelihood_rerank_of(manifest(-1)) is None


def test_search_jobs_queue_between_typing_and_indexing() -> None:
    import threading

    from lsp_server.worker import BACKGROUND, INTERACTIVE, SEARCH, ModelWorker

    worker = ModelWorker()
    gate = threading.Event()
    order: list[str] = []
    try:
        worker.submit(gate.wait)  # holds the thread while the queue fills
        jobs = [worker.submit(order.append, "index", priority=BACKGROUND),
                worker.submit(order.append, "rerank", priority=SEARCH),
                worker.submit(order.append, "complete", priority=INTERACTIVE)]
        gate.set()
        for job in jobs:
            job.result(timeout=5)
        assert order == ["complete", "rerank", "index"]
    finally:
        worker.shutdown()
