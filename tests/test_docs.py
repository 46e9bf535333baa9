"""The examples people copy: README's Python blocks and every docstring example run here."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import segloss_cli

ROOT = Path(__file__).resolve().parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules():
    names = ["segloss"]
    for info in pkgutil.walk_packages(segloss_cli.__path__, "segloss_cli."):
        if ".cli" not in info.name and ".kernels" not in info.name:  # no examples there; kernels compile on import
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples read sample_data/
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=FLAGS, report=True)
    assert failed == 0


def test_the_api_has_examples():
    """Every public function of the API carries a doctest example (numpydoc 'Examples')."""
    from segloss_cli import api, gate

    for fn in (api.score, api.score_files, api.evaluate_folder, api.run, api.make_params, gate.check):
        assert ">>> " in (fn.__doc__ or ""), fn.__name__
    finder = doctest.DocTestFinder()
    assert sum(len(t.examples) for t in finder.find(api)) >= 10


def _readme_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_examples(monkeypatch):
    """README's Python blocks in order, sharing one namespace as a notebook would (the torch
    block needs torch, which the test extra does not install)."""
    blocks = _readme_blocks()
    assert blocks and "segloss.score(" in blocks[0]
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    ran = 0
    for index, block in enumerate(blocks):
        if "import torch" in block:
            try:
                import torch  # noqa: F401
            except ImportError:
                break
        test = doctest.DocTestParser().get_doctest(block, namespace, f"README block {index}", "README.md", 0)
        runner.run(test, clear_globs=False)
        namespace = test.globs  # DocTest copies its globals: carry them to the next block
        ran += 1
    assert runner.failures == 0 and ran >= 1
