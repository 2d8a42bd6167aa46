"""The integration methods as data: a Butcher tableau and a Rosenbrock tableau.

Each method's coefficients are written once, here. The NumPy solver (``engine/solver.py``)
reads them as Python floats; the code generator (``engine/codegen.py``) emits them into
the compiled kernel as constants spelled with ``repr``, which gives back the same
doubles, so both solvers step with bit-identical coefficients. The layout follows diffrax's
``ButcherTableau`` (``c`` without its leading zero, ``a_lower`` the rows below the diagonal,
``b_sol`` the solution's weights, ``b_error`` the weights of the local error estimate).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge-Kutta pair with a continuous extension.

    Stage ``i`` (from 0) is ``k_i = f(t + c_i h, y + h sum_j a_ij k_j)``, ``c_0 = 0``;
    ``c`` holds ``c_1..c_{s-1}`` and ``a_lower[i - 1]`` holds ``a_i0..a_i,i-1``. The
    solution is ``y + h sum_j b_sol_j k_j``; the local error ``h sum_j b_error_j k_j``.
    ``dense[j]`` are the coefficients of stage ``j`` in the continuous extension:
    ``y(t + x h) = y + h sum_j k_j sum_m dense[j][m] x^(m+1)``.
    """

    c: tuple[float, ...]
    a_lower: tuple[tuple[float, ...], ...]
    b_sol: tuple[float, ...]
    b_error: tuple[float, ...]
    dense: tuple[tuple[float, ...], ...]
    order: int

    def __post_init__(self) -> None:
        stages = len(self.b_sol)
        assert len(self.c) == len(self.a_lower) == stages - 1
        assert all(len(row) == i + 1 for i, row in enumerate(self.a_lower))
        assert len(self.b_error) == len(self.dense) == stages

    @property
    def fsal(self) -> bool:
        """First same as last: the last stage is evaluated at the solution (its row is b_sol)."""
        return self.c[-1] == 1.0 and self.a_lower[-1] == self.b_sol[:-1] and self.b_sol[-1] == 0.0


@dataclass(frozen=True)
class RosenbrockTableau:
    """A Rosenbrock method in the W-transformed form of Hairer & Wanner's ``rodas.f``:
    ``(I / (h gamma) - J) K_i = f(t + alpha_i h, y + sum_j a_ij K_j) + sum_j c_ij / h K_j
    + h gamma_i f_t``; the solution is ``y + sum_j m_sol_j K_j``. ``a_lower`` and ``c_lower``
    hold the strictly lower triangles row by row (stage 1's row first). Stiffly accurate
    methods estimate the error by their last stage (``error_stage``). ``dense`` (two rows of
    stage weights) is the method's own continuous extension (rodas.f's ``CONTRO``):
    ``y(t + x h) = (1 - x) y + x (y_new + (1 - x) (D1 + x D2))`` with ``D_r = sum_j dense[r][j] K_j``."""

    gamma: float
    alpha: tuple[float, ...]
    gamma_i: tuple[float, ...]
    a_lower: tuple[float, ...]
    c_lower: tuple[float, ...]
    m_sol: tuple[float, ...]
    error_stage: int
    order: int
    dense: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        stages = len(self.alpha)
        pairs = stages * (stages - 1) // 2
        assert len(self.gamma_i) == len(self.m_sol) == stages
        assert all(len(row) == stages for row in self.dense)
        assert len(self.a_lower) == len(self.c_lower) == pairs
        assert 0 <= self.error_stage < stages

    @property
    def stages(self) -> int:
        return len(self.alpha)


#: Dormand & Prince (1980), as in Hairer, Norsett & Wanner, Solving ODEs I, Table 5.2, with
#: Shampine's (1986) free 4th-order continuous extension (the coefficients scipy's RK45 uses).
DOPRI5 = ButcherTableau(
    c=(1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0),
    a_lower=(
        (1.0 / 5.0,),
        (3.0 / 40.0, 9.0 / 40.0),
        (44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0),
        (19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0),
        (9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0),
        (35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0),
    ),
    b_sol=(35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0, 0.0),
    # 5th-order weights minus the embedded 4th-order weights.
    b_error=(71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0,
             -1.0 / 40.0),
    dense=(
        (1.0, -8048581381.0 / 2820520608.0, 8663915743.0 / 2820520608.0, -12715105075.0 / 11282082432.0),
        (0.0, 0.0, 0.0, 0.0),
        (0.0, 131558114200.0 / 32700410799.0, -68118460800.0 / 10900136933.0, 87487479700.0 / 32700410799.0),
        (0.0, -1754552775.0 / 470086768.0, 14199869525.0 / 1410260304.0, -10690763975.0 / 1880347072.0),
        (0.0, 127303824393.0 / 49829197408.0, -318862633887.0 / 49829197408.0, 701980252875.0 / 199316789632.0),
        (0.0, -282668133.0 / 205662961.0, 2019193451.0 / 616988883.0, -1453857185.0 / 822651844.0),
        (0.0, 40617522.0 / 29380423.0, -110615467.0 / 29380423.0, 69997945.0 / 29380423.0),
    ),
    order=5,
)

