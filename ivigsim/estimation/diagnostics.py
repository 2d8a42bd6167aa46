"""Residuals of a fit, per record, in the columns pharmacometric tools write.

===========  ===========================================================================
column       meaning
===========  ===========================================================================
``PRED``     prediction for the typical patient with the subject's covariates (eta = 0)
``RES``      DV - PRED
``IPRED``    prediction at the subject's posterior mode
``IRES``     DV - IPRED
``IWRES``    (DV - IPRED) / SD(IPRED): the residual-error model's SD at the prediction
``WRES``     NONMEM's first-order weighted residual: the subject's residuals DV - PRED
             decorrelated by the Cholesky factor of their first-order covariance
             C = J Omega J' + R(PRED), J the sensitivities d PRED / d eta at eta = 0
``CWRES``    conditional weighted residual (Hooker et al. 2007, Pharm Res 24:2187): the
             same, linearised at the posterior mode: DV - IPRED + J eta against
             C = J Omega J' + R(IPRED), J at the mode
===========  ===========================================================================

Under the log-normal error model every residual is computed on the log scale (RES and
IRES stay on the original scale). Prediction records without a DV get PRED and IPRED only.
"""

from __future__ import annotations

import numpy as np

from ivigsim.estimation.individual import GRADIENT_STEP, IndividualFit, SubjectPosterior


def _sensitivities(posterior: SubjectPosterior, eta: np.ndarray) -> np.ndarray:
    """d prediction / d eta at every record (n_records, d), central differences in one batch."""
    d = len(eta)
    step = GRADIENT_STEP * 10  # predictions are smooth; a larger step keeps solver noise out
    stencil = np.vstack([eta + step * np.eye(d), eta - step * np.eye(d)])
    predictions, _ = posterior.predict(stencil)
    return ((predictions[:d] - predictions[d:]) / (2 * step)).T


def _weighted(posterior: SubjectPosterior, residual: np.ndarray, at: np.ndarray, jac: np.ndarray) -> np.ndarray:
    """Residuals of the observed records decorrelated by their first-order covariance."""
    subject = posterior.subject
    observed = [k for k, r in enumerate(subject.records) if r.dv is not None]
    if not observed:
        return np.zeros(0)
    omega2 = np.diag(posterior.omegas ** 2)
    r_var = np.empty(len(observed))
    j = np.empty((len(observed), jac.shape[1]))
    for n, k in enumerate(observed):
        error = posterior.errors[subject.records[k].output]
        r_var[n] = error.sd(np.array([at[k]]))[0] ** 2
        # On the log scale the sensitivity of log f is (d f) / f.
        j[n] = jac[k] / at[k] if error.log_scale else jac[k]
    covariance = j @ omega2 @ j.T + np.diag(r_var)
    try:
        factor = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        return np.full(len(observed), np.nan)
    return np.linalg.solve(factor, residual)


def residual_columns(posterior: SubjectPosterior, fit: IndividualFit) -> dict[str, np.ndarray]:
    """PRED, IPRED, IWRES, WRES and CWRES at the subject's records (NaN where not defined).
    RES and IRES are written by the dataset writer (``ivigsim.io.nonmem.fill_columns``)."""
    subject = posterior.subject
    n = len(subject.records)
    out = {name: np.full(n, np.nan) for name in ("IWRES", "WRES", "CWRES")}
    out["PRED"], out["IPRED"] = fit.pred.copy(), fit.ipred.copy()
    observed = np.array([k for k, r in enumerate(subject.records) if r.dv is not None], dtype=int)
    if observed.size == 0:
        return out
    transformed = {}
    for name, at in (("PRED", fit.pred), ("IPRED", fit.ipred)):
        values = np.empty(observed.size)
        for m, k in enumerate(observed):
            error = posterior.errors[subject.records[k].output]
            values[m] = error.transform(np.array([at[k]]))[0]
        transformed[name] = values
    dv = np.array([posterior.errors[subject.records[k].output].transform(np.array([subject.records[k].dv]))[0]
                   for k in observed])
    for m, k in enumerate(observed):
        error = posterior.errors[subject.records[k].output]
        out["IWRES"][k] = (dv[m] - transformed["IPRED"][m]) / error.sd(np.array([fit.ipred[k]]))[0]
    jac0 = _sensitivities(posterior, np.zeros_like(fit.eta))
    out["WRES"][observed] = _weighted(posterior, dv - transformed["PRED"], fit.pred, jac0)
    jac = _sensitivities(posterior, fit.eta)
    scaled = np.array([jac[k] / fit.ipred[k] if posterior.errors[subject.records[k].output].log_scale else jac[k]
                       for k in observed])
    out["CWRES"][observed] = _weighted(posterior, dv - transformed["IPRED"] + scaled @ fit.eta, fit.ipred, jac)
    return out
