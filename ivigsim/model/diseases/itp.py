"""Immune thrombocytopenia (ITP): antibody-coated platelets cleared by macrophages.

Platelets are made by megakaryocytes and removed two ways: by senescence (a lifespan
of about 10 days) and by splenic and hepatic macrophages that phagocytose platelets
coated with autoantibody through their activating Fc-gamma receptors:

    dP/dt = production x M - P / lifespan - k_destroy x opsonisation x clearance x P
    opsonisation = free autoantibody relative to baseline
    clearance    = (share of Fc-gamma receptors not blocked by IVIG) ** n

Phagocytosis needs several receptors engaged at once (a threshold of cross-linking),
so clearance falls faster than the free receptor share: the exponent ``n`` expresses
that cooperativity. ``k_destroy`` is whatever holds the patient at their own
pretreatment count, so the baseline count is a patient characteristic (inclusion
criteria act on it).

Platelet output ``M`` (1 before treatment) follows thrombopoietin with the delay of
megakaryocyte maturation. Thrombopoietin is made at a constant rate and cleared by
the receptors of platelets and megakaryocytes, so it falls as the platelet mass rises:

    TPO / TPO_before = (P_before / P_normal + m) / (P / P_normal + m)
    dM/dt = (TPO / TPO_before - M) / maturation

This homeostatic loop is why a rise bought by blocking clearance peaks within about a
week and recedes before the blockade is gone. IVIG raises platelets fast through
Fc-receptor blockade (Fehr 1982: platelets normal within 4-5 days) and more slowly through lower
autoantibody (FcRn saturation, B-cell inhibition, anti-idiotypes).

Readout: ``platelets_1e9_per_L``; response as in the trials (>= 50 by day 7, Robak
2009; > 80 and >= 2x baseline on day 4, Godeau 1999).
"""

from __future__ import annotations

from types import MappingProxyType

from ivigsim.model.declaration import Assignment, Flux, Module, Parameter, State
from ivigsim.model.diseases import Disease, Readout, Threshold

_TEXTBOOK = "assumption: textbook physiology (normal count about 250 x 10^9/L, lifespan 8-10 days)"

