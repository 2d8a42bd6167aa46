"""The command line: a thin layer over the library.

Every command turns bad input into one line on stderr and exit status 2 (never a
traceback), and writes nothing until the input has been checked.

No ``from __future__ import annotations`` here: typer reads every command's annotations at
start-up, and evaluating them from strings cost 0.03 s of each run (``ivigsim simulate``'s
start-up, docs/performance.md); annotations name only what is imported at the top.
"""

import contextlib
import errno
import functools
import gc
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 carries its own copy of click; its exceptions are the ones raised
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on click itself
    from click import exceptions as click_exceptions

from ivigsim.errors import InputError, IvigsimError

class _OneLineErrors(TyperGroup):
    """Usage errors (a bad option value, a missing option, an unknown command) as one line
    and exit status 2, like every other refusal, instead of click's boxed, multi-line form."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        except click_exceptions.NoArgsIsHelpError as exc:  # `ivigsim` alone: the help, as before
            typer.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click_exceptions.ClickException as exc:
            message = " ".join(exc.format_message().split())
            command = getattr(getattr(exc, "ctx", None), "command_path", None)
            hint = f" (see `{command} --help`)" if command and isinstance(exc, click_exceptions.UsageError) else ""
            typer.echo(f"error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
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


class FigureFormat(str, Enum):  # ivigsim.plot.FORMATS
    png = "png"
    svg = "svg"
    pdf = "pdf"


FIGURE_FORMAT_HELP = "figure file format: png, or svg/pdf for slides and print"


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
        except OSError as exc:
            # A path the file system refuses to look up, whichever check met it first
            # (``Path.exists`` raises for these rather than answering False).
            if exc.errno not in (errno.ENAMETOOLONG, errno.ELOOP) or exc.filename is None:
                raise
            name = str(exc.filename)
            shown = name if len(name) <= 60 else f"{name[:40]}...{name[-12:]}"
            _fail(str(InputError("path", "a path the file system can look up (each name at most 255 bytes, "
                                         "no loop of links)", f"{shown} ({exc.strerror})")))

    return wrapper


def _check_results_folder(out: Path, files: list[Path], overwrite: bool) -> None:
    """Before anything runs: the folder can be written, no other run holds it, and it does
    not hold this run's files unless they are to be replaced (``--overwrite``)."""
    from ivigsim.io.folders import check_folder
    from ivigsim.io.results import check_output_file

    check_folder(out)
    _refuse_existing(out, files, overwrite)
    for f in files:  # a folder where a result file goes would fail only after the others were written
        check_output_file(f, "--out")


def _not_an_input(outputs: list[Path], source: Path, what: str, lost: str) -> None:
    """Refuse to write over the input file (directly or through a link)."""
    if not source.exists():
        return
    for path in outputs:
        if path.exists() and path.resolve() == source.resolve():
            raise InputError("--out", f"a path other than the input {what} ({lost} would be lost)", str(path))


def _refuse_existing(out: Path, files: list[Path], overwrite: bool) -> None:
    existing = [f.name for f in files if f.exists() or f.is_symlink()]
    if existing and not overwrite:
        raise InputError("--out", "a folder without this run's files (or --overwrite to replace them)",
                         f"{out} holds {', '.join(existing)}")


@contextlib.contextmanager
def _writing(out: Path):
    """Create the folder and hold its lock while this run writes, so two runs into one
    folder cannot mix their files."""
    from ivigsim.io.folders import FolderLock, make_folder

    make_folder(out)
    lock = FolderLock.acquire(out)
    try:
        yield
    except OSError as exc:
        raise InputError("--out", "a folder that can be created and written", f"{out} ({exc.strerror})") from None
    finally:
        lock.release()


ENSEMBLE_HELP = ("also run N parameter vectors drawn from the joint calibration's uncertainty (around the shipped "
                 "values) and report a band: parameter uncertainty, not between-patient variability [default: off]")
ENSEMBLE_LEVEL_HELP = "coverage of the parameter-uncertainty band (with --ensemble)"
ENSEMBLE_SEED_HELP = "seed of the parameter vectors (with --ensemble); the same seed gives the same vectors"


def _ensemble_options(n: str | None, level: str, seed: str) -> tuple[int, float, int] | None:
    """--ensemble, --ensemble-level, --ensemble-seed checked before anything runs; None when off.
    Taken as text and parsed here, so a refusal quotes what was given."""
    from ivigsim.uncertainty import MAX_SIZE, check_level, check_size

    def parsed(text: str, kind, option: str, expected: str):
        try:
            return kind(text.strip())
        except ValueError:
            raise InputError(option, expected, text) from None

    # The level and the seed are checked even without --ensemble: a mistyped value that is
    # silently ignored would look as if it had been used.
    coverage = check_level(parsed(level, float, "--ensemble-level", "a coverage in [0.5, 1), e.g. 0.9"))
    number = parsed(seed, int, "--ensemble-seed", "a seed >= 0 (an integer)")
    if number < 0:
        raise InputError("--ensemble-seed", "a seed >= 0 (an integer)", seed)
    if n is None:
        return None
    size = check_size(parsed(n, int, "--ensemble", f"a number of parameter vectors from 1 to {MAX_SIZE}"))
    return size, coverage, number


def _run_scenario(path: Path, out: Path | None, fmt: OutputFormat, plot: bool, quiet: bool,
                  explain: bool = True, observed_path: Path | None = None, observed_unit: str = "d",
                  overwrite: bool = False, ensemble: tuple[int, float, int] | None = None,
                  figure_format: str = "png", log_igg: bool = False) -> None:
    from ivigsim.io.results import SUFFIX, write_results
    from ivigsim.io.scenario_file import load_scenario
    from ivigsim.simulation import simulate
    from ivigsim.summary import summarise

    from ivigsim.io.observed import check_time_unit

    check_time_unit(observed_unit)  # with or without --observed: a bad value is never silently ignored
    out = out or Path(f"{path.stem}-results")
    files = [out / f"{path.stem}{SUFFIX[fmt.value]}", *([out / f"{path.stem}.{figure_format}"] if plot else [])]
    _check_results_folder(out, files, overwrite)
    scenario = load_scenario(path)
    observed = None
    if observed_path is not None:
        from ivigsim.io.observed import read_observations
        from ivigsim.plot import shown_outputs

        observed = read_observations(observed_path, shown_outputs(scenario.disease), time_unit=observed_unit)
    members = None
    if ensemble is not None:  # parameter uncertainty: the same patient under N parameter vectors, one batch
        from ivigsim.simulation import simulate_with_band
        from ivigsim.uncertainty import ensemble as draw_ensemble

        ds, members = simulate_with_band(scenario, draw_ensemble(ensemble[0], ensemble[2]), ensemble[1])
    else:
        ds = simulate(scenario)
    failed = int((ds["solver_status"] != 0).sum())
    if failed:
        _fail(f"the solver failed for this scenario (status {int(ds['solver_status'][0])}); try a tighter simulation.rtol")
    with _writing(out):
        _refuse_existing(out, files, overwrite)  # again, now that this run holds the folder
        written = [write_results(ds, files[0], fmt.value)]
        if plot:
            from ivigsim.plot import plot_patient

            written.append(plot_patient(ds, files[1], title=scenario.name, observed=observed, log_igg=log_igg,
                                        fmt=figure_format, disease=scenario.disease))
    summary = summarise(ds)
    for warning in summary.warnings():  # even with --quiet: the input is likely wrong
        typer.echo(f"warning: {warning}", err=True)
    if not quiet:
        typer.echo(f"{scenario.name}")
        for line in summary.lines():
            typer.echo(f"  {line}")
        if members is not None:
            from ivigsim.uncertainty import summary_lines

            for k, line in enumerate(summary_lines(members, ensemble[1])):
                typer.echo(f"  {'' if k == 0 else '  '}{line}")  # the band's numbers under its heading
        if explain and scenario.disease and scenario.regimen:
            from ivigsim.attribution import carried_by
            from ivigsim.model.library import get_disease

            readout_name = get_disease(scenario.disease).readouts[0].name
            typer.echo(f"  {carried_by(scenario, readout_name, min(7.0, scenario.days))}")
        typer.echo("wrote " + ", ".join(str(p) for p in written))


