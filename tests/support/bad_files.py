"""A workspace of files that must be skipped or read safely, next to a decoy `outside/` dir."""
from __future__ import annotations

import os
from pathlib import Path

# file name -> what it is; each must show up in exactly one log line when skipped
SKIPPED = {
    "latin1.py": "not valid UTF-8",
    "huge_line.py": "byte limit",
    "binary.js": "binary file",
    "loop_a.py": "symlink loop",
    "loop_b.py": "symlink loop",
    "leak.py": "symlink out of the workspace",
    "outdir": "symlink out of the workspace",
    "pipe.py": "not a regular file",
    "caf\udce9.py": "not valid UTF-8",
}
READ = {"ok.py": "ok_function", "sp ace #%?&=.py": "spaced_function", "ünï©ødé.py": "unicode_function",
        "new\nline.py": "newline_function", "-dash.py": "dash_function"}


def make_bad_workspace(root: Path, outside: Path, huge_mb: int = 50) -> Path:
    root.mkdir(parents=True)
    (outside / "secret.py").write_text("def secret_function():\n    return 'never read'\n")
    for name, fn in READ.items():
        (root / name).write_text(f"def {fn}(x):\n    return x\n")
    (root / "latin1.py").write_bytes("def caf\xe9():\n    return '\xe9'\n".encode("latin-1"))
    with open(root / "huge_line.py", "wb") as fh:  # one 50 MB line
        fh.write(b"x = '")
        chunk = b"a" * (1 << 20)
        for _ in range(huge_mb):
            fh.write(chunk)
        fh.write(b"'\n")
    (root / "binary.js").write_bytes(b"function x() {}\x00\x01\x02" * 50)
    os.symlink("loop_b.py", root / "loop_a.py")
    os.symlink("loop_a.py", root / "loop_b.py")
    os.symlink(outside / "secret.py", root / "leak.py")
    os.symlink(outside, root / "outdir")
    os.mkfifo(root / "pipe.py")
    with open(os.path.join(os.fsencode(root), b"caf\xe9.py"), "w") as fh:
        fh.write("def latin_name(): pass\n")
    return root
