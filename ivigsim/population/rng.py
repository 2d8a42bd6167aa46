"""A counter-based random stream: patient *i*'s numbers depend on (seed, stream, i) only.

Virtual patients must be the same whatever the chunking, the number of workers or
the machine. A sequential generator cannot promise that (patient 1,000 would depend
on how many numbers patients 0-999 drew), so every number here is a pure function
of a counter, in the manner of Salmon et al.'s counter-based generators (Philox,
Threefry; "Parallel random numbers: as easy as 1, 2, 3", SC'11):

    u(seed, stream, patient, k) = mix64(key(seed, stream) + GAMMA * (patient * 2**16 + k))

``mix64`` is SplitMix64's output function (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014): the sequence mix64(key + GAMMA * n)
for n = 0, 1, 2, ... is exactly SplitMix64, which passes BigCrush. A patient owns the
counters ``patient * 2**16 .. patient * 2**16 + 65535``, so draws of different patients
never overlap; ``stream`` (a name such as ``"covariates"`` or ``"arm:2/eta"``) selects an
independent key, hashed with BLAKE2 so it is stable across Python runs and machines.
Normal deviates come from the inverse normal CDF (``scipy.special.ndtri``) of the
uniforms: one uniform per normal, no rejection, so the count of draws is fixed.
Everything is vectorised over patients.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.special import ndtri

from ivigsim.errors import InputError

#: The golden-ratio increment of SplitMix64.
GAMMA = np.uint64(0x9E3779B97F4A7C15)
#: Counters per patient: at most this many numbers per patient per stream.
DRAWS_PER_PATIENT = 1 << 16
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
MAX_SEED = 2**63 - 1


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (a bijection on 64-bit integers with full avalanche)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        raise InputError("seed", f"a whole number from 0 to {MAX_SEED}", seed)
    return int(seed)


class CounterRNG:
    """Uniform and normal numbers addressed by (stream, patient, draw index).

    >>> rng = CounterRNG(7)
    >>> a = rng.uniform("demo", np.array([5, 6]), 3)
    >>> b = rng.uniform("demo", np.array([6]), 3)
    >>> bool((a[1] == b[0]).all())   # patient 6 is patient 6, whoever else is drawn
    True
    """

    def __init__(self, seed: int) -> None:
        self.seed = check_seed(seed)

    def key(self, stream: str) -> np.uint64:
        digest = hashlib.blake2b(f"{self.seed}/{stream}".encode(), digest_size=8).digest()
        return np.uint64(int.from_bytes(digest, "little"))

    def bits(self, stream: str, patients: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
        """64-bit integers, shape (len(patients), n): draws ``offset .. offset + n - 1``."""
        patients = np.asarray(patients, dtype=np.int64)
        if offset < 0 or offset + n > DRAWS_PER_PATIENT:
            raise ValueError(f"at most {DRAWS_PER_PATIENT} draws per patient and stream")
        if patients.size and (patients.min() < 0 or patients.max() >= 2**46):
            raise ValueError("patient indices must be in [0, 2**46)")
        counters = (patients.astype(np.uint64)[:, None] << np.uint64(16)) + np.arange(
            offset, offset + n, dtype=np.uint64)[None, :]
        with np.errstate(over="ignore"):
            return mix64(self.key(stream) + GAMMA * counters)

    def uniform(self, stream: str, patients: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
        """Uniforms in the open interval (0, 1): the top 53 bits, centred in their cell."""
        top = self.bits(stream, patients, n, offset) >> np.uint64(11)
        return (top.astype(np.float64) + 0.5) * 2.0**-53

    def normal(self, stream: str, patients: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
        """Standard normal deviates by inversion."""
        return ndtri(self.uniform(stream, patients, n, offset))