@app.command()
@user_errors
def simulate(
    file: Annotated[Path, typer.Argument(help="scenario file (YAML); see `ivigsim schema`")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder [default: FILE-results]")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="results file format")] = OutputFormat.csv,
    plot: Annotated[bool, typer.Option(help="write a PNG plot")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing on success")] = False,
    explain: Annotated[bool, typer.Option(help="say which mechanisms carried the change in the disease readout")] = True,
    observed: Annotated[Optional[Path], typer.Option("--observed", help="CSV of measurements (TIME, DV, OUTPUT) to overlay on the plot")] = None,
    observed_time_unit: Annotated[str, typer.Option("--observed-time-unit", help="unit of the observations' TIME: d or h")] = "d",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace this scenario's results already in --out")] = False,
    ensemble: Annotated[Optional[str], typer.Option("--ensemble", metavar="N", help=ENSEMBLE_HELP)] = None,
    ensemble_level: Annotated[str, typer.Option("--ensemble-level", metavar="LEVEL", help=ENSEMBLE_LEVEL_HELP)] = "0.9",
    ensemble_seed: Annotated[str, typer.Option("--ensemble-seed", metavar="SEED", help=ENSEMBLE_SEED_HELP)] = "0",
    figure_format: Annotated[FigureFormat, typer.Option("--figure-format", help=FIGURE_FORMAT_HELP)] = FigureFormat.png,
    log_igg: Annotated[bool, typer.Option("--log-igg", help="draw serum IgG on a log scale")] = False,
) -> None:
    """Simulate one patient: write trajectories and a plot, print a summary."""
    _run_scenario(file, out, fmt, plot, quiet, explain, observed, observed_time_unit, overwrite,
                  _ensemble_options(ensemble, ensemble_level, ensemble_seed), figure_format.value, log_igg)


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
    _run_scenario(DEMO, out, OutputFormat.csv, plot, quiet=False, overwrite=True)  # the demo's own folder


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
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="folder for the bar chart [default: FILE-results]")] = None,
    plot: Annotated[bool, typer.Option(help="write a bar chart of the Shapley values")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the plot already in --out")] = False,
    ensemble: Annotated[Optional[str], typer.Option("--ensemble", metavar="N", help=ENSEMBLE_HELP)] = None,
    ensemble_level: Annotated[str, typer.Option("--ensemble-level", metavar="LEVEL", help=ENSEMBLE_LEVEL_HELP)] = "0.9",
    ensemble_seed: Annotated[str, typer.Option("--ensemble-seed", metavar="SEED", help=ENSEMBLE_SEED_HELP)] = "0",
    figure_format: Annotated[FigureFormat, typer.Option("--figure-format", help=FIGURE_FORMAT_HELP)] = FigureFormat.png,
) -> None:
    """Attribute an outcome to IVIG's mechanisms: knock-out effects and Shapley values."""
    from ivigsim.attribution import attribute, readout
    from ivigsim.io.scenario_file import load_scenario

    if day is not None and summary.value in ("peak", "nadir"):
        raise InputError("--day", f"no --day with --summary {summary.value} (the {summary.value} is over the whole span)",
                         day)
    uncertain = _ensemble_options(ensemble, ensemble_level, ensemble_seed)
    folder = out or Path(f"{file.stem}-results")
    png = folder / f"{file.stem}-explain-{output}.{figure_format.value}"
    if plot:
        _check_results_folder(folder, [png], overwrite)  # before the attribution runs
    scenario = load_scenario(file)
    if scenario.regimen is None:
        raise InputError("regimen", "a regimen whose effect to attribute to the mechanisms (without one, every "
                         "mechanism's effect is zero)", "none")
    read = readout(output, day, summary.value)
    bands = None
    if uncertain is not None:
        from ivigsim.attribution import attribute_ensemble
        from ivigsim.uncertainty import ensemble as draw_ensemble

        bands = attribute_ensemble(scenario, read, draw_ensemble(uncertain[0], uncertain[2]), uncertain[1])
        result = bands.point
    else:
        result = attribute(scenario, read)
    what = f"{output} ({summary.value}{f' on day {day:g}' if day is not None else ''})"
    typer.echo(f"{scenario.name}: {what}")
    typer.echo(f"  no mechanism {result.none_on:.4g} -> all mechanisms {result.all_on:.4g}: total effect {result.total:+.4g}")
    typer.echo(f"  {'mechanism':26s} {'knock-out':>11s} {'Shapley':>11s} {'share':>7s}")
    for name in result.mechanisms:
        share = result.share(name)  # NaN when the regimen does not move the read-out at all
        typer.echo(f"  {name:26s} {result.knockout[name]:>+11.4g} {result.shapley[name]:>+11.4g} "
                   + (f"{100 * share:>6.1f}%" if share == share else f"{'-':>7s}"))
    typer.echo(f"  interaction (total - sum of knock-outs): {result.interaction:+.4g}")
    if bands is not None:
        from ivigsim.uncertainty import describe

        pct = f"{100 * bands.level:.0f} %"
        typer.echo(f"  {describe(len(bands.members), bands.level, bands.failed)}; columns: median [{pct} band]:")
        med, lo, hi = bands.total()
        typer.echo(f"  total effect {med:+.4g} [{lo:+.4g} to {hi:+.4g}]")
        typer.echo(f"  {'mechanism':26s} {'knock-out':>24s} {'Shapley':>24s} {'share':>20s}")
        for name in result.mechanisms:
            cells = [f"{m:+.3g} [{a:+.3g}, {b:+.3g}]" for m, a, b in (bands.knockout(name), bands.shapley(name))]
            m, a, b = (100 * x for x in bands.share(name))
            typer.echo(f"  {name:26s} {cells[0]:>24s} {cells[1]:>24s} {f'{m:.1f} % [{a:.1f}, {b:.1f}]':>20s}")
    if plot:
        from ivigsim.plot import output_label, plot_attribution

        name, units = output_label(output, scenario.disease)
        when = f"{summary.value}{f' on day {day:g}' if day is not None else ''}"
        with _writing(folder):
            path = plot_attribution(result, png, f"{name} ({when})", bands=bands, fmt=figure_format.value,
                                    units=units)
        typer.echo(f"wrote {path}")


class SchemaKind(str, Enum):
    scenario = "scenario"
    trial = "trial"


@app.command()
@user_errors
def schema(
    kind: Annotated[SchemaKind, typer.Argument(help="which file's schema")] = SchemaKind.scenario,
) -> None:
    """Print the JSON Schema of the scenario or trial file (for editors and validators)."""
    if kind == SchemaKind.trial:
        from ivigsim.io.trial_file import trial_json_schema

        typer.echo(json.dumps(trial_json_schema(), indent=2))
        return
    from ivigsim.io.scenario_file import scenario_json_schema

    typer.echo(json.dumps(scenario_json_schema(), indent=2))


@app.command()
@user_errors
def parameters(
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    disease: Annotated[str, typer.Option("--disease", help="the disease whose model to list")] = "none",
    comparators: Annotated[bool, typer.Option(
        "--comparators", help="also list the comparators' parameters (plasma exchange, SCIG, FcRn inhibitor: "
        "the modules a regimen with a comparator adds)")] = False,
    drug: Annotated[str, typer.Option(
        "--drug", help="with --comparators, the FcRn inhibitor whose constants to show: efgartigimod (the "
        "parameters' own values) or nipocalimab")] = "efgartigimod",
) -> None:
    """List the model's parameters: value, unit, provenance, variability and source.

    The variability column says what a number under a trial file's population.variability
    means for the parameter: a CV (log-normal) or omega, the SD on the logit scale
    (logit-normal, for shares); '-' where it may not vary. With --comparators, the model a
    regimen with plasma exchange, SCIG or an FcRn inhibitor runs on (docs/comparators.md), with
    the constants of the inhibitor named by --drug.
    """
    from ivigsim.model.comparators.fcrn_inhibitor import SHIPPED_INHIBITORS, SHIPPED_VARIABILITY
    from ivigsim.model.library import build_model
    from ivigsim.model.tables import parameter_rows

    if drug not in SHIPPED_INHIBITORS or (drug != "efgartigimod" and not comparators):
        raise InputError("--drug", f"one of {', '.join(SHIPPED_INHIBITORS)}, with --comparators", drug)
    rows = parameter_rows(build_model(disease, comparators=comparators))
    for r in rows:  # the drug's own constants replace the module's (efgartigimod's) values
        if r["name"] in SHIPPED_INHIBITORS[drug]:
            r["value"], r["source"] = SHIPPED_INHIBITORS[drug][r["name"]]
            r["provenance"] = "source"
            # a trial's population may not vary them: the drug's own variability applies, if any
            cv = SHIPPED_VARIABILITY[drug].get(r["name"])
            r["variability"] = "-" if cv is None else f"drug's own CV {100 * cv[0]:.1f} %"
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['name']:40s} {r['value']:>10.4g} {r['unit']:14s} {r['provenance']:11s} "
                   f"{r['variability']:20s} {r['source']}")


