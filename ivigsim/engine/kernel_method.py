"""The compiled kernel's method codes: the one place the integers the kernel branches on
are named. ``engine/compiled.py`` passes the code of the solver value it is; the code
generator emits the same names into the kernel's source (``AUTO``, ``EXPLICIT``, ``STIFF``)."""

from __future__ import annotations

from enum import IntEnum


class KernelMethod(IntEnum):
    AUTO = 0  # Dormand-Prince, switching a patient to Rodas4 when stiff (``Auto``)
    EXPLICIT = 1  # Dormand-Prince only (``CompiledDopri5``)
    STIFF = 2  # Rodas4 only (``Rodas4``)
