"""Type checking: mypy sees Tensor's methods (they are in the class body, and the package ships py.typed).

The README's API snippets and the PyTorch examples must pass ``mypy``; a call to a method that does not
exist must not.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _mypy(tmp_path: Path, files: list[Path]) -> subprocess.CompletedProcess:
    pytest.importorskip("mypy", reason="pip install mypy (the test extra; CI installs it)")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    command = [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--follow-imports=silent",
               "--cache-dir", str(tmp_path / "cache"), *map(str, files)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


def test_readme_snippets_and_examples_type_check(tmp_path):
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("## A short tour of the API") : readme.index("## Training")]
    files = []
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", tour, flags=re.S)):
        path = tmp_path / f"readme_{i}.py"
        path.write_text(block)
        files.append(path)
    assert files
    files += sorted((ROOT / "examples" / "pytorch").glob("*.py"))
    result = _mypy(tmp_path, files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_sees_tensor_methods(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import convprop\nx = convprop.tensor([1.0])\nx.view_as(x).no_such_method()\n")
    result = _mypy(tmp_path, [bad])
    assert result.returncode == 1 and '"Tensor" has no attribute "no_such_method"' in result.stdout
    assert (ROOT / "convprop" / "py.typed").exists()
