"""The likelihood re-rank's fusion rule, shared by the server's search and the evaluation.

Within the top k candidates of one query: `z(cosine) + weight * z(log P(query | code))`, each
term standardised over the k (so the weight, chosen on a validation split, does not depend on
the scale of either score).
"""
from __future__ import annotations

import numpy as np


def standardise(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std over the vector (std floored at 1e-6: equal scores give zeros)."""
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / max(float(x.std()), 1e-6)


def likelihood_fusion(cosine: np.ndarray, loglik: np.ndarray, weight: float) -> np.ndarray:
    """Fused scores of k candidates (higher is better)."""
    return standardise(cosine) + weight * standardise(loglik)
