"""Training of the smol kind: a shallow encoder and cross-attention on a frozen pretrained decoder.

`init` assembles the starting model from the two imported checkpoints, `objectives` builds the
stage-2 batches and losses (contrastive, matching with hard negatives, text->code, code->text),
`trainer` runs one resumable, time- or step-bounded stage on the trainable parts only, and
`recipe` chains the stages of `codet5p-train smol-recipe`.
"""