@app.command()
@user_errors
def diseases(as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False) -> None:
    """List the diseases (every module in ivigsim/model/diseases/): name, title, dosing
    indication and readouts, each with its clinical scale, which way is better and thresholds."""
    from ivigsim.model.library import DISEASES

    rows = [{"name": d.name, "title": d.title, "indication": d.indication,
             "readouts": [{"name": r.name, **r.attrs(d.name)} for r in d.readouts]} for d in DISEASES.values()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        readouts = ", ".join(f"{r['name']} ({r['clinical_scale'][0]:g}-{r['clinical_scale'][1]:g}, {r['better']} is "
                             f"better{'; thresholds ' + ', '.join(f'{v:g}' for v in r['thresholds']) if 'thresholds' in r else ''})"
                             for r in row["readouts"])
        typer.echo(f"{row['name']:14s} {row['title']}; indication {row['indication'] or '-'}; {readouts}")


@app.command()
@user_errors
def validate(
    markdown: Annotated[Optional[Path], typer.Option("--markdown", help="also write the table as Markdown here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
    fast: Annotated[bool, typer.Option("--fast", help="disease trials with 300 patients per arm (as in CI)")] = False,
    figures: Annotated[Optional[Path], typer.Option(
        "--figures", help="also write a figure per group (PK, mechanisms, each disease, safety) to this folder")] = None,
    ensemble: Annotated[Optional[str], typer.Option("--ensemble", metavar="N", help=ENSEMBLE_HELP + "; every target "
                                                    "is run once per vector (about 7 s each), the verdicts stay the "
                                                    "shipped ones")] = None,
    ensemble_level: Annotated[str, typer.Option("--ensemble-level", metavar="LEVEL", help=ENSEMBLE_LEVEL_HELP)] = "0.9",
    ensemble_seed: Annotated[str, typer.Option("--ensemble-seed", metavar="SEED", help=ENSEMBLE_SEED_HELP)] = "0",
    only: Annotated[Optional[list[str]], typer.Option(
        "--only", metavar="TARGETS", help="only these targets or groups (repeat, or comma-separate): target ids as "
        "--json lists them, or groups: pk, mechanisms, a disease, comparators, safety [default: all]")] = None,
) -> None:
    """Reproduce every calibration target; print simulated vs published. Exit 1 if any fails."""
    from ivigsim.io.results import atomic_path, check_output_file
    from ivigsim.validation.runner import (ALL_TARGETS, GROUPS, group_of, report_notes, run_targets, summary_line,
                                           verdict_markdown, verdict_rows)

    uncertain = _ensemble_options(ensemble, ensemble_level, ensemble_seed)
    targets = list(ALL_TARGETS)
    if only:
        wanted = [w.strip() for item in only for w in item.split(",") if w.strip()]
        ids = {t.id for t in ALL_TARGETS}
        for w in wanted or [""]:
            if w not in ids and w not in GROUPS:
                raise InputError("--only", f"target ids or groups ({', '.join(GROUPS)})", w)
        targets = [t for t in ALL_TARGETS if t.id in wanted or group_of(t) in wanted]
    # Where results go is checked before the minutes of simulation, not after.
    for option, folder in (("--figures", figures), ("--markdown", markdown.parent if markdown else None)):
        if folder is None:
            continue
        if folder.exists() and not folder.is_dir():
            raise InputError(option, "a folder that can be created and written", str(folder))
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(option, "a folder that can be created and written", f"{folder} ({exc.strerror})") from None
        if not os.access(folder, os.W_OK):
            raise InputError(option, "a folder that can be created and written", f"{folder} (not writable)")
    if markdown is not None:
        check_output_file(markdown, "--markdown")
    verdicts = run_targets(targets, fast=fast)
    parameter = None
    if uncertain is not None:  # parameter uncertainty: every target again under each vector, same seeds
        from tqdm import tqdm

        from ivigsim.uncertainty import ensemble as draw_ensemble
        from ivigsim.validation.runner import parameter_intervals

        with tqdm(total=uncertain[0], desc="parameter vectors", unit="vector", file=sys.stderr, leave=False) as bar:
            parameter = parameter_intervals([v.target for v in verdicts],
                                            draw_ensemble(uncertain[0], uncertain[2]), uncertain[1], fast,
                                            progress=lambda: bar.update(1))
    if as_json:
        typer.echo(json.dumps(verdict_rows(verdicts, parameter), indent=2))
    else:
        extra = f" {f'param. {100 * parameter.level:.0f} %':>18s}" if parameter else ""
        typer.echo(f"{'target':24s} {'published':>14s} {'accepted':>26s} {'simulated':>10s} {'95 % interval':>18s}"
                   f"{extra}  verdict")
        for r in verdict_rows(verdicts, parameter):
            typer.echo(f"{r['target']:24s} {r['published']:>9.3g} {r['unit']:4s} {r['accepted']:>26s} "
                       f"{r['simulated']:>10.3g} {r['simulated_interval']:>18s}"
                       + (f" {r['parameter_interval']:>18s}" if parameter else "") + f"  {r['verdict']}")
        if parameter is not None:
            typer.echo(f"95 % interval: Monte Carlo sampling error of the shipped run; {parameter.note()}")
    try:
        if markdown is not None:
            with atomic_path(markdown, "--markdown") as tmp:
                tmp.write_text(verdict_markdown(verdicts, parameter), encoding="utf-8")
        if figures is not None:
            from ivigsim.plot import plot_validation

            for group, title in GROUPS.items():
                # Identities hold by construction: they are not evidence, so not drawn.
                members = [v for v in verdicts if group_of(v.target) == group and v.label != "IDENTITY"]
                if members:
                    with atomic_path(figures / f"validation-{group}.png") as tmp:
                        plot_validation(members, tmp, title)
    except OSError as exc:
        raise InputError("--figures" if figures is not None else "--markdown",
                         "a folder that can be created and written", f"{exc.filename} ({exc.strerror})") from None
    for line in report_notes(verdicts):  # with --json, standard output stays pure JSON (the rows carry these too)
        typer.echo(line, err=as_json)
    failed = [v.target.id for v in verdicts if v.unexpected_failure]
    if failed:
        typer.echo(f"{len(failed)} of {len(verdicts)} targets failed: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
    typer.echo(summary_line(verdicts), err=as_json)


@app.command()
@user_errors
def sensitivity(
    file: Annotated[Path, typer.Argument(help="scenario file (YAML)")],
    output: Annotated[str, typer.Option("--output", help="output variable, e.g. platelets_1e9_per_L")],
    day: Annotated[Optional[float], typer.Option(
        "--day", help="day of the read-out; with --summary, the end of the window from day 0")] = None,
    summary: Annotated[Optional[str], typer.Option(
        "--summary", help="peak, nadir or auc over the window instead of the value on --day")] = None,
    method: Annotated[str, typer.Option("--method", help="sobol (S1, ST) or morris (mu*, sigma: screening)")] = "sobol",
    n: Annotated[Optional[int], typer.Option(
        "--n", help="Sobol' base samples (a power of two; N(D+2) solves) or Morris trajectories "
                    "[default: 256 or 32]")] = None,
    parameters: Annotated[Optional[str], typer.Option(
        "--parameters", help="comma-separated parameters to vary [default: every uncertain one]")] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed of the design and the bootstrap")] = 0,
    top: Annotated[Optional[int], typer.Option("--top", help="show only the N most important parameters")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Global sensitivity of a read-out to the model's uncertain parameters (Sobol' or Morris)."""
    from ivigsim.io.scenario_file import load_scenario
    from ivigsim.sensitivity import sensitivity as global_sensitivity

    if summary is None and day is None:
        raise InputError("--day", "a day for the read-out, or --summary peak, nadir or auc", "none")
    if top is not None and top < 1:
        raise InputError("--top", "a number of rows >= 1", top)
    names = None if parameters is None else [p.strip() for p in parameters.split(",") if p.strip()]
    scenario = load_scenario(file)
    result = global_sensitivity(scenario, output, summary=summary or "day", day=day, parameters=names,
                                method=method, n=n, seed=seed)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    typer.echo(scenario.name)
    typer.echo(result.table_markdown(top=top), nl=False)


@app.command("export-sbml")
@user_errors
def export_sbml(
    file: Annotated[Path, typer.Argument(help="scenario file (YAML); see `ivigsim schema`")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="SBML file to write [default: print it]")] = None,
) -> None:
    """Export the scenario's configured model (patient, switches, regimen) as SBML Level 3 Version 2."""
    from ivigsim.io.sbml import export_sbml as to_sbml
    from ivigsim.io.sbml import write_sbml
    from ivigsim.io.scenario_file import load_scenario

    scenario = load_scenario(file)
    if out is None:
        typer.echo(to_sbml(scenario), nl=False)
        return
    _not_an_input([out], file, "scenario", "the scenario")
    typer.echo(f"wrote {write_sbml(scenario, out)}")


class TimeUnitChoice(str, Enum):
    h = "h"
    d = "d"


class AmountUnitChoice(str, Enum):
    g = "g"
    mg = "mg"


@app.command("nonmem")
@user_errors
def nonmem(
    data: Annotated[Path, typer.Argument(help="NONMEM-style dataset (CSV): ID, TIME, AMT, RATE or DUR, EVID, WT, ...")],
    time_unit: Annotated[TimeUnitChoice, typer.Option("--time-unit", help="unit of TIME, II, DUR and RATE's time: h or d")],
    amount_unit: Annotated[AmountUnitChoice, typer.Option("--amount-unit", help="unit of AMT and RATE's amount: g or mg")],
    output: Annotated[str, typer.Option("--output", help="model output of records without an OUTPUT column value")] = "igg_total_g_per_L",
    disease: Annotated[Optional[str], typer.Option("--disease", help="disease model [default: none]")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="simulated dataset [default: DATA-simulated.csv]")] = None,
) -> None:
    """Simulate the doses of a NONMEM-style dataset; write it back with DV as observed, PRED and RES = DV - PRED."""
    from ivigsim.io.nonmem import read_dataset, simulate_dataset, write_dataset

    _check_output_option(output, disease)
    target = out or Path(f"{data.stem}-simulated.csv")
    _not_an_input([target], data, "dataset", "its observed DVs")
    dataset = read_dataset(data, time_unit.value, amount_unit.value, default_output=output)
    result = simulate_dataset(dataset, disease=disease)
    path = write_dataset(result, target)
    if result.failed_ids:
        typer.echo(f"warning: the solver failed for {len(result.failed_ids)} subject(s) (ID "
                   f"{', '.join(result.failed_ids)}); their PRED is '.'", err=True)
    typer.echo(f"simulated {len(dataset.subjects)} subject(s); wrote {path}")


def _pairs(values: list[str] | None, option: str, form: str) -> dict[str, str]:
    """NAME=VALUE options (repeatable) as a dict; each name once."""
    out: dict[str, str] = {}
    for text in values or []:
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError(option, form, text)
        if name.strip() in out:
            raise InputError(option, "each name once", name.strip())
        out[name.strip()] = value.strip()
    return out


def _number(text: str, option: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(option, expected, text) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(option, expected, text)
    return value


#: Upper limits of the estimation commands' counts: beyond them a run would not finish (or
#: not fit in memory) on any machine this tool is meant for, so they are refused at once.
MAX_SAMPLES = 100_000
MAX_CHAINS = 64
#: The forecast's next dose: the dataset's own limits (``io.nonmem``), so a forecast accepts
#: what a dataset's dose record would.
MAX_FORECAST_DAYS = 10 * 365.25


def _check_output_option(output: str, disease: str | None) -> None:
    """--output (the output of records without an OUTPUT value) names one of the model's outputs:
    refused here, naming the option, rather than at the first row that uses it."""
    from ivigsim.model.library import compiled_model

    known = compiled_model(disease).model.output_names
    if output not in known:
        raise InputError("--output", f"one of the model's outputs ({', '.join(known)})", output)


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise InputError("--seed", "a seed >= 0 (an integer)", seed)


def _check_next_dose(day: float | None, amount: float | None, duration: float | None, horizon: float | None,
                     days: float, grams: float, time_unit: str, amount_unit: str) -> None:
    """The forecast's options checked before anything runs, each in the dataset's units and
    within the limits a dataset's dose record has (``io.nonmem``)."""
    from ivigsim.io.nonmem import MAX_DOSE_G, MAX_DURATION_DAYS, MIN_DURATION_DAYS, MAX_TIME_DAYS

    def check(value, option, low, high, what, closed_low=True):
        if value is not None and not (value == value and (low <= value if closed_low else low < value)
                                      and value <= high):
            raise InputError(option, what, value)

    check(day, "--next-dose-day", 0.0, MAX_TIME_DAYS / days,
          f"a day from 0 to {MAX_TIME_DAYS / days:g} in {time_unit}")
    check(amount, "--next-dose-amount", 0.0, MAX_DOSE_G / grams,
          f"an amount from 0 to {MAX_DOSE_G / grams:g} ({MAX_DOSE_G:g} g: 5 g/kg at 400 kg) in {amount_unit}")
    check(duration, "--next-dose-duration", MIN_DURATION_DAYS / days, MAX_DURATION_DAYS / days,
          f"an infusion duration from {MIN_DURATION_DAYS / days:.3g} to {MAX_DURATION_DAYS / days:g} in {time_unit}")
    check(horizon, "--horizon", 0.0, MAX_FORECAST_DAYS / days,
          f"a horizon above 0 and at most {MAX_FORECAST_DAYS / days:g} (10 years) in {time_unit}", closed_low=False)
    if horizon is not None and duration is not None and not horizon > duration:
        raise InputError("--horizon", f"a horizon longer than the infusion (--next-dose-duration {duration:g})",
                         horizon)


def _estimation_options(estimate: list[str] | None, prior: list[str] | None, parameter: list[str] | None):
    """--estimate names (repeated or comma-separated), --prior spreads and --parameter values."""
    names = [n.strip() for item in estimate or [] for n in item.split(",") if n.strip()]
    spreads = {k: _number(v, f"--prior {k}", "a number (a CV, or omega for a share)")
               for k, v in _pairs(prior, "--prior", "NAME=CV").items()}
    values = {k: _number(v, f"--parameter {k}", "a number") for k, v in _pairs(parameter, "--parameter", "NAME=VALUE").items()}
    return names, spreads, values


@app.command("fit")
@user_errors
def fit(
    data: Annotated[Path, typer.Argument(help="NONMEM-style dataset (CSV) with observed DV; see docs/estimation.md")],
    time_unit: Annotated[TimeUnitChoice, typer.Option("--time-unit", help="unit of TIME, II, DUR and RATE's time: h or d")],
    amount_unit: Annotated[AmountUnitChoice, typer.Option("--amount-unit", help="unit of AMT and RATE's amount: g or mg")],
    estimate: Annotated[list[str], typer.Option("--estimate", "-e", help="parameter to estimate per subject (repeat, or comma-separated)")],
    prior: Annotated[Optional[list[str]], typer.Option("--prior", help="NAME=CV: prior spread (omega for shares) replacing the disease's")] = None,
    bounds: Annotated[Optional[list[str]], typer.Option("--bounds", help="NAME=LOW:HIGH: narrower bounds on an estimated value")] = None,
    error: Annotated[Optional[list[str]], typer.Option("--error", help="OUTPUT=KIND:SD, e.g. igg_total_g_per_L=proportional:0.05")] = None,
    parameter: Annotated[Optional[list[str]], typer.Option("--parameter", "-p", help="NAME=VALUE: a typical value for every subject")] = None,
    disease: Annotated[Optional[str], typer.Option("--disease", help="disease model [default: none]")] = None,
    output: Annotated[str, typer.Option("--output", help="model output of records without an OUTPUT value")] = "igg_total_g_per_L",
    mcmc: Annotated[Optional[int], typer.Option("--mcmc", help="also draw N posterior samples by MCMC (emcee)")] = None,
    level: Annotated[float, typer.Option("--level", help="interval level")] = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="seed of posterior draws and MCMC")] = 0,
    forecast: Annotated[bool, typer.Option("--forecast", help="forecast the next dose (the last dose repeated at the last interval)")] = False,
    next_dose_day: Annotated[Optional[float], typer.Option("--next-dose-day", help="start of the next dose, in the time unit")] = None,
    next_dose_amount: Annotated[Optional[float], typer.Option("--next-dose-amount", help="amount of the next dose, in the amount unit")] = None,
    next_dose_duration: Annotated[Optional[float], typer.Option("--next-dose-duration", help="infusion duration, in the time unit")] = None,
    horizon: Annotated[Optional[float], typer.Option("--horizon", help="forecast horizon after the next dose, in the time unit")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="OUTPUT>=VALUE or OUTPUT<=VALUE to keep after the next dose")] = None,
    target_probability: Annotated[float, typer.Option("--target-probability", help="share of the posterior that must meet the target")] = 0.9,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="results folder [default: DATA-fit]")] = None,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="write the PNG figures")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an earlier fit's files in --out")] = False,
) -> None:
    """Fit each subject's parameters to their observations (MAP, Laplace intervals, optional MCMC) and forecast the next dose."""
    from ivigsim.estimation.fit import fit_dataset
    from ivigsim.estimation.forecast import NextDose, Target, default_next_dose
    from ivigsim.estimation.forecast import forecast as make_forecast
    from ivigsim.estimation.residual import ResidualError
    from ivigsim.io.fit_results import write_fit
    from ivigsim.io.nonmem import DAYS_PER, GRAMS_PER, read_dataset

    names, spreads, values = _estimation_options(estimate, prior, parameter)
    limits = {}
    for k, v in _pairs(bounds, "--bounds", "NAME=LOW:HIGH").items():
        low, sep, high = v.partition(":")
        if not sep:
            raise InputError(f"--bounds {k}", "LOW:HIGH", v)
        limits[k] = (_number(low, f"--bounds {k}", "LOW:HIGH numbers"), _number(high, f"--bounds {k}", "LOW:HIGH numbers"))
    errors = {k: ResidualError.parse(v, f"--error {k}") for k, v in _pairs(error, "--error", "OUTPUT=KIND:SD").items()}
    if mcmc is not None and not 1 <= mcmc <= MAX_SAMPLES:
        raise InputError("--mcmc", f"a number of MCMC samples from 1 to {MAX_SAMPLES:,}", mcmc)
    _check_seed(seed)
    _check_output_option(output, disease)
    days, grams = DAYS_PER[time_unit.value], GRAMS_PER[amount_unit.value]
    _check_next_dose(next_dose_day, next_dose_amount, next_dose_duration, horizon, days, grams,
                     time_unit.value, amount_unit.value)
    wants_forecast = forecast or any(v is not None for v in (next_dose_day, next_dose_amount, next_dose_duration,
                                                             horizon, target))
    folder = out or Path(f"{data.stem}-fit")
    _check_results_folder(folder, [folder / "estimates.csv", folder / "fit.json"], overwrite)  # before the fit
    dataset = read_dataset(data, time_unit.value, amount_unit.value, default_output=output)
    progress = None
    if not quiet and len(dataset.subjects) > 1:
        from tqdm import tqdm

        bar = tqdm(total=len(dataset.subjects), desc="fitting", unit="subject", file=sys.stderr, leave=False)
        progress = lambda _subject: bar.update(1)  # noqa: E731
    result = fit_dataset(dataset, names, disease=disease, parameters=values, priors=spreads, bounds=limits,
                         errors=errors, level=level, mcmc_samples=mcmc, seed=seed, progress=progress)
    if progress is not None:
        bar.close()
    forecasts = []
    if wants_forecast:
        parsed_target = Target.parse(target, result.setup.model.model.output_names) if target else None
        forecast_output = parsed_target.output if parsed_target else output
        for posterior, subject_fit in zip(result.posteriors, result.fits):
            base = default_next_dose(posterior) if next_dose_day is None else None
            if base is None:
                last = posterior.subject.doses[-1] if posterior.subject.doses else None
                if next_dose_amount is None and last is None:
                    raise InputError("--next-dose-amount", f"an amount for subject {posterior.subject.id}, who has no dose "
                                     "to repeat", "none")
                base = NextDose(next_dose_day * days, last.amount if last else 0.0,
                                last.duration_day if last else 1.0 / 6.0)
            next_dose = NextDose(base.start_day,
                                 base.amount_g if next_dose_amount is None else next_dose_amount * grams,
                                 base.duration_day if next_dose_duration is None else next_dose_duration * days)
            forecasts.append(make_forecast(posterior, subject_fit, forecast_output, next_dose,
                                           None if horizon is None else horizon * days, target=parsed_target,
                                           probability=target_probability, level=level))
    write_fit(dataset, result, folder, data.stem, forecasts, plots=plot)
    if quiet:
        return
    for subject_fit in result.fits:
        typer.echo(f"ID {subject_fit.subject_id} ({subject_fit.method}, {100 * subject_fit.level:.0f} % intervals"
                   f"{'' if subject_fit.converged else ', NOT converged'}):")
        for k, name in enumerate(subject_fit.names):
            typer.echo(f"  {name:<36} {subject_fit.estimate[k]:10.4g}  [{subject_fit.lower[k]:.4g}, "
                       f"{subject_fit.upper[k]:.4g}]   prior typical {subject_fit.typical[k]:.4g}")
        for warning in subject_fit.warnings:
            typer.echo(f"  warning: {warning}")
    for f in forecasts:
        after = f.times >= f.next_dose.start_day + f.next_dose.duration_day
        low = f.median[after].min()
        typer.echo(f"ID {f.subject_id} forecast: next dose {f.next_dose.amount_g / grams:.4g} {amount_unit.value} "
                   f"at {f.next_dose.start_day / days:g} {time_unit.value}; lowest {f.output} over the horizon "
                   f"{low:.4g} (median; {100 * f.level:.0f} % band {f.lower[after].min():.4g}-{f.upper[after].min():.4g})")
        if f.target is not None:
            dose = ("not found: " + f.note) if f.dose_for_target_g is None else \
                f"{f.dose_for_target_g / grams:.4g} {amount_unit.value}" + (f" ({f.note})" if f.note else "")
            typer.echo(f"  target {f.target}: met by {100 * f.probability_met:.0f} % of the posterior with this dose; "
                       f"dose meeting it with {100 * f.probability:.0f} %: {dose}")
    typer.echo(f"wrote {folder}/ (estimates.csv, fit.json, {data.stem}-fit.csv{', PNG figures' if plot else ''})")


