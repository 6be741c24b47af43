"""The shallow-encoder / deep-decoder CodeT5+ family ("smol" kind), after the paper's 2B+ recipe.

A small pretrained encoder (all-MiniLM-L6-v2, a BERT) and a frozen pretrained decoder
(SmolLM2-135M, a LLaMA) joined by cross-attention blocks added to the top decoder layer(s).
`config` is torch-free; `modeling`, `importer` and `export` need the train extra; the runtime
for its bundles is `model.runtime.smol_runtime`.
"""