ITP_MODULE = Module(
    name="itp",
    title="Immune thrombocytopenia",
    description=__doc__ or "",
    parameters=(
        Parameter("platelet_baseline_1e9_per_L", 15.0, "10^9/L", "baseline",
                  "patient characteristic: pretreatment platelet count (default: the chronic ITP "
                  "population of Robak 2009, <= 20)", (1.0, 400.0), "platelet count before treatment"),
        Parameter("platelet_normal_1e9_per_L", 250.0, "10^9/L", "assumption", _TEXTBOOK, (100.0, 450.0),
                  "platelet count without autoimmune destruction"),
        Parameter("platelet_lifespan_days", 10.0, "day", "assumption", _TEXTBOOK, (5.0, 12.0),
                  "platelet survival without antibody"),
        Parameter("platelet_production_fraction", 3.5, "dimensionless", "calibrated",
                  "platelet turnover raised in ITP on average (marrow compensation), lowered in some "
                  "patients by antibodies to megakaryocytes (between-subject variability); calibrated "
                  "with the cooperativity to the median count of 149 x 10^9/L on day 8 (Robak 2009 "
                  "time course; docs/calibration.md)", (0.05, 10.0),
                  "platelet production relative to normal"),
        Parameter("megakaryocyte_tpo_share", 0.2, "dimensionless", "calibrated",
                  "calibrated to Robak 2009's median response duration of 15.4 days "
                  "(examples/trials/itp-robak-2009.yaml; docs/calibration.md): with it TPO falls by "
                  "about 70 % as platelets rise from 10 to 150 x 10^9/L",
                  (0.0, 10.0), "thrombopoietin clearance by megakaryocytes relative to a normal platelet mass"),
        Parameter("megakaryocyte_maturation_days", 7.0, "day", "assumption",
                  "assumption: megakaryocyte maturation takes about 5 days and platelet counts rise for "
                  "one to two weeks after a thrombopoietic stimulus: a mean delay of a week", (0.5, 20.0), "delay of platelet output after a TPO change"),
        Parameter("phagocytosis_cooperativity", 9.0, "dimensionless", "calibrated",
                  "calibrated to Robak 2009 (examples/trials/itp-robak-2009.yaml): response (>= 50 x 10^9/L) "
                  "by day 7 inside its 95 % CI 69-89 % and the median count on day 8 within 20 % of 149, "
                  "with Bussel 1983's 3-4 weeks of blockade (docs/calibration.md)", (1.0, 20.0),
                  "exponent of the free Fc-gamma receptor share in macrophage clearance"),
    ),
    states=(State("circulating_platelets_1e9_per_L", "10^9/L", "platelet_baseline_1e9_per_L", "platelet count"),
            State("megakaryopoiesis", "dimensionless", "1", "platelet output relative to before treatment")),
    assignments=(
        Assignment("autoimmune_drive", "1", "dimensionless", "chronic ITP: constant drive"),
        Assignment("inflammatory_drive", "1", "dimensionless"),
        Assignment("complement_drive", "1", "dimensionless"),
        Assignment("platelets_1e9_per_L", "circulating_platelets_1e9_per_L", "10^9/L", "platelet count",
                   output=True),
        Assignment("platelet_production_1e9_per_L_day",
                   "platelet_production_fraction * platelet_normal_1e9_per_L / platelet_lifespan_days",
                   "10^9/L/day", "platelet production before treatment"),
        Assignment("thrombopoietin_fraction_of_baseline",
                   "(platelet_baseline_1e9_per_L / platelet_normal_1e9_per_L + megakaryocyte_tpo_share)"
                   " / (circulating_platelets_1e9_per_L / platelet_normal_1e9_per_L + megakaryocyte_tpo_share)",
                   "dimensionless", "thrombopoietin relative to before treatment (cleared by platelets)",
                   output=True),
        Assignment("platelet_destruction_per_day",
                   "max(platelet_production_1e9_per_L_day / platelet_baseline_1e9_per_L"
                   " - 1 / platelet_lifespan_days, 0)",
                   "1/day", "antibody-mediated clearance that holds the baseline count"),
        Assignment("platelet_clearance_fraction_of_baseline",
                   "autoantibody_fraction_of_baseline * fcgr_activation_fraction ** phagocytosis_cooperativity",
                   "dimensionless", "antibody-mediated platelet clearance relative to before treatment",
                   output=True),
    ),
    fluxes=(
        Flux("platelet_production", "platelet_production_1e9_per_L_day * megakaryopoiesis", None,
             "circulating_platelets_1e9_per_L"),
        Flux("megakaryopoiesis_renewal", "thrombopoietin_fraction_of_baseline / megakaryocyte_maturation_days",
             None, "megakaryopoiesis", "megakaryocyte output following thrombopoietin"),
        Flux("megakaryopoiesis_loss", "megakaryopoiesis / megakaryocyte_maturation_days", "megakaryopoiesis", None),
        Flux("platelet_senescence", "circulating_platelets_1e9_per_L / platelet_lifespan_days",
             "circulating_platelets_1e9_per_L", None),
        Flux("platelet_phagocytosis",
             "platelet_destruction_per_day * platelet_clearance_fraction_of_baseline * circulating_platelets_1e9_per_L",
             "circulating_platelets_1e9_per_L", None, "macrophage clearance of antibody-coated platelets"),
    ),
)

#: The platelet count, with the response thresholds of the adult trials (calibration-targets s.4).
PLATELETS = Readout("platelets_1e9_per_L", "platelet count", (0.0, 1000.0), higher_is_better=True, endpoint_day=7.0,
                    thresholds=(
    Threshold(50.0, "response: >= 50 x 10^9/L (Robak 2009, by day 7)"),
    Threshold(80.0, "response: > 80 x 10^9/L and >= 2x baseline (Godeau 1999, day 4)")))

ITP = Disease(
    name="itp",
    title="Immune thrombocytopenia",
    module=ITP_MODULE,
    indication="itp",
    readouts=(PLATELETS,),
    variability=MappingProxyType({
        "platelet_production_fraction": 0.5,
        "fcgr_kd_g_per_L": 1.0,
    }),
    variability_sources=MappingProxyType({
        "platelet_production_fraction": "assumption: production varies between ITP patients (CV 50 %)",
        "fcgr_kd_g_per_L": "assumption: Fc-receptor blockade varies widely between patients (CV 100 %; "
        "Fc-gamma receptor polymorphisms); with it about one patient in five does not respond",
    }),
)