#: Rodas4 (Hairer & Wanner, Solving ODEs II, s.IV.7: L-stable, stiffly accurate, order 4(3));
#: the W-transformed coefficients of ``rodas.f``.
RODAS4 = RosenbrockTableau(
    gamma=0.25,
    alpha=(0.0, 0.386, 0.210, 0.630, 1.0, 1.0),
    gamma_i=(0.25, -0.1043, 0.1035, -0.3620000000000023e-01, 0.0, 0.0),
    a_lower=(
        0.1544000000000000e+01,
        0.9466785280815826, 0.2557011698983284,
        0.3314825187068521e+01, 0.2896124015972201e+01, 0.9986419139977817,
        0.1221224509226641e+01, 0.6019134481288629e+01, 0.1253708332932087e+02, -0.6878860361058950,
        0.1221224509226641e+01, 0.6019134481288629e+01, 0.1253708332932087e+02, -0.6878860361058950, 1.0,
    ),
    c_lower=(
        -0.5668800000000000e+01,
        -0.2430093356833875e+01, -0.2063599157091915,
        -0.1073529058151375, -0.9594562251023355e+01, -0.2047028614809616e+02,
        0.7496443313967647e+01, -0.1024680431464352e+02, -0.3399990352819905e+02, 0.1170890893206160e+02,
        0.8083246795921522e+01, -0.7981132988064893e+01, -0.3152159432874371e+02, 0.1631930543123136e+02,
        -0.6058818238834054e+01,
    ),
    m_sol=(0.1221224509226641e+01, 0.6019134481288629e+01, 0.1253708332932087e+02, -0.6878860361058950, 1.0, 1.0),
    error_stage=5,
    order=4,
    # rodas.f's D21..D25 and D31..D35.
    dense=((0.1012623508344586e+02, -0.7487995877610167e+01, -0.3480091861555747e+02, -0.7992771707568823e+01,
            0.1025137723295662e+01, 0.0),
           (-0.6762803392801253, 0.6087714651680015e+01, 0.1643084320892478e+02, 0.2476722511418386e+02,
            -0.6594389125716872e+01, 0.0)),
)

#: Rodas4P2 (Steinebach 2020, "Improvement of Rosenbrock-Wanner method RODASP", Progress in
#: Differential-Algebraic Equations II, 165-184): Rodas4's structure (6 stages, gamma 1/4,
#: L-stable, stiffly accurate, order 4(3), the last stage the error estimate) with coefficients
#: chosen so that the order does not drop on stiff problems whose fast components follow slow
#: ones (the Prothero-Robinson test; index-1 DAEs), where Rodas4 falls to order 3 and its
#: error estimate overstates the error. The coefficients and the continuous extension are
#: those of OrdinaryDiffEq.jl's ``RODAS4P2`` tables (15 digits). Checked when adopted: global
#: order 4.0 and error-estimate order 4 (local) on a non-autonomous non-linear test problem with
#: the exact Jacobian, R(z) -> 0 as z -> -inf and |R(iy)| <= 1, and the continuous extension's
#: local error of order 4 at mid-step (as Rodas4's).
RODAS4P2 = RosenbrockTableau(
    gamma=0.25,
    alpha=(0.0, 0.75, 0.321448134013046, 0.519745732277726, 1.0, 1.0),
    gamma_i=(0.25, -0.5, -0.189532918363016, 0.085612108792769, 0.0, 0.0),
    a_lower=(
        3.0,
        0.906377755268814, -0.189707390391685,
        3.758617027739064, 1.161741776019525, -0.849258085312803,
        7.089566927282776, 4.573591406461604, -8.423496976860259, -0.959280113459775,
        7.089566927282776, 4.573591406461604, -8.423496976860259, -0.959280113459775, 1.0,
    ),
    c_lower=(
        -12.0,
        -6.354581592719008, 0.338972550544623,
        -8.575016317114033, -7.606483992117508, 12.22499765012482,
        -5.888975457523102, -8.157396617841821, 24.805546872612922, 12.790401512796979,
        -4.408651676063871, -6.692003137674639, 24.625568527593117, 16.627521966636085, -5.714285714285718,
    ),
    m_sol=(7.089566927282776, 4.573591406461604, -8.423496976860259, -0.959280113459775, 1.0, 1.0),
    error_stage=5,
    order=4,
    dense=((-5.323528268423303, -10.042123754867493, 17.175254928256965, -5.079931171878093, -0.016185991706112, 0.0),
           (6.984505741529879, 6.914061169603662, -0.849178943070653, 18.104410789349338, -3.516963011559032, 0.0)),
)