@app.command("export-petab")
@user_errors
def export_petab(
    data: Annotated[Path, typer.Argument(help="NONMEM-style dataset (CSV) with observed DV")],
    time_unit: Annotated[TimeUnitChoice, typer.Option("--time-unit", help="unit of TIME, II, DUR and RATE's time: h or d")],
    amount_unit: Annotated[AmountUnitChoice, typer.Option("--amount-unit", help="unit of AMT and RATE's amount: g or mg")],
    estimate: Annotated[Optional[list[str]], typer.Option("--estimate", "-e", help="parameter to estimate (repeat, or comma-separated)")] = None,
    pooled: Annotated[bool, typer.Option("--pooled", help="one value for all subjects instead of one per subject (with a prior)")] = False,
    prior: Annotated[Optional[list[str]], typer.Option("--prior", help="NAME=CV: prior spread replacing the disease's")] = None,
    error: Annotated[Optional[list[str]], typer.Option("--error", help="OUTPUT=KIND:SD, e.g. igg_total_g_per_L=lognormal:0.05")] = None,
    parameter: Annotated[Optional[list[str]], typer.Option("--parameter", "-p", help="NAME=VALUE: a typical value for every subject")] = None,
    disease: Annotated[Optional[str], typer.Option("--disease", help="disease model [default: none]")] = None,
    output: Annotated[str, typer.Option("--output", help="model output of records without an OUTPUT value")] = "igg_total_g_per_L",
    fit_starts: Annotated[Optional[int], typer.Option("--fit", help="then fit the problem with pyPESTO (libRoadRunner), N starts")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="problem folder [default: DATA-petab]")] = None,
) -> None:
    """Write the estimation problem as PEtab (SBML + tables) for pyPESTO, AMICI, COPASI or Data2Dynamics."""
    from ivigsim.io.nonmem import read_dataset
    from ivigsim.io.petab import FILES as PETAB_FILES
    from ivigsim.io.petab import write_petab

    names, spreads, values = _estimation_options(estimate, prior, parameter)
    errors = _pairs(error, "--error", "OUTPUT=KIND:SD")
    if fit_starts is not None and fit_starts < 1:
        raise InputError("--fit", "a number of starts >= 1", fit_starts)
    if fit_starts is not None:  # before anything is written: the fit's libraries are an optional extra
        import importlib.util

        missing = [m for m in ("pypesto", "roadrunner", "petab") if importlib.util.find_spec(m) is None]
        if missing:
            raise InputError("--fit", "pyPESTO, libRoadRunner and PEtab installed (pip install 'ivigsim[fit]', or "
                             "-e '.[fit]' from the repository)", f"{', '.join(missing)} missing")
    dataset = read_dataset(data, time_unit.value, amount_unit.value, default_output=output)
    if fit_starts is not None:
        from ivigsim.estimation.fit import resolve_errors
        from ivigsim.estimation.residual import ResidualError

        observed = sorted({r.output for s in dataset.subjects for r in s.observations})
        resolved = resolve_errors(observed, {k: ResidualError.parse(v, f"--error {k}") for k, v in errors.items()})
        for name, model in resolved.items():
            if model.kind in ("proportional", "combined"):
                raise InputError(f"--error {name}", "an additive or log-normal error model with --fit (pyPESTO 0.7's "
                                 "roadrunner objective evaluates a noise formula that reads the model at the last time "
                                 "point only)", str(model))
    folder = out or Path(f"{data.stem}-petab")
    _not_an_input([folder / name for name in PETAB_FILES.values()], data, "dataset", "the dataset")
    path = write_petab(dataset, folder, disease=disease, estimate=names, parameters=values, errors=errors,
                       per_subject=not pooled, spreads=spreads)
    typer.echo(f"wrote {path} (PEtab v1: model.xml and four tables)")
    if fit_starts is not None:
        from ivigsim.estimation.population import fit_population_pypesto

        for name, value in fit_population_pypesto(path, n_starts=fit_starts).items():
            typer.echo(f"  {name:<48} {value:.6g}")


