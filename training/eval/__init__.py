"""Evaluation: metrics, baselines, a code sandbox, task runners and the held-out set builder.

`codet5p-train eval TASK --bundle DIR --data FILE [--baselines]` (see
`training/commands/evaluate.py`) drives the runners here; the held-out sets come from
`training.eval.heldout.build_heldout_sets`. Modules are import-light: torch (for the MiniLM
baseline) is imported only when that baseline runs.
"""
