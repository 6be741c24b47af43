"""Test helpers: a tiny random-weight model directory and bundle (needs torch; for tests only).

`build_tiny_model_dir` trains a byte-level BPE on a fixed text sample and saves a `tiny` config
model with random weights (deterministic for a seed); `build_tiny_bundle` exports it with int8
graphs through the real export path (`model.export`). Both take well under a minute.
"""
from __future__ import annotations

from pathlib import Path

SAMPLE_TEXT: tuple[str, ...] = (
    "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n    return a + b\n",
    "def read_file(path):\n    with open(path, encoding='utf-8') as f:\n        return f.read()\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n"
    "        self.items.append(x)\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(i)\n",
    "import os\nimport sys\n\nif __name__ == '__main__':\n    main(sys.argv[1:])\n",
    "function greet(name) {\n  return 'hello ' + name;\n}\nconst xs = [1, 2, 3].map(x => x * 2);\n",
    "func main() {\n\tfmt.Println(\"hello world\")\n}\n",
    "public static int max(int a, int b) { return a > b ? a : b; }\n",
    "Return the sum of two numbers. Read a file and return its text. Print the even numbers.",
    "Sort a list of numbers in place. Parse the command line arguments. Open a socket.",
)


def tokenizer_corpus(repeats: int = 20) -> list[str]:
    """The fixed text the tiny tokenizer is trained on."""
    return list(SAMPLE_TEXT) * repeats


def build_tiny_model_dir(out_dir: str | Path, seed: int = 0, config_name: str = "tiny", **overrides: object) -> Path:
    """Write a tiny random-weight model directory (config.json, model.safetensors, tokenizer.json)."""
    import torch

    from model.config import get_config
    from model.modeling import build_model, save_model_dir
    from model.tokenizer import CodeTokenizer

    tok = CodeTokenizer.train(tokenizer_corpus(), vocab_size=600, min_frequency=2)
    config = get_config(config_name, **overrides).with_vocab(tok.vocab_size)  # type: ignore[arg-type]
    with torch.random.fork_rng():
        model = build_model(config, seed=seed)
    return save_model_dir(model, tok, out_dir, extra={"built_by": "model.testing", "seed": seed})


def build_tiny_bundle(out_dir: str | Path, seed: int = 0, model_dir: str | Path | None = None) -> Path:
    """Export a tiny model (built from `seed`, or the given `model_dir`) to the bundle `out_dir`."""
    import tempfile

    from model.export import ExportOptions, export_bundle

    out_dir = Path(out_dir)
    if model_dir is not None:
        return export_bundle(model_dir, out_dir, ExportOptions(overwrite=True))
    with tempfile.TemporaryDirectory(prefix="tiny-model-") as tmp:
        src = build_tiny_model_dir(Path(tmp) / "model", seed=seed)
        return export_bundle(src, out_dir, ExportOptions(overwrite=True))
