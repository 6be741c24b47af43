"""Torch-free inference runtime: load an exported bundle and embed, generate, complete, match.

Imports only onnxruntime, tokenizers and numpy (plus the torch-free parts of `model`).
"""
from __future__ import annotations

from model.runtime.api import BundleError, Generation, GenerationConfig
from model.runtime.runtime import Runtime, default_bundle_dir

__all__ = ["BundleError", "Generation", "GenerationConfig", "Runtime", "default_bundle_dir"]
