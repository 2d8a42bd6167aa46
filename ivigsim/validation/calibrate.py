"""Calibration scripts: Km and the plasma volume's spread solved exactly; the joint calibration.

``python -m ivigsim.validation.calibrate`` (the default) reproduces the PK core's two
exactly solved values: ``fcrn_km_g_per_L`` is solved (Brent's method) so that the rise
in total IgG 14 days after 0.4 g/kg/day x 5 equals Kuitwaard 2009's mean of 7.8 g/L, in the
typical GBS patient (``ivigsim.validation.pk.gbs_delta_igg_day14``); its lower bound keeps
FcRn rescue below 100 % at vanishing IgG. The between-patient CV of ``plasma_volume_L_per_kg``
(``ivigsim.model.diseases.IGG_CORE_VARIABILITY``) is solved so that the rise with an infusion
varies between patients as in Kuitwaard 2013 (CV 20 %, ``calibrate_plasma_volume_cv``).

``python -m ivigsim.validation.calibrate --joint [--parameters a,b,...] [--fast]
[--softness X] [--ensemble N] [--out FILE]`` fits the chosen parameters (default: every parameter whose
declared provenance is ``calibrated``) jointly to every calibration target by minimising
-2 log L (``ivigsim.validation.joint``), then approximates the posterior by Laplace (the
Hessian by finite differences), reports which parameters the targets do not identify, and
writes the estimate, its intervals, the correlations and an ensemble of N parameter vectors
with their provenance as JSON (default ``ivigsim/data/calibration/joint.json``). It never
changes the model's shipped values: the file proposes them. ``--softness`` sets the soft
criteria of the objective's trials (``joint.SOFTNESS`` by default; 0: hard); it is recorded
in the file's settings, and a file without it was computed with hard criteria.

On a file written so: ``--profile NAMES`` (profile likelihoods), ``--by-block`` (each block's
estimate moved alone: the adoption rule), ``--rebase`` (after adopting estimates as the model's
values) and ``--importance`` (the exact objective at the ensemble's vectors: how well the Laplace
normal describes the posterior, ``ivigsim.validation.importance``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from ivigsim.errors import InputError, IvigsimError
from ivigsim.model.library import core_model
from ivigsim.validation.pk import gbs_delta_igg_day14
from ivigsim.validation.targets import PK_TARGETS

#: Where the joint calibration's result is shipped.
JOINT_FILE = Path(__file__).resolve().parents[1] / "data" / "calibration" / "joint.json"
FORMAT = "ivigsim joint calibration 1"


def fcrn_km_lower_bound() -> float:
    """Smallest Km for which rescue at zero IgG is at most 1 (rescue_max <= 1)."""
    model = core_model()
    igk = model.parameter("fcrn_igk").value
    reference = model.parameter("reference_igg_g_per_L").value
    rescue = igk / (1 + igk)
    return reference * rescue / (1 - rescue)


def calibrate_fcrn_km() -> float:
    target = next(t for t in PK_TARGETS if t.id == "gbs-delta-igg-day14").published
    residual = lambda km: gbs_delta_igg_day14({"fcrn_km_g_per_L": km}) - target  # noqa: E731
    return float(brentq(residual, fcrn_km_lower_bound(), 1000.0, xtol=1e-3))


#: The between-patient spread of the rise in IgG with an infusion, solved by
#: ``calibrate_plasma_volume_cv``: the target, and the trial and arm that read it.
RISE_CV_TARGET = "kuitwaard-2013-cv-rise"


def rise_cv_pct(plasma_volume_cv: float) -> float:
    """The between-patient CV (per cent) of the rise in IgG with an infusion in Kuitwaard 2013's
    trial file, its patients' plasma volume per kilogram varying with CV ``plasma_volume_cv``
    (the file's own seed: the same patients for every value)."""
    import dataclasses
    from types import MappingProxyType

    from ivigsim.io.trial_file import load_trial
    from ivigsim.population.variability import Variability
    from ivigsim.trial.runner import run_trial
    from ivigsim.validation.trial_targets import READOUTS, TRIALS

    readout = READOUTS[RISE_CV_TARGET]
    trial = load_trial(TRIALS / readout.trial)
    spread = trial.population.variability
    cv = Variability(MappingProxyType({**spread.cv, "plasma_volume_L_per_kg": float(plasma_volume_cv)}),
                     spread.correlations)
    trial = dataclasses.replace(trial, population=dataclasses.replace(trial.population, variability=cv))
    result = run_trial(trial)
    return readout.estimate(result.summary, result.patients)[0]


def calibrate_plasma_volume_cv() -> float:
    """The between-patient CV of ``plasma_volume_L_per_kg`` at which the rise in IgG with an
    infusion varies between patients as in Kuitwaard 2013 (20 %), by Brent's method. Solved
    alone, like Km: the rise from a dose per kilogram is spread by the volume it enters, and
    none of the jointly fitted parameters moves that spread."""
    from ivigsim.validation.runner import ALL_TARGETS

    target = next(t for t in ALL_TARGETS if t.id == RISE_CV_TARGET).published
    return float(brentq(lambda cv: rise_cv_pct(cv) - target, 0.05, 1.0, xtol=1e-3))


# --- joint calibration -------------------------------------------------------------------------


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def provenance(command: list[str], runtime_s: float) -> dict:
    import scipy

    from ivigsim import __version__

    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "ivigsim_version": __version__,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_tracked_changes": None if status is None else bool(status),
        "command": " ".join(command),
        "runtime_s": round(runtime_s, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "machine": f"{platform.machine()}, {platform.system()}",
    }


def run_joint(names: list[str] | None, *, fast: bool, seed: int | None, size_ratio: float, ensemble: int,
              step: float, hessian_step: float, max_iterations: int, crn_seed: int, command: list[str],
              log=print, softness: float | None = None, start: dict[str, float] | None = None) -> dict:
    """Fit, Laplace, identifiability, ensemble; returns the JSON document. ``start``: values to
    start the fit from (e.g. an earlier run's estimate) instead of the shipped ones."""
    from ivigsim.validation import joint

    softness = joint.SOFTNESS if softness is None else softness
    started = time.time()
    fingerprint = joint.fingerprint()  # of the model and files as they were when the run began
    names = list(names or joint.calibrated_parameters())
    shipped = joint.shipped_values(names)
    parameters = [joint.fit_parameter(n, shipped[n]) for n in names]
    sizes, size_rows = (None, []) if fast else joint.population_sizes(ratio=size_ratio, seed=seed)
    settings = {"fast": fast, "fast_size": joint.FAST_SIZE if fast else None, "seed": seed, "sizes": sizes,
                "size_ratio": None if fast else size_ratio, "softness": softness}
    log(f"parameters: {', '.join(names)}")
    log(f"settings: {json.dumps(settings)}")
    objective = joint.Objective(joint.CALIBRATION_TARGETS, fast=fast, seed=seed, sizes=sizes, softness=softness)

    before = objective.breakdown({})
    log("at the shipped values:\n" + before.table())
    x0 = None
    if start:
        unknown = sorted(set(start) - set(names))
        if unknown:
            raise InputError("--start", f"values of the fitted parameters ({', '.join(names)})", unknown[0])
        x0 = np.array([p.to_x(float(start.get(p.name, p.shipped))) for p in parameters])
        log(f"starting from {json.dumps(start)}")
    fitted = joint.fit(objective, parameters, step=step, margin=hessian_step, max_iterations=max_iterations,
                       start=x0, log=log)
    log(f"fit: {time.time() - started:.0f} s; estimate {json.dumps(fitted.values)}")
    approx = joint.laplace(objective, fitted, hessian_step)
    for attempt in range(2):  # the estimate must be a minimum: leave a saddle along a negative curvature
        better = joint.escape_saddle(objective, fitted, approx, margin=hessian_step)
        if better is None:  # a minimum along every direction tried: roughness below the step is not a saddle
            approx = joint.accept_rough_directions(approx)
            break
        log(f"negative curvature at the estimate: moving along it and fitting again (attempt {attempt + 1})")
        fitted = joint.fit(objective, parameters, step=step, margin=hessian_step, max_iterations=max_iterations,
                           start=better, log=log)
        log(f"estimate {json.dumps(fitted.values)}")
        approx = joint.laplace(objective, fitted, hessian_step)
    log(f"Laplace: {time.time() - started:.0f} s; {len(objective.failures)} failed evaluations"
        + "".join(f"\n  {text}" for text in approx.failures)
        + "".join(f"\n  negative direction (eigenvalue {r['eigenvalue']:.3g}) measured along itself: "
                  f"{', '.join(f'{m:.3g}' for m in r['measured'])}" + ("; replaced" if r["replaced"] else "; kept")
                  for r in approx.repaired))
    estimate = fitted.values
    after = objective.breakdown(estimate)
    log("at the estimate:\n" + after.table())

    checks = joint.Objective(joint.CHECK_TARGETS, fast=fast, seed=seed, sizes=sizes, softness=softness)
    checks_before, checks_after = checks.breakdown({}), checks.breakdown(estimate)
    other = joint.Objective(joint.CALIBRATION_TARGETS, fast=fast, seed=crn_seed, sizes=sizes, softness=softness)
    crn_before, crn_after = other.breakdown({}), other.breakdown(estimate)
    log(f"checks (out of sample): {checks_before.total:.3f} -> {checks_after.total:.3f}; "
        f"another draw (seed {crn_seed}): {crn_before.total:.3f} -> {crn_after.total:.3f}")

    gn_sd = joint.gauss_newton_sd(fitted.jacobian)
    rows = []
    edge = []  # at the edge of the search box: a bound, not the data, stopped the fit
    for i, p in enumerate(parameters):
        box = p.box(hessian_step)
        if min(fitted.x[i] - box[0], box[1] - fitted.x[i]) < 1e-3:
            edge.append(p.name)
    for i, p in enumerate(parameters):
        rows.append({
            "name": p.name, "unit": p.unit, "block": p.block, "provenance": p.provenance, "scale": p.scale,
            "shipped": p.shipped, "estimate": estimate[p.name], "gauss_newton_sd_fitting_scale": float(gn_sd[i]),
            "bounds": list(p.bounds), "search_box": [p.from_x(b) for b in p.box(hessian_step)],
            "at_box_edge": p.name in edge,
        })
    runtime = time.time() - started
    doc = {
        "format": FORMAT,
        "provenance": provenance(command, runtime),
        "fingerprint": fingerprint,
        "objective": {
            "definition": "-2 log L of the calibration targets (ivigsim.validation.likelihood): binomial (beta-binomial "
                          "with Monte Carlo error) for counts, normal with SD = 95 % interval width / 3.92 for a "
                          "published interval, SD = default band half-width / 1.96 otherwise, simulated Monte Carlo "
                          "variance added; identities and adverse-event rows excluded",
            "targets": [t.id for t in joint.CALIBRATION_TARGETS],
            "settings": settings,
            "population_sizes": size_rows,
            "shipped": before.as_dict(),
            "estimate": after.as_dict(),
        },
        "method": {
            "optimiser": "Levenberg-Marquardt on the standardised residuals, steps accepted only if -2 log L falls "
                         "(ivigsim.validation.joint.fit)",
            "scale": "log, or logit for shares (each parameter's variability scale)",
            "jacobian_step": step, "hessian_step": hessian_step,
            "hessian_steps": {p.name: float(h) for p, h in zip(parameters, np.broadcast_to(approx.step, (len(parameters),)))},
            "iterations": fitted.history,
            "evaluations": objective.evaluations, "unit_runs": objective.unit_runs,
            "failed_evaluations": [{"why": f["why"], "overrides": f["overrides"]} for f in objective.failures[:50]],
            "hessian_failures": approx.failures,
            "laplace": "normal at the estimate, precision = half the central-difference Hessian of -2 log L on the "
                       "fitting scale, each axis's step chosen from a pilot of its second derivative so that one step "
                       f"raises -2 log L by about {joint.HESSIAN_RISE:g} (within [{joint.MIN_HESSIAN_STEP:g}, "
                       "hessian_step]; hessian_steps)",
            "ensemble": f"{ensemble} draws from the Laplace normal (directions flatter than SD {joint.FLAT_SD} drawn "
                        f"with SD {joint.FLAT_SD}), redrawn outside the search box",
        },
        "parameters": rows,
        "held": {n: {"value": shipped_value, "why": joint.HELD[n]}
                 for n, shipped_value in joint.shipped_values([n for n in joint.HELD if n not in names]).items()},
        "identifiability": {
            "rule": f"not identified: Laplace SD on the fitting scale > {joint.UNIDENTIFIED_SD}, or loading >= 0.3 on a "
                    f"direction with SD > {joint.UNIDENTIFIED_SD}; weak: SD > log(1.5)",
            "at_box_edge": edge,
        },
        "checks_out_of_sample": {"targets": [t.id for t in joint.CHECK_TARGETS],
                                 "shipped": checks_before.as_dict(), "estimate": checks_after.as_dict()},
        "common_random_numbers_check": {"seed": crn_seed, "shipped_total": crn_before.total,
                                        "estimate_total": crn_after.total},
    }
    return apply_laplace(doc, approx, ensemble)


def apply_laplace(doc: dict, approx, ensemble: int) -> dict:
    """What follows from the Laplace approximation ``approx`` (``joint.Laplace``), written into
    ``doc``: each parameter's SD, 95 % interval and identifiability, the flattest directions, the
    Hessian, its repaired directions, the correlations and ``ensemble`` vectors (seed 0)."""
    identified = approx.identifiability()
    sd = approx.sd()
    for i, row in enumerate(doc["parameters"]):
        lo, hi = approx.interval(i)
        row.update({"lower95": lo, "upper95": hi, "sd_fitting_scale": float(sd[i]),
                    "identified": identified[i]["identified"]})
    doc["identifiability"].update({
        "not_identified": [r["name"] for r in identified if r["identified"] == "no"],
        "weakly_identified": [r["name"] for r in identified if r["identified"] == "weak"],
        "directions": approx.directions()})
    doc["method"]["hessian_repaired_directions"] = approx.repaired
    doc["hessian"] = approx.hessian.tolist()
    names = [p.name for p in approx.parameters]
    doc["correlations"] = {"names": names, "matrix": np.round(approx.correlations(), 6).tolist()}
    draws = approx.ensemble(ensemble, seed=0, margin=0.0) if ensemble else np.zeros((0, len(names)))
    doc["ensemble"] = {"names": names, "vectors": draws.tolist()}
    return doc


def stored_laplace(doc: dict):
    """The ``joint.Laplace`` a joint calibration's file records (estimate, Hessian, steps, repairs)."""
    from ivigsim.validation import joint

    parameters = [joint.fit_parameter(r["name"], r.get("fit_centre", r["shipped"])) for r in doc["parameters"]]
    x = np.array([p.to_x(r["estimate"]) for p, r in zip(parameters, doc["parameters"])])
    steps = np.array([doc["method"]["hessian_steps"][p.name] for p in parameters])
    return joint.Laplace(parameters, x, np.array(doc["hessian"], dtype=float), steps,
                         list(doc["method"]["hessian_failures"]), list(doc["method"]["hessian_repaired_directions"]))


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(type(o))


def _finite(o):
    """JSON has no infinity: infinite numbers become strings ("inf")."""
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _recorded_objective(doc: dict, targets=None, seed: int | None = None):
    """A ``joint.Objective`` with the settings ``doc`` was fitted with (sizes, seeds, softness; a
    file written before soft criteria existed was computed with hard ones); ``seed`` replaces
    the recorded one (another draw of patients)."""
    from ivigsim.validation import joint

    settings = doc["objective"]["settings"]
    return joint.Objective(joint.CALIBRATION_TARGETS if targets is None else targets, fast=settings["fast"],
                           seed=settings["seed"] if seed is None else seed, sizes=settings["sizes"],
                           softness=settings.get("softness", 0.0))


def _require_current(doc: dict, option: str) -> None:
    """Refuse an option that reads ``doc``'s objective when the model, trial files or targets changed since."""
    from ivigsim.validation import joint

    if doc.get("fingerprint") != joint.fingerprint():
        raise InputError(option, "a joint calibration of today's model (run --joint first: the model, trial "
                         "files or targets changed since)", doc.get("fingerprint"))


def run_profiles(doc: dict, names: list[str] | None, *, command: list[str], refit_shared: bool = False,
                 log=print) -> dict:
    """Profile likelihoods (``ivigsim.validation.profile``) around the estimate recorded in
    ``doc`` (a joint calibration's JSON), with the objective's recorded settings; returns the
    ``profiles`` section to store in it. ``names``: default, every fitted parameter."""
    from ivigsim.validation import joint, profile

    _require_current(doc, "--profile")
    started = time.time()
    rows = {r["name"]: r for r in doc["parameters"]}
    fitted_names = list(rows)
    names = names or fitted_names
    for n in names:
        if n not in rows:
            raise InputError("--profile", f"parameters of the joint calibration ({', '.join(fitted_names)})", n)
    parameters = [joint.fit_parameter(n, rows[n]["shipped"]) for n in fitted_names]
    x_hat = np.array([p.to_x(rows[p.name]["estimate"]) for p in parameters])
    objective = _recorded_objective(doc)
    total_hat = objective({p.name: p.from_x(float(x)) for p, x in zip(parameters, x_hat)})
    shared = [p.name for p in parameters if p.block == "shared"]
    step, margin = doc["method"]["jacobian_step"], doc["method"]["hessian_step"]
    results = profile.profiles(objective, parameters, x_hat, total_hat, names, refit_shared=refit_shared,
                               shared=shared, step=step, margin=margin, log=log)
    return {
        "method": "profile likelihood: each grid value of a parameter (offsets "
                  f"{', '.join(f'{o:g}' for o in profile.OFFSETS)} either way on the fitting scale, until -2 log L has "
                  f"risen by {2 * profile.CHI2_95:.2f}) with the parameters sharing a unit of the objective with it "
                  "re-fitted (Levenberg-Marquardt); 95 % interval where the rise stays below 3.84 (Wilks), "
                  "'unbounded' on a side where it never gets there inside the search box"
                  + ("" if refit_shared else "; the shared parameters held at the estimate (narrower than a full "
                     "profile)"),
        "refit_shared": refit_shared,
        "estimate_minus2_log_l": total_hat,
        "command": " ".join(command),
        "runtime_s": round(time.time() - started, 1),
        "results": [r.as_dict() for r in results],
    }


def run_importance(doc: dict, *, command: list[str], log=print) -> dict:
    """The exact -2 log L at each of ``doc``'s ensemble vectors (draws of its Laplace normal), then
    ``importance_section`` of them; returns the ``importance`` section to store in ``doc``."""
    _require_current(doc, "--importance")
    started = time.time()
    approx, xs = _ensemble_on_fitting_scale(doc)
    parameters, x_hat = approx.parameters, approx.x
    objective = _recorded_objective(doc)
    total_hat = objective({p.name: p.from_x(float(x)) for p, x in zip(parameters, x_hat)})
    totals = []
    for i, x in enumerate(xs):
        try:
            totals.append(objective({p.name: p.from_x(float(xi)) for p, xi in zip(parameters, x)}))
        except InputError as exc:  # an input the model refuses: the draw is outside the model's domain
            log(f"  draw {i}: {exc}")
            totals.append(math.inf)
        if (i + 1) % 25 == 0 or i + 1 == len(xs):
            left = (time.time() - started) / (i + 1) * (len(xs) - i - 1)
            log(f"  {i + 1} of {len(xs)} draws evaluated ({left / 60:.0f} min left)")
    section = {"command": " ".join(command), "runtime_s": round(time.time() - started, 1),
               **importance_section(doc, total_hat, totals)}
    log(f"Pareto k {section['pareto_k']:.2f} ({'reliable' if section['reliable'] else 'unreliable'}), effective "
        f"sample size {section['effective_sample_size']:.0f} of {len(xs)}; exact rise over the quadratic's: median "
        f"{section['rise_over_quadratic']['median']:.2f}; departures explain R^2 {section['departure_r2']:.2f}")
    return section


def _ensemble_on_fitting_scale(doc: dict):
    """(the file's Laplace approximation, ``stored_laplace``, and its ensemble on the fitting scale)."""
    approx = stored_laplace(doc)
    if doc["ensemble"]["names"] != [p.name for p in approx.parameters] or not doc["ensemble"]["vectors"]:
        raise InputError("--importance", "a joint calibration with an ensemble of its fitted parameters "
                         "(run --joint with --ensemble N)", f"{len(doc['ensemble']['vectors'])} vectors")
    xs = np.array([[p.to_x(v) for p, v in zip(approx.parameters, vector)] for vector in doc["ensemble"]["vectors"]])
    return approx, xs


def importance_section(doc: dict, total_hat: float, totals) -> dict:
    """What the exact -2 log L ``totals`` at ``doc``'s ensemble vectors say of its Laplace normal
    (``ivigsim.validation.importance``): the importance weights and their Pareto k, how the exact
    rise compares with the quadratic's, where it departs from it (per parameter), and, when the
    weights are reliable, each parameter's importance-weighted interval."""
    from ivigsim.validation import importance, joint

    approx, xs = _ensemble_on_fitting_scale(doc)
    parameters, x_hat, precision = approx.parameters, approx.x, approx.precision()
    rows = doc["parameters"]
    totals = np.array(totals, dtype=float)
    floor = 1.0 / joint.FLAT_SD**2  # as the draws were made (joint.Laplace.ensemble)
    weighted = importance.importance_weights(totals, importance.normal_log_density(xs, x_hat, precision, floor))
    ok = np.isfinite(totals)
    d = xs - x_hat
    quadratic = np.einsum("ij,jk,ik->i", d, precision, d)  # the Laplace quadratic's rise of -2 log L
    rise = totals - total_hat
    sd = np.sqrt(np.diag(approx.covariance(floor)))  # in the SDs the draws were made with
    odd, even, r2 = importance.departure(d / sd, rise - quadratic)
    out_rows = []
    w = weighted.weights
    mean, cov = importance.weighted_moments(xs[ok], w[ok])
    for i, (p, r) in enumerate(zip(parameters, rows)):
        row = {"name": p.name, "estimate": r["estimate"], "laplace95": [r["lower95"], r["upper95"]],
               "drawn_sd": float(sd[i]), "departure_odd": float(odd[i]), "departure_even": float(even[i])}
        if weighted.reliable:  # otherwise the weighted figures estimate nothing (Vehtari et al. 2024)
            natural = np.array([p.from_x(float(x)) for x in xs[ok, i]])
            row["weighted95"] = [float(q) for q in importance.weighted_quantiles(natural, w[ok], [0.025, 0.975])]
            row["weighted_sd"] = float(math.sqrt(cov[i, i]))
        out_rows.append(row)
    ratio = rise[ok] / quadratic[ok]
    return {
        "method": "importance sampling of the Laplace normal: the exact -2 log L at each ensemble vector, log weight "
                  "= -(-2 log L)/2 - log q (flat prior on the fitting scale inside the search box), Pareto-smoothed "
                  f"(Vehtari et al. 2024, arviz.psislw); k < {importance.K_RELIABLE} reliable. Departures: the "
                  "least-squares fit of (exact rise - quadratic rise) on each parameter's deviation in Laplace SDs and "
                  "its square less 1 (importance.departure)",
        "estimate_minus2_log_l": total_hat,
        "draws": len(xs),
        "failed_draws": int((~ok).sum()),
        "pareto_k": weighted.k,
        "reliable": weighted.reliable,
        "effective_sample_size": weighted.ess,
        "below_estimate": int((rise[ok] < 0).sum()),
        "rise_over_quadratic": {"median": float(np.median(ratio)), "q05": float(np.quantile(ratio, 0.05)),
                                "q95": float(np.quantile(ratio, 0.95)),
                                "correlation": float(np.corrcoef(rise[ok], quadratic[ok])[0, 1])},
        "departure_r2": r2,
        "minus2_log_l": totals.tolist(),
        "quadratic_rise": quadratic.tolist(),
        "log_weights": weighted.log_weights.tolist(),
        "parameters": out_rows,
    }


def run_blocks(doc: dict, log=print) -> dict:
    """Per block of fitted parameters (``shared``, a disease, ``comparators``): -2 log L of the
    calibration targets and of the out-of-sample checks whose units read any of the block's
    parameters, at the shipped values and with only that block moved to the estimate (every
    other parameter shipped). Which blocks' estimates improve their fit without worsening their
    checks: the evidence for adopting a block's estimate as the model's values."""
    from ivigsim.validation import joint

    _require_current(doc, "--by-block")
    fitted, checks = _recorded_objective(doc), _recorded_objective(doc, joint.CHECK_TARGETS)
    rows = []
    for block in dict.fromkeys(r["block"] for r in doc["parameters"]):
        estimate = {r["name"]: r["estimate"] for r in doc["parameters"] if r["block"] == block}

        def reading(objective) -> list[str]:
            return [t.id for u in objective.units if u.names & set(estimate) for t in u.targets]

        row = {"block": block, "parameters": estimate}
        for key, objective in (("targets", fitted), ("checks", checks)):
            ids = reading(objective)
            before, after = objective.breakdown({}), objective.breakdown(estimate)
            total = lambda b: sum(t.minus2_log_l for t in b.terms if t.target in ids)  # noqa: E731
            row[key] = {"ids": ids, "shipped": total(before), "block_estimate": total(after)}
        row["adopt"] = adoptable(row)
        log(f"  {block:12s} targets {row['targets']['shipped']:8.2f} -> {row['targets']['block_estimate']:8.2f}; "
            f"checks ({len(row['checks']['ids'])}) {row['checks']['shipped']:8.2f} -> {row['checks']['block_estimate']:8.2f}"
            f"; adopt: {row['adopt']}")
        rows.append(row)
    return {"method": "each block alone moved to the estimate, every other parameter at its shipped value; the same "
                      "settings (sizes, seeds, softness) as the fit, for the targets and for the checks",
            "rule": ADOPTION_RULE, "results": rows}


#: When a block's estimate becomes the model's values (``adoptable``).
ADOPTION_RULE = ("a block's estimate is adopted when, with only that block moved to it, -2 log L of its calibration "
                 "targets falls and the checks its units read get worse by less than the targets improved (the sum "
                 "over both falls)")


def adoptable(row: dict) -> bool:
    """``ADOPTION_RULE`` for one row of ``run_blocks``."""
    gain = row["targets"]["shipped"] - row["targets"]["block_estimate"]
    loss = row["checks"]["block_estimate"] - row["checks"]["shipped"]
    return gain > 0 and loss < gain


def rebase(doc: dict, command: list[str], log=print) -> dict:
    """``doc`` after estimates were adopted as the model's values (or any other change of the
    shipped values that leaves the objective a function of the same parameters): what depends
    on the shipped values is computed again (the breakdowns of the targets, of the checks at
    both points and of the other draw; each row's shipped value and search box; the
    fingerprint), and the rebase is appended to ``provenance.rebased`` with what it adopted.
    The fit, the estimate, the Laplace approximation and the profiles are of the objective,
    which has not changed, and are kept. Refused if the estimate no longer reproduces its
    recorded -2 log L (the objective changed)."""
    from ivigsim.validation import joint

    rows = doc["parameters"]
    estimate = {r["name"]: r["estimate"] for r in rows}
    objective = _recorded_objective(doc)
    recorded = doc["objective"]["estimate"]["total"]
    now = objective.breakdown(estimate).total
    if not math.isclose(now, recorded, rel_tol=1e-6, abs_tol=1e-4):
        raise InputError("--rebase", f"a model whose objective at the recorded estimate is still {recorded:.4f} (run "
                         "--joint again: the model changed beyond its shipped values)", f"{now:.4f}")
    shipped = joint.shipped_values([r["name"] for r in rows])
    adopted = {r["name"]: [r["shipped"], shipped[r["name"]]] for r in rows if shipped[r["name"]] != r["shipped"]}
    for r in rows:
        # The fit searched, and its ensemble was truncated, in the box around the values shipped
        # when it ran: keep that centre and box with the fit (``stored_laplace`` reads them).
        r.setdefault("fit_centre", r["shipped"])
        r["shipped"] = shipped[r["name"]]
    doc["objective"]["shipped"] = objective.breakdown({}).as_dict()
    checks = _recorded_objective(doc, joint.CHECK_TARGETS)  # today's checks, at both points
    doc["checks_out_of_sample"] = {"targets": [t.id for t in joint.CHECK_TARGETS],
                                   "shipped": checks.breakdown({}).as_dict(),
                                   "estimate": checks.breakdown(estimate).as_dict()}
    other = _recorded_objective(doc, seed=doc["common_random_numbers_check"]["seed"])
    doc["common_random_numbers_check"]["shipped_total"] = other.breakdown({}).total
    doc["fingerprint"] = joint.fingerprint()
    doc["provenance"]["rebased"] = [*doc["provenance"].get("rebased", []),  # every adoption since the fit
                                    {**provenance(command, 0.0), "adopted": adopted}]
    log(f"adopted: {json.dumps(adopted)}; -2 log L at the shipped values now "
        f"{doc['objective']['shipped']['total']:.3f} (estimate {recorded:.3f}); checks "
        f"{doc['checks_out_of_sample']['shipped']['total']:.3f} (estimate {doc['checks_out_of_sample']['estimate']['total']:.3f})")
    return doc


def parse_start(text: str | None) -> dict[str, float] | None:
    """``--start``: a JSON object of parameter values (None: start from the shipped values)."""
    if text is None:
        return None
    try:
        values = json.loads(text)
        if not isinstance(values, dict) or not values:
            raise ValueError
        out = {str(k): float(v) for k, v in values.items()}
        if not all(math.isfinite(v) for v in out.values()):
            raise ValueError
        return out
    except (ValueError, TypeError):
        raise InputError("--start", 'a JSON object of parameter values, e.g. {"fcrn_km_g_per_L": 50}',
                         text[:80]) from None


def parse_softness(text: str | None) -> float | None:
    """``--softness``: a share of each threshold in [0, 1) (None: ``joint.SOFTNESS``)."""
    from ivigsim.trial.endpoints import check_softness

    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        raise InputError("--softness", "a share of the threshold in [0, 1), e.g. 0.05 (0: hard criteria)",
                         text) from None
    return check_softness(value, "--softness")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m ivigsim.validation.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--joint", action="store_true", help="fit the parameters jointly to every calibration target")
    parser.add_argument("--parameters", default="", help="comma-separated names (default: every 'calibrated' parameter)")
    parser.add_argument("--fast", action="store_true", help="trials at 300 patients per arm (as validate --fast)")
    parser.add_argument("--seed", type=int, default=None, help="every trial's seed (default: each file's own)")
    parser.add_argument("--size-ratio", type=float, default=0.5,
                        help="without --fast: Monte Carlo SE at most this share of each target's published SD")
    parser.add_argument("--ensemble", type=int, default=200, help="parameter vectors drawn from the Laplace posterior")
    parser.add_argument("--step", type=float, default=0.05, help="Jacobian step on the fitting scale")
    parser.add_argument("--hessian-step", type=float, default=0.1, help="Hessian step on the fitting scale")
    parser.add_argument("--max-iterations", type=int, default=40)
    parser.add_argument("--crn-seed", type=int, default=1, help="another seed to re-evaluate both points with")
    parser.add_argument("--softness", default=None,
                        help="soft criteria in the trials' rates: the logistic's scale as a share of each threshold, "
                             "in [0, 1) (default 0.05; 0: hard, as validate)")
    parser.add_argument("--profile", default=None, metavar="NAMES",
                        help="profile likelihoods of these fitted parameters (comma-separated, or 'all') around the "
                             "estimate in --out, stored in it (run --joint first)")
    parser.add_argument("--refit-shared", action="store_true",
                        help="with --profile: re-fit the shared parameters too at each grid value (slower)")
    parser.add_argument("--start", default=None, metavar="JSON",
                        help="start the fit from these values (a JSON object, e.g. an earlier run's logged estimate)")
    parser.add_argument("--by-block", action="store_true",
                        help="each block of fitted parameters moved alone to the estimate in --out: its targets and "
                             "checks (-2 log L), stored in it (run --joint first)")
    parser.add_argument("--rebase", action="store_true",
                        help="after adopting estimates as the model's values: recompute what depends on the shipped "
                             "values in --out (breakdowns, fingerprint), keeping the fit, Laplace and profiles")
    parser.add_argument("--importance", action="store_true",
                        help="the exact -2 log L at each ensemble vector in --out and their importance weights: how "
                             "well the Laplace normal describes the posterior, stored in it (run --joint first)")
    parser.add_argument("--out", type=Path, default=JOINT_FILE)
    args = parser.parse_args(argv)
    if args.rebase:
        return _rebase_main(args, argv)
    if args.profile is not None:
        return _profile_main(args, argv)
    if args.by_block:
        return _by_block_main(args)
    if args.importance:
        return _importance_main(args, argv)
    if not args.joint:
        from ivigsim.model.diseases import IGG_CORE_VARIABILITY

        km = calibrate_fcrn_km()
        print(f"fcrn_km_g_per_L = {km:.2f} g/L (shipped: {core_model().parameter('fcrn_km_g_per_L').value})")
        cv = calibrate_plasma_volume_cv()
        print(f"between-patient CV of plasma_volume_L_per_kg = {cv:.3f} (shipped: "
              f"{IGG_CORE_VARIABILITY['plasma_volume_L_per_kg']})")
        return 0
    log = lambda text: print(text, flush=True)  # noqa: E731
    names = [n.strip() for n in args.parameters.split(",") if n.strip()] or None
    try:  # bad input is one line and exit status 2, as in the ivigsim command
        softness = parse_softness(args.softness)
        start = parse_start(args.start)
        doc = run_joint(names, fast=args.fast, seed=args.seed, size_ratio=args.size_ratio, ensemble=args.ensemble,
                        step=args.step, hessian_step=args.hessian_step, max_iterations=args.max_iterations,
                        crn_seed=args.crn_seed, command=["python -m ivigsim.validation.calibrate", *argv], log=log,
                        softness=softness, start=start)
    except IvigsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _write_result(args.out, doc)
    log(f"-2 log L: {doc['objective']['shipped']['total']:.3f} at the shipped values -> "
        f"{doc['objective']['estimate']['total']:.3f} at the estimate; written to {args.out}")
    for r in doc["parameters"]:
        log(f"  {r['name']:38s} {r['shipped']:10.4g} -> {r['estimate']:10.4g}  95 % [{r['lower95']:.4g}, "
            f"{r['upper95']:.4g}]  identified: {r['identified']}" + ("  (at the search box's edge)" if r["at_box_edge"] else ""))
    return 0


def _read_result(path: Path) -> dict:
    """A joint calibration's JSON file, for the options that act on one (refused in one line if absent)."""
    if not path.is_file():
        raise InputError("--out", "a joint calibration's JSON file (run --joint first)", str(path))
    return json.loads(path.read_text())


def _write_result(path: Path, doc: dict) -> None:
    """Written whole or not at all: a part file renamed over the target."""
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(_finite(doc), indent=1, default=_json_default) + "\n")
    tmp.replace(path)