@app.command("fit-population")
@user_errors
def fit_population_command(
    data: Annotated[Path, typer.Argument(help="NONMEM-style dataset (CSV) of many subjects with observed DV")],
    time_unit: Annotated[TimeUnitChoice, typer.Option("--time-unit", help="unit of TIME, II, DUR and RATE's time: h or d")],
    amount_unit: Annotated[AmountUnitChoice, typer.Option("--amount-unit", help="unit of AMT and RATE's amount: g or mg")],
    estimate: Annotated[list[str], typer.Option("--estimate", "-e", help="parameter whose typical value and omega are estimated (repeat, or comma-separated)")],
    prior: Annotated[Optional[list[str]], typer.Option("--prior", help="NAME=CV: the spread the omega prior is scaled on, replacing the disease's")] = None,
    error: Annotated[Optional[list[str]], typer.Option("--error", help="OUTPUT=KIND:SD, e.g. igg_total_g_per_L=proportional:0.05 (fixed)")] = None,
    parameter: Annotated[Optional[list[str]], typer.Option("--parameter", "-p", help="NAME=VALUE: a model value for every subject")] = None,
    disease: Annotated[Optional[str], typer.Option("--disease", help="disease model [default: none]")] = None,
    output: Annotated[str, typer.Option("--output", help="model output of records without an OUTPUT value")] = "igg_total_g_per_L",
    draws: Annotated[int, typer.Option("--draws", help="NUTS draws per chain after tuning")] = 1000,
    tune: Annotated[int, typer.Option("--tune", help="NUTS tuning steps per chain")] = 1000,
    chains: Annotated[int, typer.Option("--chains", help="chains (at least 2, for R-hat)")] = 2,
    centred: Annotated[bool, typer.Option("--centred/--non-centred", help="parameterisation of the subjects' etas")] = True,
    level: Annotated[float, typer.Option("--level", help="credible interval level")] = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="seed of the starts and of NUTS")] = 0,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="results folder [default: DATA-population]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing but errors")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an earlier fit's files in --out")] = False,
) -> None:
    """Estimate typical values and between-subject variability (omega) from many subjects: a hierarchical model sampled by PyMC (NUTS)."""
    from ivigsim.estimation.nlme import fit_population, population_problem
    from ivigsim.estimation.residual import ResidualError
    from ivigsim.io.nonmem import read_dataset
    from ivigsim.io.population_results import write_population_fit

    names, spreads, values = _estimation_options(estimate, prior, parameter)
    errors = {k: ResidualError.parse(v, f"--error {k}") for k, v in _pairs(error, "--error", "OUTPUT=KIND:SD").items()}
    for option, value, least in (("--draws", draws, 1), ("--tune", tune, 0)):
        if not least <= value <= MAX_SAMPLES:
            raise InputError(option, f"a whole number from {least} to {MAX_SAMPLES:,}", value)
    if not 2 <= chains <= MAX_CHAINS:
        raise InputError("--chains", f"from 2 chains (R-hat compares chains) to {MAX_CHAINS}", chains)
    _check_seed(seed)
    _check_output_option(output, disease)
    if not 0.0 < level < 1.0:
        raise InputError("--level", "an interval level between 0 and 1 (0.9 = 90 %)", level)
    folder = out or Path(f"{data.stem}-population")
    _check_results_folder(folder, [folder / "population.csv", folder / "population.json"], overwrite)
    dataset = read_dataset(data, time_unit.value, amount_unit.value, default_output=output)
    problem = population_problem(dataset, names, disease=disease, parameters=values, priors=spreads, errors=errors)
    result = fit_population(problem, draws=draws, tune=tune, chains=chains, seed=seed, level=level, centred=centred,
                            progress=not quiet)
    write_population_fit(result, folder)
    if quiet:
        return
    typer.echo(f"{len(result.subject_ids)} subjects, {result.chains} chains x {result.draws} draws "
               f"({result.parameterisation}, {result.seconds:.0f} s, {result.divergences} divergences); "
               f"medians and {100 * level:.0f} % intervals:")
    for k, name in enumerate(result.names):
        t, w = result.typical, result.omega
        typer.echo(f"  {name:<32} typical {t.median[k]:.4g} [{t.lower[k]:.4g}, {t.upper[k]:.4g}] (R-hat "
                   f"{t.rhat[k]:.3f}, ESS {t.ess_bulk[k]:.0f})   omega {w.median[k]:.3g} [{w.lower[k]:.3g}, "
                   f"{w.upper[k]:.3g}] (R-hat {w.rhat[k]:.3f}, ESS {w.ess_bulk[k]:.0f})")
    for warning in result.warnings:
        typer.echo(f"  warning: {warning}")
    typer.echo(f"wrote {folder}/ (population.csv, individual.csv, population.json, posterior.nc)")


