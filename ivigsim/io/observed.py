"""Observations to overlay on a simulation's plot: a small CSV of what was measured.

Columns (names matched case-insensitively; other columns are ignored):

- ``TIME``: time of the measurement, in the declared unit (``d`` days by default, or ``h``);
- ``DV``: the measured value, in the output's unit;
- ``OUTPUT`` (optional): which output was measured (default: total IgG,
  ``igg_total_g_per_L``); it must be one the plot shows.

The same columns as a NONMEM-style dataset's observation records, so a dataset's
observation rows can be pasted in. Each problem is one ``InputError`` naming row and column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ivigsim.errors import InputError
from ivigsim.io.quantities import plain_float
from ivigsim.io.text import read_text

DAYS_PER = {"d": 1.0, "h": 1.0 / 24.0}
#: The latest measurement time read, days (50 years: beyond it, a typo; 1e308 overflowed the plot).
MAX_TIME_DAYS = 50 * 365.25
#: Outputs named with these units are concentrations or counts, never below zero, so a negative
#: observed value of one is a typing error (a change from baseline, in other units, may be negative).
NON_NEGATIVE_UNITS = ("_per_L", "_per_uL")


def check_time_unit(time_unit: str) -> None:
    """The observations' time unit (``--observed-time-unit``): d or h."""
    if time_unit not in DAYS_PER:
        raise InputError("--observed-time-unit", "d or h", time_unit)


def read_observations(path: str | Path, shown: Sequence[str], default_output: str = "igg_total_g_per_L",
                      time_unit: str = "d") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{output: (times in days, values)} from the CSV at ``path``; ``shown`` are the outputs
    the plot can show."""
    path = Path(path)
    check_time_unit(time_unit)
    text = read_text(path, "--observed", "observations file (CSV)", encoding="utf-8-sig")
    source = path.name
    table = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not table:
        raise InputError(f"{source} header", "a header with TIME and DV columns", "an empty file")
    header = [cell.strip().upper() for cell in table[0]]
    for column in ("TIME", "DV"):
        if column not in header:
            raise InputError(f"{source} header", f"a {column} column", ", ".join(table[0]))
    for column in ("TIME", "DV", "OUTPUT"):
        if header.count(column) > 1:
            raise InputError(f"{source} header", f"one {column} column", ", ".join(table[0]))
    at = {column: header.index(column) for column in ("TIME", "DV", "OUTPUT") if column in header}
    found: dict[str, tuple[list[float], list[float]]] = {}
    for number, row in enumerate(table[1:], start=1):
        if len(row) != len(header):
            raise InputError(f"{source} row {number}", f"{len(header)} cells like the header", len(row))
        values = {}
        for column in ("TIME", "DV"):
            cell = row[at[column]].strip()
            try:
                values[column] = plain_float(cell)
            except ValueError:
                raise InputError(f"{source} row {number} column {column}", "a number", cell) from None
        if not 0 <= values["TIME"] * DAYS_PER[time_unit] <= MAX_TIME_DAYS:
            raise InputError(f"{source} row {number} column TIME", f"a time from 0 to 50 years "
                             f"({MAX_TIME_DAYS / DAYS_PER[time_unit]:g} {time_unit})", row[at["TIME"]].strip())
        output = (row[at["OUTPUT"]].strip() if "OUTPUT" in at else "") or default_output
        if output not in shown:
            raise InputError(f"{source} row {number} column OUTPUT", f"an output the plot shows ({', '.join(shown)})",
                             output)
        if values["DV"] < 0 and output.endswith(NON_NEGATIVE_UNITS):
            raise InputError(f"{source} row {number} column DV", f"an observed {output} >= 0 (a concentration or "
                             "count)", row[at["DV"]].strip())
        times, dvs = found.setdefault(output, ([], []))
        times.append(values["TIME"] * DAYS_PER[time_unit])
        dvs.append(values["DV"])
    return {k: (np.array(t), np.array(v)) for k, (t, v) in found.items()}
