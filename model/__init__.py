"""CodeT5+ model package: configs, tokenizer, task formats, torch modules, export and runtime.

Import submodules explicitly. Only `model.config`, `model.special_tokens`, `model.formats`,
`model.tokenizer` and `model.runtime` are torch-free; `model.modeling`, `model.export` and
`model.importer` need the `train` extra (torch, transformers, optimum).
"""
