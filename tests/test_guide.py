"""The user guide (docs/guide/) runs as written.

Each page is read top to bottom and its snippets are carried out, in order, in one empty
folder shared by the pages (task 4 and 5 use the file task 1 writes):

- a fenced block whose first line is ``# file: NAME``, or that follows a line
  ``<!-- file: NAME -->``, is written to NAME, exactly as shown;
- a ```bash block is run command by command (``\\`` continues a line); every command starts
  with ``ivigsim`` and must exit 0. ``<!-- not run: REASON -->`` before a block skips it;
- a ```python block is executed; ``<!-- needs: MODULE -->`` before it skips it when the
  module is not installed;
- ``<!-- writes: PATH ... -->`` checks that each path exists after the snippets above it.

Printed outputs (```text blocks) are shown, not compared: the numbers move when the model
is recalibrated, and the pages say so.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
PAGES = sorted(GUIDE.glob("[0-9]-*.md"))
BIN = Path(sys.executable).parent

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*(file|writes|not run|needs):\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Step:
    kind: str          # "file", "bash", "python", "writes"
    text: str          # file content, commands, code, or the paths
    line: int          # 1-based line of the block or marker
    name: str = ""     # file name (kind "file")
    skip: str = ""     # why it is not run (kind "bash"/"python")


def steps(page: Path) -> list[Step]:
    """The page's runnable snippets, in order."""
    lines = page.read_text().splitlines()
    found: list[Step] = []
    pending: dict[str, str] = {}
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i])
        fence = FENCE.match(lines[i])
        if marker:
            key, value = marker.groups()
            if key == "writes":
                found.append(Step("writes", value, i + 1))
            else:
                pending[key] = value
            i += 1
            continue
        if not fence:
            if lines[i].strip():
                pending.clear()  # a marker applies to the block right after it
            i += 1
            continue
        lang, start = fence.group(1), i + 1
        end = next(j for j in range(start, len(lines)) if lines[j].startswith("```"))
        body = lines[start:end]
        text = "\n".join(body) + "\n"
        named = re.match(r"#\s*file:\s*(\S+)\s*$", body[0]) if body else None
        if "file" in pending or named:
            found.append(Step("file", text, start, name=pending.get("file") or named.group(1)))
        elif lang in ("bash", "python"):
            skip = pending.get("not run", "")
            module = pending.get("needs")
            if not skip and module and importlib.util.find_spec(module) is None:
                skip = f"{module} is not installed"
            found.append(Step(lang, text, start, skip=skip))
        pending.clear()
        i = end + 1
    return found


def commands(text: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", text)
    return [c.strip() for c in joined.splitlines() if c.strip() and not c.strip().startswith("#")]


def run_step(step: Step, page: Path, folder: Path) -> None:
    where = f"{page.relative_to(ROOT)} line {step.line}"
    if step.kind == "file":
        (folder / step.name).write_text(step.text)
    elif step.kind == "writes":
        missing = [p for p in step.text.split() if not (folder / p).exists()]
        assert not missing, f"{where}: the text says these are written, but they are not: {missing}"
    elif step.skip:
        return
    elif step.kind == "bash":
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "100"}
        for command in commands(step.text):
            done = subprocess.run(shlex.split(command), cwd=folder, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, f"{where}: `{command}` exited {done.returncode}\n{done.stderr[-3000:]}"
    elif step.kind == "python":
        before = Path.cwd()
        os.chdir(folder)
        try:
            exec(compile(step.text, where, "exec"), {"__name__": "__guide__"})
        finally:
            os.chdir(before)
            import matplotlib.pyplot as plt

            plt.close("all")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return {"folder": tmp_path_factory.mktemp("guide"), "done": []}


@pytest.mark.slow  # the guide's pages, 20-30 s together: in CI and with --run-slow
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_guide_page_runs(page, workspace):
    folder = workspace["folder"]
    for earlier in PAGES[:PAGES.index(page)]:  # a page may use files an earlier one wrote
        if earlier not in workspace["done"]:
            for step in steps(earlier):
                run_step(step, earlier, folder)
            workspace["done"].append(earlier)
    for step in steps(page):
        run_step(step, page, folder)
    workspace["done"].append(page)


def test_guide_snippets_follow_the_conventions():
    """What a reader copies is what the test runs: every command is an ivigsim command,
    every YAML file shown is written and run, nothing is skipped without a reason."""
    assert len(PAGES) == 5
    for page in PAGES:
        text = page.read_text()
        found = steps(page)
        assert any(s.kind == "bash" and not s.skip for s in found), f"{page.name}: no command runs"
        for step in found:
            if step.kind == "bash":
                for command in commands(step.text):
                    assert command.startswith("ivigsim "), f"{page.name} line {step.line}: {command}"
        for match in re.finditer(r"^```yaml\n(.*?)^```", text, flags=re.S | re.M):
            assert re.match(r"#\s*file:\s*\S+", match.group(1)), f"{page.name}: a YAML block without '# file: NAME'"
        for marker in re.finditer(r"<!--\s*not run:\s*(.*?)-->", text):
            assert marker.group(1).strip(), f"{page.name}: 'not run' without a reason"


def test_guide_is_linked_from_the_readme_and_lists_every_page():
    index = (GUIDE / "README.md").read_text()
    assert "docs/guide/" in (ROOT / "README.md").read_text()
    for page in PAGES:
        assert f"({page.name})" in index, f"docs/guide/README.md does not link {page.name}"
