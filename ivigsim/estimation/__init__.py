"""Estimation: fit the model to observed data, with uncertainty.

- ``residual``: the residual-error models (additive, proportional, combined, log-normal);
- ``priors``: priors on the parameters a user estimates, from the disease's declared
  between-subject variability or given by the user;
- ``individual``: the maximum a posteriori fit of one subject, its Laplace approximation,
  and MCMC samples of its posterior (emcee);
- ``forecast``: what the next dose does for a fitted subject, and the dose that keeps an
  output above (or below) a target.
- ``nlme``: population estimation, typical values and between-subject variability
  (omega), by a hierarchical model that PyMC samples (NUTS), the likelihood of all
  subjects one engine batch.

Every evaluation goes through ``ivigsim.subjects.SubjectSetup``: many parameter vectors of
one subject are solved in one call of the compiled engine (a finite-difference stencil,
an MCMC ensemble, a set of posterior draws).
"""
