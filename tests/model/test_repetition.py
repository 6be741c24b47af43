"""The no-repeat n-gram rule on token lists."""
from __future__ import annotations

import pytest

from model.runtime.repetition import repeated_ngram_bans


@pytest.mark.parametrize(("ids", "n", "bans"), [
    ([1, 2, 1, 2, 1], 3, [2]),     # "2 1" was followed by 2: "2 1 2" would repeat
    ([1, 2, 3], 3, []),            # "2 3" never seen before
    ([5, 5], 2, [5]),
    ([1, 2, 1, 3, 1], 2, [2, 3]),  # every successor of an earlier 1
    ([], 3, []),
    ([7], 3, []),
    ([4, 2, 4], 1, [2, 4]),        # n = 1: no token twice
])
def test_bans(ids: list[int], n: int, bans: list[int]) -> None:
    assert repeated_ngram_bans(ids, n) == bans


def test_n_must_be_positive() -> None:
    with pytest.raises(ValueError):
        repeated_ngram_bans([1, 2], 0)
