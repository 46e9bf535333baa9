"""Issue 13: numba's cache cannot go stale when a shared kernel helper changes.

numba keys a cached function on its own source file; surface.class_boxes inlines
confusion._class_index from another file. The cache folder is keyed on every kernel file,
so editing the helper recompiles the caller (before, the old code ran from the cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import segloss_cli

SCRIPT = """
import json, numpy as np
from segloss_cli.kernels import confusion as KC, surface as KS
labels, lut, use = KC.class_lookup(np.array([1, 2]))
p = np.zeros((1, 4, 4), np.uint8); p[0, 1, 1] = 1; p[0, 2, 2] = 2
lo, hi = KS.class_boxes(p, p.copy(), lut, labels, use, np.int64(0), False, 1)
print(json.dumps([lo.tolist(), hi.tolist()]))
"""


def _run(pkg_root: Path, cache: Path) -> list:
    env = {**os.environ, "PYTHONPATH": str(pkg_root), "NUMBA_CACHE_DIR": str(cache)}
    # cwd outside the repository: python -c puts the working folder first on sys.path
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600, cwd=pkg_root
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_editing_a_shared_helper_recompiles_its_callers(tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(Path(segloss_cli.__file__).parent, pkg / "segloss_cli",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    cache = tmp_path / "cache"
    before = _run(pkg, cache)
    again = _run(pkg, cache)  # from the cache
    assert again == before
    src = pkg / "segloss_cli" / "kernels" / "confusion.py"
    text = src.read_text()
    helper = "    v = np.int64(value)\n    k = sorted_labels.size\n"
    assert helper in text
    # The edited helper sends every label to "not a class": no class has a box any more.
    src.write_text(text.replace(helper, helper + "    return k\n", 1))
    after = _run(pkg, cache)
    assert after != before
    lo, hi = after
    assert all(a > b for a, b in zip(sum(sum(lo, []), []), sum(sum(hi, []), [])))  # empty boxes: lo > hi
    assert len([d for d in cache.iterdir() if d.name.startswith("segloss-")]) == 2  # one folder per source state
