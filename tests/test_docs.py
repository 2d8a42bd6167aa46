"""The docs stay true: generated blocks match the code, README code runs."""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import generate  # noqa: E402


@pytest.mark.slow  # tens of seconds: runs in CI (.ci/run) and with --run-slow
def test_generated_doc_blocks_are_current():
    stale = generate.stale_files()
    assert not stale, f"run `python docs/generate.py`: stale {[p.name for p in stale]}"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks((ROOT / "README.md").read_text()))))
def test_readme_python_blocks_run(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _python_blocks((ROOT / "README.md").read_text())[index]
    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "__readme__"})


@pytest.mark.parametrize("index", range(len(_python_blocks((ROOT / "docs" / "estimation.md").read_text()))))
def test_estimation_worked_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _python_blocks((ROOT / "docs" / "estimation.md").read_text())[index]
    exec(compile(code, f"docs/estimation.md block {index}", "exec"), {"__name__": "__docs__"})


def test_readme_quick_start_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, flags=re.S).group(1).strip().splitlines()
    assert len(block) == 2 and "ivigsim demo" in block[0] and "pytest" in block[1]
    assert block[1] in (ROOT / ".ci" / "run").read_text()


def test_every_parameter_has_a_source_and_docs_list_it():
    from ivigsim.model.library import core_model

    table = (ROOT / "docs" / "parameters.md").read_text()
    for p in core_model().parameters:
        assert p.source.strip()
        assert f"`{p.name}`" in table
