"""Running the same trial again into its folder (say with --json after a plain run, as the
README shows) reuses its checked chunks; another trial into that folder is refused."""

from pathlib import Path

from typer.testing import CliRunner

from ivigsim.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_the_same_trial_again_reuses_its_folder_and_another_is_refused(tmp_path):
    text = (ROOT / "examples" / "trials" / "cidp-dose-comparison.yaml").read_text()
    small = tmp_path / "small.yaml"
    small.write_text("\n".join("size: 30" if line.startswith("size:") else line for line in text.splitlines()) + "\n")
    out = tmp_path / "out"
    first = CliRunner().invoke(app, ["trial", str(small), "-o", str(out), "-q"])
    assert first.exit_code == 0, first.output
    summary = (out / "summary.json").read_text()
    again = CliRunner().invoke(app, ["trial", str(small), "-o", str(out), "--json"])
    assert again.exit_code == 0, again.output
    assert "held this same trial" in again.output and '"size_per_arm": 30' in again.output
    assert (out / "summary.json").read_text() == summary
    other = tmp_path / "other.yaml"
    other.write_text(small.read_text().replace("size: 30", "size: 31"))
    refused = CliRunner().invoke(app, ["trial", str(other), "-o", str(out), "-q"])
    assert refused.exit_code == 2 and refused.output.startswith("error: --out: expected a new or empty folder")
