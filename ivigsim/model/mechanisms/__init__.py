"""IVIG's mechanisms of action, one module each (FcRn saturation lives in ``model/fcrn.py``).

Every mechanism has a strength parameter ``<name>_strength`` (1 as calibrated, 0 off)
and acts on the shared immune state (``model/immune.py``) or on the autoantibody.
Its effect is driven by the IVIG-derived IgG in plasma, ``igg_ivig_g_per_L``.
"""
