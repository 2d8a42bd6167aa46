"""Population estimation (PyMC hierarchical model over ivigsim's engine): coverage over
replicates and run time.

    .venv/bin/python benchmarks/nlme_benchmark.py                       # 20 replicates, 30 subjects
    .venv/bin/python benchmarks/nlme_benchmark.py --replicates 4 --subjects 20 --draws 300

Each replicate: a population simulated as in tests/test_nlme.py (one 70 g dose over 4 h to
70 kg, six total-IgG levels over three weeks, 5 % proportional noise), baseline IgG and
plasma volume with typical values 1.2x and 0.9x the model's and omegas 0.25 and 0.15 (a
new draw of subjects and noise per replicate), fitted by NUTS (centred, 2 chains). It
counts how often the 90 % intervals contain the true typical values and omegas (nominal:
90 %), and reports R-hat, bulk ESS, divergences and seconds. Not a timed test: the numbers
measured in one run are what docs/estimation.md records.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--first", type=int, default=0, help="first replicate's number (its seed)")
    parser.add_argument("--subjects", type=int, default=30)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--non-centred", action="store_true")
    args = parser.parse_args()

    from test_nlme import ESTIMATE, PRIORS, simulate

    from ivigsim.estimation.nlme import fit_population, population_problem
    from ivigsim.estimation.residual import ResidualError
    from ivigsim.io.nonmem import parse_dataset

    mu, omega = np.log([1.2, 0.9]), np.array([0.25, 0.15])
    error = ResidualError("proportional", proportional=0.05)
    inside_typical, inside_omega, rows = [], [], []
    for r in range(args.first, args.first + args.replicates):
        rng = np.random.default_rng([20261203, r])
        phi = mu + rng.standard_normal((args.subjects, 2)) * omega
        problem = population_problem(parse_dataset(simulate(phi, error, 100 + r), "d", "g"), ESTIMATE, priors=PRIORS)
        started = time.perf_counter()
        fit = fit_population(problem, draws=args.draws, tune=args.tune, chains=2, seed=r,
                             centred=not args.non_centred)
        seconds = time.perf_counter() - started
        truth = problem.model_values * np.exp(mu)
        inside_typical.append((fit.typical.lower <= truth) & (truth <= fit.typical.upper))
        inside_omega.append((fit.omega.lower <= omega) & (omega <= fit.omega.upper))
        rows.append((seconds, fit.engine_calls, fit.divergences, max(fit.typical.rhat.max(), fit.omega.rhat.max()),
                     min(fit.typical.ess_bulk.min(), fit.omega.ess_bulk.min())))
        print(f"replicate {r}: {seconds:.0f} s, {fit.engine_calls} engine calls, {fit.divergences} divergences, "
              f"max R-hat {rows[-1][3]:.3f}, min bulk ESS {rows[-1][4]:.0f}; typical {np.round(fit.typical.median, 4)} "
              f"[{np.round(fit.typical.lower, 4)}, {np.round(fit.typical.upper, 4)}] (truth {np.round(truth, 4)}); "
              f"omega {np.round(fit.omega.median, 3)} [{np.round(fit.omega.lower, 3)}, {np.round(fit.omega.upper, 3)}] "
              f"(truth {omega}; SD of this replicate's drawn etas {np.round(phi.std(axis=0, ddof=1), 3)})", flush=True)
    typical, omegas = np.array(inside_typical), np.array(inside_omega)
    table = np.array(rows)
    print(f"\n{args.replicates} replicates of {args.subjects} subjects, {args.draws} draws + {args.tune} tuning x 2 "
          f"chains ({'non-centred' if args.non_centred else 'centred'})")
    print(f"coverage of the 90 % intervals: typical values {typical.mean():.0%} {typical.mean(axis=0)}, "
          f"omegas {omegas.mean():.0%} {omegas.mean(axis=0)}")
    print(f"seconds per fit: median {np.median(table[:, 0]):.0f} (range {table[:, 0].min():.0f}-{table[:, 0].max():.0f});"
          f" engine calls per fit {np.median(table[:, 1]):.0f}; divergences total {table[:, 2].sum():.0f}; "
          f"worst R-hat {table[:, 3].max():.3f}; smallest bulk ESS {table[:, 4].min():.0f}")


if __name__ == "__main__":
    main()