def _rebase_main(args, argv: list[str]) -> int:
    try:
        doc = rebase(_read_result(args.out), ["python -m ivigsim.validation.calibrate", *argv])
    except IvigsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _write_result(args.out, doc)
    return 0


def _by_block_main(args) -> int:
    try:
        doc = _read_result(args.out)
        doc["by_block"] = run_blocks(doc)
    except IvigsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _write_result(args.out, doc)
    return 0


def _importance_main(args, argv: list[str]) -> int:
    log = lambda text: print(text, flush=True)  # noqa: E731
    try:
        doc = _read_result(args.out)
        doc["importance"] = run_importance(doc, command=["python -m ivigsim.validation.calibrate", *argv], log=log)
    except IvigsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _write_result(args.out, doc)
    return 0


def _profile_main(args, argv: list[str]) -> int:
    log = lambda text: print(text, flush=True)  # noqa: E731
    names = None if args.profile.strip() in ("", "all") else [n.strip() for n in args.profile.split(",") if n.strip()]
    try:
        doc = _read_result(args.out)
        section = run_profiles(doc, names, command=["python -m ivigsim.validation.calibrate", *argv],
                               refit_shared=args.refit_shared, log=log)
    except IvigsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Profiles run in several calls add up (one disease at a time): earlier results of other
    # parameters, computed the same way, are kept; the list follows the parameters' order.
    earlier = doc.get("profiles", {})
    new_names = {r["name"] for r in section["results"]}
    order = [p["name"] for p in doc["parameters"]]
    kept = [r for r in earlier.get("results", []) if r["name"] in order and r["name"] not in new_names
            and earlier.get("refit_shared") == section["refit_shared"]]
    section["results"] = sorted(kept + section["results"], key=lambda r: order.index(r["name"]))
    doc["profiles"] = section
    _write_result(args.out, doc)
    for r in section["results"]:
        lo = "unbounded" if r["lower95"] is None else f"{r['lower95']:.4g}"
        hi = "unbounded" if r["upper95"] is None else f"{r['upper95']:.4g}"
        log(f"  {r['name']:38s} {r['estimate']:10.4g}  profile 95 % [{lo}, {hi}]  identified: {r['identified']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
