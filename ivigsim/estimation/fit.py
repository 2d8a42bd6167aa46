"""Fit every subject of a dataset: the library's entry point for individual estimation.

>>> # doctest: +SKIP
>>> from ivigsim.io.nonmem import read_dataset
>>> from ivigsim.estimation.fit import fit_dataset
>>> result = fit_dataset(read_dataset("patient.csv", "d", "g"), ["baseline_igg_g_per_L", "fcrn_igk"])
>>> result.fits[0].estimate, result.fits[0].lower, result.fits[0].upper
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ivigsim.errors import InputError
from ivigsim.estimation.diagnostics import residual_columns
from ivigsim.estimation.individual import FIT_SOLVER, IndividualFit, SubjectPosterior, fit_subject
from ivigsim.estimation.priors import Prior, build_priors
from ivigsim.estimation.residual import DEFAULT_ERRORS, ResidualError
from ivigsim.model.library import get_disease
from ivigsim.subjects import Subject, SubjectSetup


@dataclass(frozen=True)
class DatasetFit:
    """Every subject's fit, with the setup and posteriors that produced it."""

    setup: SubjectSetup
    priors: tuple[Prior, ...]
    errors: Mapping[str, ResidualError]
    posteriors: tuple[SubjectPosterior, ...]
    fits: tuple[IndividualFit, ...]

    def columns(self, n_rows: int) -> dict[str, np.ndarray]:
        """PRED, IPRED, IWRES, WRES, CWRES per dataset row (NaN on doses and unobserved rows)."""
        out: dict[str, np.ndarray] = {}
        for posterior, fit in zip(self.posteriors, self.fits):
            for name, values in residual_columns(posterior, fit).items():
                column = out.setdefault(name, np.full(n_rows, np.nan))
                for record, value in zip(posterior.subject.records, values):
                    column[record.row] = value
        return out

    def fit_of(self, subject_id: str) -> tuple[SubjectPosterior, IndividualFit]:
        for posterior, fit in zip(self.posteriors, self.fits):
            if fit.subject_id == subject_id:
                return posterior, fit
        raise InputError("id", f"a subject of the dataset ({', '.join(f.subject_id for f in self.fits)})", subject_id)


def resolve_errors(outputs: Sequence[str], given: Mapping[str, ResidualError] | None) -> dict[str, ResidualError]:
    """The error model of each observed output: the user's, else the declared default."""
    given = dict(given or {})
    for output in given:
        if output not in outputs:
            raise InputError("error", f"an output the data observe ({', '.join(outputs) or 'none'})", output)
    errors = {}
    for output in outputs:
        if output in given:
            errors[output] = given[output]
        elif output in DEFAULT_ERRORS:
            errors[output] = DEFAULT_ERRORS[output][0]
        else:
            raise InputError("error", f"an error model for output {output}, which has no declared default "
                             f"(--error {output}=lognormal:0.3, additive:SD, proportional:CV or combined:SD,CV)",
                             "none")
    return errors


def fit_dataset(
    subjects_or_dataset,
    estimate: Sequence[str],
    *,
    disease: str | None = None,
    parameters: Mapping[str, float] | None = None,
    mechanisms: Mapping[str, bool | float] | None = None,
    priors: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    errors: Mapping[str, ResidualError] | None = None,
    level: float = 0.9,
    mcmc_samples: int | None = None,
    seed: int = 0,
    progress=None,
) -> DatasetFit:
    """MAP, Laplace intervals (and MCMC samples on request) for every subject.

    ``subjects_or_dataset``: a ``NonmemDataset`` or a sequence of ``Subject``;
    ``estimate``: the parameters fitted per subject; ``priors``: spreads (CV, or omega for
    shares) replacing or supplying the disease's declared variability; ``bounds``:
    narrower bounds on values; ``errors``: error models by output (default: the declared
    ones, ``ivigsim.estimation.residual.DEFAULT_ERRORS``).
    """
    subjects: Sequence[Subject] = getattr(subjects_or_dataset, "subjects", subjects_or_dataset)
    source = getattr(subjects_or_dataset, "source", "dataset")
    if mcmc_samples is not None and mcmc_samples < 1:
        raise InputError("mcmc", "a number of MCMC samples >= 1", mcmc_samples)
    setup = SubjectSetup.create(subjects, disease, parameters=parameters, mechanisms=mechanisms,
                                solver=FIT_SOLVER, source=source)
    if not any(s.observations for s in setup.subjects):
        raise InputError(source, "at least one observation (an EVID 0 record with a DV and MDV 0)",
                         "no observed DV in any record")
    observed = tuple(o for o in setup.model.model.output_names
                     if any(r.output == o for s in setup.subjects for r in s.observations))
    resolved = resolve_errors(observed, errors)
    built = build_priors(setup.model.model, get_disease(disease), list(estimate), priors, bounds)
    posteriors = tuple(SubjectPosterior(setup, i, built, resolved) for i in range(len(setup.subjects)))
    fits = []
    for posterior in posteriors:
        fits.append(fit_subject(posterior, level=level, mcmc_samples=mcmc_samples, seed=seed))
        if progress is not None:
            progress(posterior.subject)
    return DatasetFit(setup, built, resolved, posteriors, tuple(fits))
