"""The command line: a thin layer over the library.

Every command turns bad input into one line on stderr and exit status 2 (never a
traceback), and writes nothing until the input has been checked.
"""

from __future__ import annotations

import functools
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ivigsim.errors import IvigsimError

app = typer.Typer(
    name="ivigsim",
    help="Mechanistic simulator of intravenous immunoglobulin (IVIG) therapy in autoimmune disease.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEMO = Path(__file__).parent / "data" / "demo.yaml"


class OutputFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    netcdf = "netcdf"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def user_errors(command):
    """Report ivigsim's input errors as one line and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except IvigsimError as exc:
            _fail(str(exc))

    return wrapper


def _run_scenario(path: Path, out: Path | None, fmt: OutputFormat, plot: bool, quiet: bool) -> None:
    from ivigsim.io.results import SUFFIX, write_results
    from ivigsim.io.scenario_file import load_scenario
    from ivigsim.simulation import simulate
    from ivigsim.summary import summarise

    scenario = load_scenario(path)
    ds = simulate(scenario)
    failed = int((ds["solver_status"] != 0).sum())
    if failed:
        _fail(f"the solver failed for this scenario (status {int(ds['solver_status'][0])}); try a tighter simulation.rtol")
    out = out or Path(f"{path.stem}-results")
    result = write_results(ds, out / f"{path.stem}{SUFFIX[fmt.value]}", fmt.value)
    written = [result]
    if plot:
        from ivigsim.plot import plot_patient

        written.append(plot_patient(ds, out / f"{path.stem}.png", title=scenario.name))
    if not quiet:
        typer.echo(f"{scenario.name}")
        for line in summarise(ds).lines():
            typer.echo(f"  {line}")
        typer.echo("wrote " + ", ".join(str(p) for p in written))


@app.command()
@user_errors
def simulate(
    file: Annotated[Path, typer.Argument(help="scenario file (YAML); see `ivigsim schema`")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder [default: FILE-results]")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="results file format")] = OutputFormat.csv,
    plot: Annotated[bool, typer.Option(help="write a PNG plot")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing on success")] = False,
) -> None:
    """Simulate one patient: write trajectories and a plot, print a summary."""
    _run_scenario(file, out, fmt, plot, quiet)


@app.command()
@user_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("ivigsim-demo"),
    plot: Annotated[bool, typer.Option(help="write a PNG plot")] = True,
) -> None:
    """Run the built-in scenario (ITP, 1 g/kg/day on two days) end to end."""
    from ivigsim.io.scenario_file import read_yaml

    typer.echo(f"scenario: {DEMO}")
    typer.echo("---\n" + DEMO.read_text(encoding="utf-8").strip() + "\n---")
    read_yaml(DEMO)
    _run_scenario(DEMO, out, OutputFormat.csv, plot, quiet=False)


class Summary(str, Enum):
    value = "value"
    change = "change"
    peak = "peak"
    nadir = "nadir"


@app.command()
@user_errors
def explain(
    file: Annotated[Path, typer.Argument(help="scenario file (YAML)")],
    output: Annotated[str, typer.Option("--output", help="output variable, e.g. autoantibody_fraction_of_baseline")],
    day: Annotated[Optional[float], typer.Option("--day", help="day of the read-out (value, change)")] = None,
    summary: Annotated[Summary, typer.Option("--summary", help="value or change on --day, or peak/nadir")] = Summary.value,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="folder for the waterfall plot [default: FILE-results]")] = None,
    plot: Annotated[bool, typer.Option(help="write a waterfall PNG")] = True,
) -> None:
    """Attribute an outcome to IVIG's mechanisms: knock-out effects and Shapley values."""
    from ivigsim.attribution import attribute, readout
    from ivigsim.io.scenario_file import load_scenario

    scenario = load_scenario(file)
    read = readout(output, day, summary.value)
    result = attribute(scenario, read)
    what = f"{output} ({summary.value}{f' on day {day:g}' if day is not None else ''})"
    typer.echo(f"{scenario.name}: {what}")
    typer.echo(f"  no mechanism {result.none_on:.4g} -> all mechanisms {result.all_on:.4g}: total effect {result.total:+.4g}")
    typer.echo(f"  {'mechanism':26s} {'knock-out':>11s} {'Shapley':>11s} {'share':>7s}")
    for name in result.mechanisms:
        typer.echo(f"  {name:26s} {result.knockout[name]:>+11.4g} {result.shapley[name]:>+11.4g} "
                   f"{100 * result.share(name):>6.1f}%")
    typer.echo(f"  interaction (total - sum of knock-outs): {result.interaction:+.4g}")
    if plot:
        from ivigsim.plot import plot_attribution

        folder = out or Path(f"{file.stem}-results")
        folder.mkdir(parents=True, exist_ok=True)
        path = plot_attribution(result, folder / f"{file.stem}-explain-{output}.png", what)
        typer.echo(f"wrote {path}")


class SchemaKind(str, Enum):
    scenario = "scenario"


@app.command()
@user_errors
def schema(
    kind: Annotated[SchemaKind, typer.Argument(help="which file's schema")] = SchemaKind.scenario,
) -> None:
    """Print the JSON Schema of the scenario file (for editors and validators)."""
    from ivigsim.io.scenario_file import scenario_json_schema

    typer.echo(json.dumps(scenario_json_schema(), indent=2))


@app.command()
@user_errors
def parameters(
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """List the model's parameters: value, unit, provenance and source."""
    from ivigsim.model.library import core_model
    from ivigsim.model.tables import parameter_rows

    rows = parameter_rows(core_model())
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['name']:40s} {r['value']:>10.4g} {r['unit']:14s} {r['provenance']:11s} {r['source']}")


@app.command()
@user_errors
def validate(
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="also write the table as Markdown here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Reproduce every calibration target; print simulated vs published. Exit 1 if any fails."""
    from ivigsim.io.results import atomic_path
    from ivigsim.validation.runner import run_targets, verdict_markdown, verdict_rows

    verdicts = run_targets()
    if as_json:
        typer.echo(json.dumps(verdict_rows(verdicts), indent=2))
    else:
        typer.echo(f"{'target':24s} {'published':>14s} {'accepted':>26s} {'simulated':>10s}  verdict")
        for r in verdict_rows(verdicts):
            typer.echo(f"{r['target']:24s} {r['published']:>9.3g} {r['unit']:4s} {r['accepted']:>26s} "
                       f"{r['simulated']:>10.3g}  {r['verdict']}")
    if markdown is not None:
        with atomic_path(markdown) as tmp:
            tmp.write_text(verdict_markdown(verdicts), encoding="utf-8")
    gaps = [v for v in verdicts if v.label == "GAP"]
    for v in gaps:
        typer.echo(f"known gap {v.target.id}: {v.target.known_gap}")
    failed = [v.target.id for v in verdicts if v.unexpected_failure]
    if failed:
        typer.echo(f"{len(failed)} of {len(verdicts)} targets failed: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(verdicts) - len(gaps)} of {len(verdicts)} targets pass; {len(gaps)} known gap(s), documented")


def main() -> None:
    app(prog_name="ivigsim")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