@app.command("trial")
@user_errors
def trial(
    file: Annotated[Path, typer.Argument(help="trial file (YAML); see `ivigsim schema trial`")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder [default: FILE-trial]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the per-arm estimates as JSON")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", help="run on a local Dask cluster of N processes")] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="run on an existing Dask scheduler (tcp://host:8786)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted run in --out")] = False,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="patients per chunk (per arm)")] = 4096,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar, no table")] = False,
    ensemble: Annotated[Optional[str], typer.Option("--ensemble", metavar="N", help=ENSEMBLE_HELP + "; the trial is "
                                                    "run again once per vector, same seed (each vector costs one "
                                                    "trial), summaries in OUT/ensemble/")] = None,
    ensemble_level: Annotated[str, typer.Option("--ensemble-level", metavar="LEVEL", help=ENSEMBLE_LEVEL_HELP)] = "0.9",
    ensemble_seed: Annotated[str, typer.Option("--ensemble-seed", metavar="SEED", help=ENSEMBLE_SEED_HELP)] = "0",
) -> None:
    """Run a virtual trial: per-arm endpoint estimates with 95 % intervals; per-patient Parquet files."""
    from ivigsim.io.folders import check_folder
    from ivigsim.io.trial_file import load_trial
    from ivigsim.trial.runner import run_trial
    from ivigsim.trial.store import check_destination

    if workers is not None and scheduler is not None:
        _fail("--workers and --scheduler: expected one of them, got both")
    uncertain = _ensemble_options(ensemble, ensemble_level, ensemble_seed)
    folder = out or Path(f"{file.stem}-trial")
    check_folder(folder)  # before anything runs: a file, a path under a file, unwritable, locked
    spec = load_trial(file)
    if not resume and _same_trial_in(folder, spec, chunk_size):
        # Running the same trial again (say with --json after a plain run) reuses what is
        # there: finished chunks are checked against their checksums, nothing else is kept.
        # Said once the run has the folder: another run may hold it by then, and a refusal
        # stays one line.
        resume = reusing = True
    else:
        reusing = False
    check_destination(folder, resume)
    client = None
    if workers is not None or scheduler is not None:
        from ivigsim.trial.distributed import connect, local_client

        client = local_client(workers) if workers is not None else connect(scheduler)
    try:
        if uncertain is None:
            result = run_trial(spec, folder, chunk_size=chunk_size, resume=resume, client=client, progress=not quiet)
        else:  # parameter uncertainty: the trial again under each vector, same seed (ivigsim.trial.ensemble)
            from ivigsim.trial.ensemble import run_trial_with_band
            from ivigsim.uncertainty import ensemble as draw_ensemble

            result = run_trial_with_band(spec, draw_ensemble(uncertain[0], uncertain[2]), uncertain[1], folder,
                                         chunk_size=chunk_size, resume=resume, client=client, progress=not quiet)
    finally:
        if client is not None:
            client.close()
            if workers is not None and client.cluster is not None:
                client.cluster.close()
    if reusing:
        typer.echo(f"note: {folder} held this same trial (same fingerprint and chunk size): its finished "
                   "chunks were reused", err=True)
    for note in result.notes:  # what --resume found and did (chunks recomputed, files removed)
        typer.echo(f"note: {note}", err=True)
    if as_json:
        typer.echo(json.dumps(result.summary, indent=2))
    elif not quiet:
        typer.echo(result.text())
        tables = ", contrasts.csv" if result.summary.get("contrasts") else ""
        typer.echo(f"wrote {folder}/summary.json (ivig_use.csv{tables}) and per-patient files in {folder}/patients/")
        if "parameter_uncertainty" in result.summary:
            kept = (f"each vector's summary in {folder}/ensemble/ (its per-patient files are not kept)"
                    if (folder / "ensemble").is_dir() else "no vector ran, so no ensemble folder was written")
            typer.echo(f"95 % interval: Monte Carlo sampling error of the shipped run; param.: "
                       f"{result.summary['parameter_uncertainty']['description']}; {kept}")


