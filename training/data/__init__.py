"""Corpus building (sources, filters, dedupe, pairs, data card) and training datasets."""
