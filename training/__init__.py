"""Training package: corpus, tokenizer, CodeT5+ objectives, trainer, instruction tuning,
evaluation and export entry points (`codet5p-train`). Nothing imports this package."""