def _same_trial_in(folder: Path, spec, chunk_size: int) -> bool:
    """Whether ``folder`` holds the manifest of this very trial run (fingerprint and chunk size)."""
    from ivigsim.trial.store import MANIFEST, manifest_header, read_manifest

    if not (folder / MANIFEST).is_file():
        return False
    try:
        old = read_manifest(folder)
    except InputError:
        return False
    return old.get("run_fingerprint") == manifest_header(spec, chunk_size)["run_fingerprint"]


@app.command("plot-trial")
@user_errors
def plot_trial(
    folder: Annotated[Path, typer.Argument(help="a trial's output folder, run with `output: {trajectories: N}`")],
    output: Annotated[Optional[str], typer.Option("--output", help="output to draw [default: the disease's readout]")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="figure file [default: FOLDER/bands-OUTPUT.FORMAT]")] = None,
    observed: Annotated[Optional[Path], typer.Option("--observed", help="CSV of measurements (TIME, DV, OUTPUT) to overlay")] = None,
    observed_time_unit: Annotated[str, typer.Option("--observed-time-unit", help="unit of the observations' TIME: d or h")] = "d",
    figure_format: Annotated[FigureFormat, typer.Option("--figure-format", help=FIGURE_FORMAT_HELP)] = FigureFormat.png,
    log: Annotated[bool, typer.Option("--log", help="a log scale for the output")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the figure if it exists")] = False,
    forest: Annotated[bool, typer.Option("--forest", help="instead: a forest plot of the contrasts in summary.json [FOLDER/forest.FORMAT]")] = False,
    km: Annotated[Optional[str], typer.Option("--km", help="instead: Kaplan-Meier curves per arm of this time_to_event endpoint [FOLDER/km-ENDPOINT.FORMAT]")] = None,
) -> None:
    """Draw a trial's population figure: each arm's median and 5th-95th centiles of an output over time
    (or, with --forest or --km, its contrasts or Kaplan-Meier curves)."""
    from ivigsim.io.results import atomic_path
    from ivigsim.plot import save_figure
    from ivigsim.plot_population import trial_bands, trial_figure

    if out is not None and out.suffix.lower() != f".{figure_format.value}":  # an .svg name holding PNG bytes
        raise InputError("--out", f"a file name ending in .{figure_format.value} (the --figure-format)", str(out))
    from ivigsim.io.observed import check_time_unit

    check_time_unit(observed_time_unit)

    if forest or km is not None:  # the trial's other figures: from summary.json and the patient files
        _plot_trial_extras(folder, out, figure_format.value, overwrite, forest, km)
        return
    bands, name, disease, title = trial_bands(folder, output)  # checked before anything is written
    path = out or folder / f"bands-{name}.{figure_format.value}"
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise InputError("--out", "a figure file that does not exist yet (or --overwrite to replace it)", str(path))
    points = None
    if observed is not None:
        from ivigsim.io.observed import read_observations

        points = read_observations(observed, (name,), default_output=name, time_unit=observed_time_unit).get(name)
    try:
        with atomic_path(path) as tmp:
            save_figure(trial_figure(bands, name, disease, title, points, log), tmp, figure_format.value)
    except OSError as exc:
        raise InputError("--out", "a file that can be written", f"{path} ({exc.strerror})") from None
    typer.echo(f"wrote {path}")


def _plot_trial_extras(folder: Path, out: Optional[Path], fmt: str, overwrite: bool, forest: bool,
                       km: Optional[str]) -> None:
    """``plot-trial --forest`` and ``--km``: every figure checked and drawn before any is written."""
    from ivigsim.io.results import atomic_path
    from ivigsim.plot import save_figure
    from ivigsim.plot_population import forest_figure, km_curves, km_figure, read_summary

    if forest and km is not None and out is not None:
        raise InputError("--out", "one figure (--forest or --km, not both) for --out", str(out))
    figures = []
    if forest:
        figures.append((out or folder / f"forest.{fmt}", lambda: forest_figure(read_summary(folder, "--forest"))))
    if km is not None:
        curves, info = km_curves(folder, km)
        figures.append((out or folder / f"km-{km}.{fmt}", lambda: km_figure(curves, km, info)))
    for path, _ in figures:
        if (path.exists() or path.is_symlink()) and not overwrite:
            raise InputError("--out", "a figure file that does not exist yet (or --overwrite to replace it)", str(path))
    drawn = [(path, draw()) for path, draw in figures]  # a refusal (no contrasts) before any file
    for path, fig in drawn:
        try:
            with atomic_path(path) as tmp:
                save_figure(fig, tmp, fmt)
        except OSError as exc:
            raise InputError("--out", "a file that can be written", f"{path} ({exc.strerror})") from None
        typer.echo(f"wrote {path}")


