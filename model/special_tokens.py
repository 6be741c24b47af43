"""The CodeT5+ special-token layout, defined once for tokenizer, training and runtime.

Layout (as the Salesforce CodeT5+ checkpoints): ids 0-4 are `<pad>`, `<s>`, `</s>`, `<unk>`,
`<mask>`; the byte-level BPE vocabulary follows; then 100 span sentinels `<extra_id_99>` ..
`<extra_id_0>` (T5 convention: `<extra_id_0>` has the highest sentinel id); then `[ENC]`,
`[TDEC]`, `[CDEC]`. `[CLM]` reuses `<unk>`; `[CLS]` is `<s>`. Code never hard-codes ids: it asks
the tokenizer with these strings.
"""
from __future__ import annotations

PAD = "<pad>"
BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
MASK = "<mask>"
BASE_SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, UNK, MASK)

NUM_SENTINELS = 100
ENC = "[ENC]"  # the paper's [Match]: decoder prefix for text-code matching
TDEC = "[TDEC]"  # decoder prefix for code -> text
CDEC = "[CDEC]"  # decoder prefix for text -> code
CLM = UNK  # encoder-side marker for causal LM modes (the maintainers reuse <unk>)
CLS = BOS  # pooled position for embeddings
TASK_TOKENS: tuple[str, ...] = (ENC, TDEC, CDEC)


def sentinel(i: int) -> str:
    """Return the i-th span sentinel, `<extra_id_i>`."""
    if not 0 <= i < NUM_SENTINELS:
        raise ValueError(f"sentinel index {i} out of range 0..{NUM_SENTINELS - 1}")
    return f"<extra_id_{i}>"


def appended_tokens() -> list[str]:
    """Tokens appended after the BPE vocabulary, in id order (sentinels 99..0, then task tokens)."""
    return [sentinel(i) for i in reversed(range(NUM_SENTINELS))] + list(TASK_TOKENS)
