"""Generated workspaces for the stress tests: many small source files, fast to write."""
from __future__ import annotations

import random
from pathlib import Path

WORDS = ("read parse load save config file user order cache index token batch query stream "
         "buffer render merge split count total price record invoice report metric").split()


def python_file(rng: random.Random, n_functions: int, tag: str) -> str:
    out = []
    for i in range(n_functions):
        a, b = rng.sample(WORDS, 2)
        out.append(f"def {a}_{b}_{tag}_{i}(value, limit=10):\n"
                   f'    """{a.capitalize()} the {b} of value."""\n'
                   f"    return [value] * limit\n\n")
    out.append(f"class {rng.choice(WORDS).capitalize()}{tag}:\n"
               f"    def method_{tag}(self):\n        return {rng.randint(0, 99)}\n")
    return "\n".join(out)


def make_tree(root: Path, n_files: int, functions_per_file: int = 3, seed: int = 0,
              per_dir: int = 200) -> Path:
    """`n_files` Python/JavaScript files under `root`, `per_dir` per directory."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        d = root / f"pkg{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(exist_ok=True)
        if i % 10 == 9:
            (d / f"m{i}.js").write_text(f"function handle{i}(req) {{\n  return req.body;\n}}\n"
                                        f"class Widget{i} {{\n  draw() {{ return {i}; }}\n}}\n")
        else:
            (d / f"m{i}.py").write_text(python_file(rng, functions_per_file, str(i)))
    return root