@app.command("safety")
@user_errors
def safety(
    file: Annotated[Path, typer.Argument(help="scenario file (YAML), optionally with a risk_factors: section")],
    factors: Annotated[Optional[Path], typer.Option("--factors", help="risk factors (YAML mapping), instead of the file's risk_factors: section")] = None,
    max_hours: Annotated[float, typer.Option("--max-hours", help="longest practicable infusion for the slowest rate plan, hours")] = 12.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the tables as JSON")] = False,
) -> None:
    """Adverse-event risks per infusion and per course, residual infection risk, and a rate plan."""
    from ivigsim.io.scenario_file import load_scenario, parse_risk_factors, read_yaml
    from ivigsim.safety.factors import RiskFactors
    from ivigsim.safety_report import assess

    scenario = load_scenario(file)
    if factors is not None and scenario.risk_factors is not None:
        _fail(f"--factors: expected either --factors or a risk_factors: section in {file}, got both")
    if factors is not None and not factors.is_file():
        raise InputError("--factors", "an existing risk-factors file (YAML)", str(factors))
    risk_factors = (parse_risk_factors(read_yaml(factors, "--factors", "risk-factors file"), "--factors") if factors is not None
                    else scenario.risk_factors or RiskFactors())
    if not (isinstance(max_hours, (int, float)) and 1.0 <= max_hours <= 72.0):
        raise InputError("--max-hours", "a duration from 1 to 72 hours", max_hours)
    report = assess(scenario, risk_factors, max_hours=max_hours)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for line in report.lines():
        typer.echo(line)


@app.command("compare")
@user_errors
def compare_command(
    files: Annotated[list[Path], typer.Argument(help="scenario files (YAML): one patient, one disease, a regimen each")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = Path("compare-results"),
    plot: Annotated[bool, typer.Option(help="write the overlay figure")] = True,
    figure_format: Annotated[FigureFormat, typer.Option("--figure-format", help=FIGURE_FORMAT_HELP)] = FigureFormat.png,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace a comparison already in --out")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print nothing on success")] = False,
) -> None:
    """One patient under several regimens side by side: a table (grams, dosing weight, IgG peak and trough, readout, adverse events), an overlay figure and a CSV."""
    from ivigsim.compare import compare, labels_for
    from ivigsim.io.results import atomic_path
    from ivigsim.io.scenario_file import load_scenario

    written = [out / "compare.csv", *([out / f"compare.{figure_format.value}"] if plot else [])]
    _check_results_folder(out, written, overwrite)
    scenarios = []
    for path in files:
        try:
            scenarios.append(load_scenario(path))
        except InputError as exc:  # which of the files is wrong
            raise InputError(f"{path}: {exc.field}", exc.expected, exc.got) from None
    names = [p.name for p in files]
    comparison = compare(scenarios, labels_for(scenarios, names))
    figure = None
    if plot:  # drawn before any file is written: a failure leaves no half-written comparison
        from ivigsim.plot_stewardship import compare_figure

        figure = compare_figure(comparison, f"one patient, {len(files)} regimens: " + " vs ".join(p.stem for p in files))
    with _writing(out):
        _refuse_existing(out, written, overwrite)  # again, now that this run holds the folder
        with atomic_path(written[0]) as tmp:
            comparison.table().to_csv(tmp, index=False)
        if figure is not None:
            from ivigsim.plot import save_figure

            with atomic_path(written[1]) as tmp:
                save_figure(figure, tmp, figure_format.value)
    if not quiet:
        for line in comparison.lines():
            typer.echo(line)
        typer.echo("wrote " + ", ".join(str(p) for p in written))


@app.command("optimise")
@user_errors
def optimise_command(
    file: Annotated[Path, typer.Argument(help="trial file (YAML): the population, the endpoint and a template arm")],
    endpoint: Annotated[str, typer.Option("--endpoint", help="the trial's fraction endpoint that counts as response")],
    target: Annotated[str, typer.Option("--target", help="response probability to keep, 0 to 1 (0.8 = 80 %)")],
    doses: Annotated[str, typer.Option("--doses", help="maintenance doses to try, g/kg per infusion (per SCIG dose for an scig maintenance), e.g. 0.4,0.6,0.8,1")],
    intervals: Annotated[str, typer.Option("--intervals", help="intervals to try, days, e.g. 14,21,28")],
    conservative: Annotated[bool, typer.Option("--conservative", help="hold the lower end of the 95 % interval to the target, not the estimate")] = False,
    arm: Annotated[Optional[str], typer.Option("--arm", help="the arm whose maintenance is varied (default: the first arm with one maintenance part, IVIG maintenance or scig)")] = None,
    size: Annotated[Optional[int], typer.Option("--size", help="patients per candidate (default: the trial's size)")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="output folder (default: FILE-optimise)")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an optimisation already in --out")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar, no table")] = False,
) -> None:
    """The lowest IVIG (or IVIG and SCIG) per year that keeps a response probability: maintenance dose x interval, IVIG or subcutaneous, on a trial's virtual patients (the same ones for every candidate). Exit status 1 when no candidate reaches the target."""
    from ivigsim.io.results import atomic_path
    from ivigsim.io.trial_file import load_trial
    from ivigsim.trial.optimise import Grid, candidate_trials, check_target, optimise

    try:
        wanted = float(target.strip())
    except ValueError:
        raise InputError("--target", "a response probability from 0 to 1 (0.8 = 80 % of patients)", target) from None
    wanted = check_target(wanted)
    grid = Grid.parse(doses, intervals)
    if size is not None and size < 1:
        raise InputError("--size", "a whole number of patients per candidate >= 1", size)
    folder = out or Path(f"{file.stem}-optimise")
    written = [folder / "candidates.csv", folder / "optimum.json", folder / "response-vs-grams.png"]
    _check_results_folder(folder, written, overwrite)
    spec = load_trial(file)
    candidate_trials(spec, endpoint, grid, arm)  # every refusal (endpoint, arm, a candidate's regimen) before running
    bar = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(grid.pairs()), desc="candidates", unit="candidate", file=sys.stderr, leave=False)
    try:
        result = optimise(spec, endpoint, wanted, grid, conservative=conservative, arm=arm, size=size,
                          on_candidate=(lambda _c: bar.update(1)) if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    from ivigsim.plot import save_figure
    from ivigsim.plot_stewardship import optimise_figure

    figure = optimise_figure(result)  # drawn before any file is written
    with _writing(folder):
        _refuse_existing(folder, written, overwrite)
        with atomic_path(written[0]) as tmp:
            result.table().to_csv(tmp, index=False)
        with atomic_path(written[1]) as tmp:
            tmp.write_text(json.dumps(result.as_dict(), indent=2), encoding="utf-8")
        with atomic_path(written[2]) as tmp:
            save_figure(figure, tmp, "png")
    if not quiet:
        for line in result.lines():
            typer.echo(line)
        typer.echo("wrote " + ", ".join(str(p) for p in written))
    if result.chosen is None:
        # Not bad input (status 2): the run is valid and its table is written; no candidate of the
        # grid reaches the target, which a script must be able to tell apart from success.
        if quiet:
            typer.echo(f"no candidate reaches {endpoint} >= {wanted:g}", err=True)
        raise typer.Exit(1)


@app.command("serve")
@user_errors
def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on (127.0.0.1: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 8000,
    db: Annotated[Optional[str], typer.Option("--db", help="run catalogue: a SQLite file or a postgresql:// URL "
                                              "[default: ~/.local/share/ivigsim/runs.sqlite]")] = None,
) -> None:
    """Serve the web page and its JSON API (OpenAPI at /docs), with a catalogue of runs."""
    import socket

    if not 1 <= port <= 65535:
        raise InputError("--port", "a port from 1 to 65535", port)
    try:  # a port in use is one line before anything starts, not uvicorn's log and exit
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise InputError("--port", f"a free port on {host}", f"{port} ({exc.strerror or exc})") from None
    import uvicorn

    from ivigsim.web import create_app

    application = create_app(db)
    typer.echo(f"ivigsim: serving on http://{host}:{port}/ (API at /docs; runs in {application.state.catalogue.where})",
               err=True)
    uvicorn.run(application, host=host, port=port, log_level="warning")


#: Allocations between two young-generation garbage collections in a command's process (Python's
#: default, 700, made ``ivigsim simulate`` collect about 400 times while importing its libraries:
#: 0.15 s of its 1.5 s; 10,000 makes it about 30 times, 0.07 s).
GC_THRESHOLD = 10_000


def main() -> None:
    """The ``ivigsim`` command (the console script); the process ends when it returns."""
    gc.set_threshold(GC_THRESHOLD)
    try:
        app(prog_name="ivigsim")
    finally:
        # The process exits now: no cyclic collection of everything the libraries left (about
        # 0.2 s of interpreter shutdown after `simulate`). atexit handlers still run and files
        # are flushed and closed as before; only unreachable reference cycles are not collected.
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
