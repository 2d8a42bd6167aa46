"""Reproduce the PK core's fitted parameter (run: ``python -m ivigsim.validation.calibrate``).

``fcrn_km_g_per_L`` is the one parameter fitted exactly: it is solved (Brent's method)
so that the rise in total IgG 14 days after 0.4 g/kg/day x 5 equals Kuitwaard 2009's
mean of 7.8 g/L, in the typical GBS patient (``ivigsim.validation.pk.gbs_delta_igg_day14``).
Its lower bound keeps FcRn rescue below 100 % at vanishing IgG.
"""

from __future__ import annotations

from scipy.optimize import brentq

from ivigsim.model.library import core_model
from ivigsim.validation.pk import gbs_delta_igg_day14
from ivigsim.validation.targets import PK_TARGETS


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


if __name__ == "__main__":  # pragma: no cover
    print(f"fcrn_km_g_per_L = {calibrate_fcrn_km():.2f} g/L (shipped: {core_model().parameter('fcrn_km_g_per_L').value})")
