"""Individual fits: ivigsim's batched estimation against the same fit through libRoadRunner.

    .venv/bin/python benchmarks/estimation_benchmark.py            # 100 patients; 3 through libRoadRunner
    .venv/bin/python benchmarks/estimation_benchmark.py --quick    # 20 patients; 1 through libRoadRunner

Same problem for both: CIDP maintenance (78 g over 4 h every 21 days, three doses), ten
total-IgG levels per patient simulated with known parameters and 5 % proportional noise,
three parameters estimated (baseline IgG, FcRn IgK, plasma volume) with the same priors
and likelihood. ivigsim: ``fit_dataset`` (L-BFGS-B, each gradient one batch of 7 solves of
the compiled engine, then the Laplace Hessian). libRoadRunner: ivigsim's SBML export of
the patient's scenario, the posterior computed per evaluation (set the initial parameter
values, reset, simulate), minimised by scipy's L-BFGS-B with its own finite differences,
at the same tolerance (rtol 1e-8). Not a timed test: ratios measured in one run are what
docs/estimation.md records. Goals (BRIEF s.5): an individual fit under 5 s; 100 patients
under 2 minutes.
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
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_patients, n_rr = (20, 1) if args.quick else (100, 3)

    import roadrunner
    from scipy import optimize

    from test_estimation import ESTIMATE, PRIORS, simulated_patients

    from ivigsim.dosing import Dose, InfusionSpec, Regimen, get_product
    from ivigsim.estimation.fit import fit_dataset
    from ivigsim.io.nonmem import parse_dataset
    from ivigsim.io.sbml import export_sbml
    from ivigsim.model.patient import Patient
    from ivigsim.scenario import Scenario

    rng = np.random.default_rng(1)
    omegas = np.sqrt(np.log1p(np.array([0.219, 0.263, 0.2]) ** 2))
    truth = rng.standard_normal((n_patients, 3)) * omegas
    dataset = parse_dataset(simulated_patients(truth, seed=2), "d", "g")

    fit_dataset(parse_dataset(simulated_patients(truth[:1], seed=3), "d", "g"), ESTIMATE, priors=PRIORS)  # warm-up
    start = time.perf_counter()
    first = fit_dataset(dataset.__class__(**{**dataset.__dict__, "subjects": dataset.subjects[:1]}), ESTIMATE,
                        priors=PRIORS)
    one = time.perf_counter() - start
    start = time.perf_counter()
    result = fit_dataset(dataset, ESTIMATE, priors=PRIORS)
    many = time.perf_counter() - start

    typical = result.fits[0].typical
    rr_times, rr_solve, agreement = [], [], []
    for i in range(n_rr):
        subject = dataset.subjects[i]
        weight = subject.patient.weight_kg
        regimen = Regimen(tuple(Dose(d.start_day, d.amount / weight, InfusionSpec(duration_h=d.duration_day * 24))
                                for d in subject.doses), get_product("generic-10"), allow_above_label=True)
        scenario = Scenario(patient=Patient(weight), regimen=regimen, days=max(r.time_day for r in subject.records))
        start = time.perf_counter()
        rr = roadrunner.RoadRunner(export_sbml(scenario))
        rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = 1e-8, 1e-10
        times = np.array([r.time_day for r in subject.observations])
        dv = np.array([r.dv for r in subject.observations])
        grid = np.unique(np.r_[0.0, times])

        solving = [0.0]

        def objective(eta):
            for name, value in zip(ESTIMATE, typical * np.exp(eta)):
                rr.setValue(f"init({name})", float(value))
            begin = time.perf_counter()
            rr.reset(roadrunner.SelectionRecord.ALL)
            out = rr.simulate(times=grid, selections=["time", "igg_total_g_per_L"])
            solving[0] += time.perf_counter() - begin
            f = np.interp(times, out[:, 0], out[:, 1])
            sd = 0.05 * f
            return float(np.sum(((dv - f) / sd) ** 2 + 2 * np.log(sd)) + np.sum((eta / omegas) ** 2))

        found = optimize.minimize(objective, np.zeros(3), method="L-BFGS-B", options={"eps": 1e-6, "ftol": 1e-12})
        rr_times.append(time.perf_counter() - start)
        rr_solve.append(solving[0])
        agreement.append(np.abs(found.x - result.fits[i].eta).max())

    rr_one = float(np.mean(rr_times))
    print(f"individual MAP + Laplace fit, 3 parameters, 10 IgG levels ({n_patients} patients)")
    print(f"  ivigsim, one patient:            {one:8.3f} s")
    print(f"  ivigsim, {n_patients} patients:            {many:8.2f} s  ({many / n_patients:.3f} s each)")
    print(f"  libRoadRunner + scipy, per patient: {rr_one:8.2f} s  (mean of {n_rr}; MAP only, no Laplace)")
    print(f"  ratio (libRoadRunner / ivigsim per patient): {rr_one / (many / n_patients):.0f}x")
    solve_only = float(np.mean(rr_solve))
    print(f"  libRoadRunner's reset + simulate alone:  {solve_only:8.2f} s per patient; setting init() values "
          f"takes the rest. Ratio if setting were free: {solve_only / (many / n_patients):.1f}x")
    print(f"  same optimum: max |eta difference| {max(agreement):.1e}")
    print(f"  goals: one fit < 5 s: {'met' if one < 5 else 'NOT met'}; 100 patients < 120 s: "
          f"{'met' if many / n_patients * 100 < 120 else 'NOT met'} (scaled to 100 where fewer)")
    print(f"  converged: {sum(f.converged for f in result.fits)}/{n_patients}; first patient converged: {first.fits[0].converged}")


if __name__ == "__main__":
    main()
