"""Scenarios for the robust plan, sampled from the uncertainty every run already measures.

One source of truth: a scenario is drawn from the definitions the replay and the uncertainty
table use, never from numbers of its own (docs/robust.md §2):

* **demand case** — one of ``uncertainty.demand_cases`` (表31 as printed; the 2025 sales rate
  表19 implies, flat; that rate falling ``uncertainty.decline_per_year``), made by
  :func:`model.uncertainty.demand_cases`, equally likely;
* **demand level** — the replay's persistent level L_r = exp(σ_L z_r − σ_L²/2), z equicorrelated
  across regions with ``sim.shock_correlation``, σ_L = ``sim.demand_level_sd``
  (:func:`model.market.demand_level`, the function the replay itself calls);
* **price response** — one of ``uncertainty.price_behaviours`` (deterring −0.5, none 0,
  absorbing +0.5), equally likely. The replay's price index depends on the simulated cycle, so
  it cannot enter a linear programme as it is; it enters as a demand adjustment along a reference
  price path P_ref (the annual mean price index of the deterministic plan's deterministic
  replay): demand × P_ref^(−β), as the replay's demand = base × P^(−β);
* **timing** — the land → presale lag mean ``timing.lag_months_mean``, uniform over
  ``robust.lag_months_mean_range`` (9–18 months, docs/timing.md; the range the sensitivity
  analysis samples), stratified and rounded to the month; the scenario's ready shares and opening
  pipeline are those :func:`model.inputs.build_inputs` derives under that lag.

D_s[r,y] = case_s[r,y] × L_s,r × P_ref[r,y]^(−β_s)   (万m²)

Cases and behaviours are assigned in a balanced design (each case × behaviour pair equally
often, in random order); lags are Latin-hypercube stratified; levels are independent draws. All
from ``robust.seed``. Every scenario has probability 1/n.

:func:`reference_plan` is how a run, progressive hedging (model/robust/ph.py) and the benchmark
(benchmarks/bench_robust.py) all start: the deterministic plan, its price path P_ref and the
nominal inputs, from which :meth:`Reference.sample` draws the scenarios.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from model import market, pipeline, results, uncertainty
from model.config import RunConfig, SolverConfig, with_overrides
from model.data import Dataset
from model.inputs import InputError, ModelInputs, build_inputs, with_targets
from model.solve import PlanModel, Solution

log = logging.getLogger(__name__)

SCENARIO_COLUMNS = [
    "scenario", "probability", "demand_case", "price_behaviour", "price_response",
    "lag_months_mean", "demand_level_city", "demand_level_main_city", "demand_total_10k_m2",
    "demand_final_year_city_10k_m2",
]


@dataclass(frozen=True)
class Scenario:
    """One sampled future: the optimiser's inputs under it, and what was drawn."""

    name: str
    probability: float
    demand_case: str
    price_behaviour: str
    price_response: float  # β, d ln demand / d(−ln price)
    lag_months_mean: float  # land → presale, months
    level: Mapping[str, float]  # region → persistent demand level (mean 1)
    inputs: ModelInputs


def check_settings(settings: RunConfig) -> list[str]:
    """Settings the robust plan cannot use, one line each."""
    problems = []
    if settings.review.enabled:
        problems.append("robust.enabled = true with review.enabled = true: the robust plan "
                        "re-plans from the start; run the mid-term review without +scenario=robust")
    if settings.fixed_plan != "none" or settings.evaluate_only:
        problems.append("robust.enabled = true needs fixed_plan = none and evaluate_only = false: "
                        "a fixed plan has nothing to optimise")
    return problems


@dataclass(frozen=True)
class Reference:
    """What a robust run's scenarios are drawn around: the deterministic plan at the run's own
    demand (``solution``, ``plan``), the annual price index of its deterministic replay
    (``price_index``, P_ref: :func:`reference_price_index`) and the run's inputs with the last
    year's band rows off (``nominal``: :func:`band_rows_replaced`), which every scenario
    shares. ``plan``, ``price_index`` and ``nominal`` are None when the deterministic plan is not
    optimal (``solution.ok`` false)."""

    settings: RunConfig
    ds: Dataset
    solution: Solution
    plan: pd.DataFrame | None = None
    price_index: Mapping[tuple[str, int], float] | None = None
    nominal: ModelInputs | None = None

    def sample(self, n: int | None = None, seed: int | None = None) -> tuple[Scenario, ...]:
        """:func:`sample_scenarios` around this reference: ``n`` (``robust.scenarios``)
        scenarios from ``seed`` (``robust.seed``)."""
        if not self.solution.ok:
            raise ValueError(f"no scenarios: the deterministic plan is not optimal "
                             f"({self.solution.model_status})")
        return sample_scenarios(self.settings, self.ds, self.nominal, self.price_index, n, seed)


def reference_plan(settings: RunConfig, ds: Dataset, inputs: ModelInputs,
                   solver: SolverConfig | None = None) -> Reference:
    """The deterministic plan of ``inputs`` (the optimiser with ``solver``, default
    ``settings.solver``), its price path P_ref and the nominal inputs: the one start of every
    robust run, progressive hedging and the benchmark, so all three draw the same scenarios."""
    det = PlanModel(inputs, solver or settings.solver).solve()
    if not det.ok:
        return Reference(settings, ds, det)
    plan = results.plan_table(inputs, det)
    price = reference_price_index(
        lambda **o: pipeline.replay_plan(settings, ds, inputs, plan, **o), inputs)
    return Reference(settings, ds, det, plan, price, band_rows_replaced(inputs))


def reference_price_index(run_replay, inputs: ModelInputs) -> dict[tuple[str, int], float]:
    """P_ref[r,y]: the annual mean of the replay's price index in deterministic mode (no shocks,
    no level draw, no price response; the index still follows the cycle, docs/replay.md
    "Prices"). ``run_replay(**overrides) -> ReplayResult`` replays the reference plan."""
    result = run_replay(deterministic=True, replications=1)
    index = result.monthly["price_index"][:, 0, :]  # (months, regions)
    ids = list(result.region_ids)
    out = {}
    for i, y in enumerate(result.inputs.years):
        annual = index[12 * i:12 * (i + 1)].mean(axis=0)
        for r in inputs.regions:
            out[(r, y)] = float(annual[ids.index(r)])
    return out


def lag_points(low: float, high: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n lag means, Latin-hypercube stratified over [low, high] and rounded to the month (kept
    inside the range's whole months)."""
    u = (rng.permutation(n) + rng.random(n)) / n
    lags = np.rint(low + (high - low) * u)
    lo, hi = np.ceil(low), np.floor(high)
    return np.clip(lags, lo, hi) if lo <= hi else np.full(n, np.rint(low))


class InputsByLag:
    """The optimiser's inputs under each lag mean (built once per whole month), with the
    nominal run's land caps so that the first stage has one set of bounds."""

    def __init__(self, settings: RunConfig, ds: Dataset, nominal: ModelInputs):
        self.settings, self.ds, self.nominal = settings, ds, nominal
        self._cache: dict[float, ModelInputs] = {}

    def __call__(self, lag: float) -> ModelInputs:
        lag = float(lag)
        if lag not in self._cache:
            if lag == float(self.settings.timing.lag_months_mean):
                built = self.nominal
            else:
                cfg = with_overrides(self.settings, {"timing.lag_months_mean": lag})
                built = build_inputs(cfg, self.ds)
            self._cache[lag] = built
        return self._cache[lag]


def sample_scenarios(settings: RunConfig, ds: Dataset, inputs: ModelInputs,
                     price_index: Mapping[tuple[str, int], float],
                     n: int | None = None, seed: int | None = None) -> tuple[Scenario, ...]:
    """``n`` (``robust.scenarios``) scenarios from ``seed`` (``robust.seed``); see the module
    docstring for what is drawn and how. ``price_index`` is P_ref[r,y]."""
    rob = settings.robust
    n = rob.scenarios if n is None else int(n)
    seed = rob.seed if seed is None else int(seed)
    if n < 1:
        raise InputError([f"robust.scenarios = {n} is not valid; expected at least 1"])
    cases = uncertainty.demand_cases(settings, ds, inputs)
    behaviours = uncertainty.behaviours(settings)
    case_rng, lag_rng, level_rng = (np.random.default_rng(s)
                                    for s in np.random.SeedSequence(seed).spawn(3))
    pairs = list(itertools.product(cases, behaviours))
    order = case_rng.permutation(np.arange(n) % len(pairs))
    lags = lag_points(*rob.lag_months_mean_range, n, lag_rng)
    levels = market.demand_level(level_rng, n, len(inputs.regions), settings.sim.demand_level_sd,
                                 settings.sim.shock_correlation)
    by_lag = InputsByLag(settings, ds, inputs)
    out = []
    for i in range(n):
        case, behaviour = pairs[order[i]]
        beta = float(behaviours[behaviour])
        level = {r: float(levels[i, j]) for j, r in enumerate(inputs.regions)}
        demand = {(r, y): cases[case][0][(r, y)] * level[r] * price_index[(r, y)] ** (-beta)
                  for r in inputs.regions for y in inputs.years}
        out.append(Scenario(
            name=f"s{i:03d}", probability=1.0 / n, demand_case=case, price_behaviour=behaviour,
            price_response=beta, lag_months_mean=float(lags[i]),
            level=MappingProxyType(level),
            inputs=scenario_inputs(by_lag(lags[i]), inputs, demand)))
    return tuple(out)


def scenario_inputs(timed: ModelInputs, nominal: ModelInputs,
                    demand: Mapping[tuple[str, int], float]) -> ModelInputs:
    """The optimiser's inputs of one scenario: the timing (ready shares, opening pipeline and the
    caps that follow) of ``timed``, the scenario's demand, and the nominal run's land caps and
    target rows (the first stage must have the same bounds in every scenario; the last year's
    band rows are the scenario model's own, :func:`band_rows_replaced`)."""
    return dataclasses.replace(timed, demand_10k_m2=MappingProxyType(dict(demand)),
                               land_max_ha=nominal.land_max_ha, targets=nominal.targets)


def band_rows_replaced(inputs: ModelInputs) -> ModelInputs:
    """``inputs`` with the last year's cycle goal and floor rows (city, main city) in mode
    ``off`` (reported, not priced): the scenario model's band rows replace them
    (model/robust/extensive.py ``add_band_loss``), pricing both sides of the band alike
    (``robust.band_penalty_per_10k_m2``) and net of demand turned away. A hard row stays hard."""
    keys = {t.key: {"mode": "off", "penalty": 0.0} for t in inputs.targets
            if t.target_id in ("cycle_months", "cycle_floor_months") and t.mode == "soft"
            and t.year == inputs.final_year and t.scope in ("city", "main_city")}
    return with_targets(inputs, keys)


def scenario_table(scenarios: Sequence[Scenario], inputs: ModelInputs) -> pd.DataFrame:
    """What was drawn, one row per scenario (robust_scenarios.csv's first columns). The city and
    main-city levels are demand-weighted means of the regions' levels."""
    last = inputs.final_year
    main = inputs.main_city_members
    rows = []
    for s in scenarios:
        d = s.inputs.demand_10k_m2

        def weighted(members) -> float:
            base = sum(inputs.demand_10k_m2[(r, last)] for r in members)
            return sum(s.level[r] * inputs.demand_10k_m2[(r, last)] for r in members) / base

        rows.append({
            "scenario": s.name, "probability": s.probability, "demand_case": s.demand_case,
            "price_behaviour": s.price_behaviour, "price_response": s.price_response,
            "lag_months_mean": s.lag_months_mean,
            "demand_level_city": weighted(inputs.regions),
            "demand_level_main_city": weighted(main) if main else np.nan,
            "demand_total_10k_m2": sum(d.values()),
            "demand_final_year_city_10k_m2": sum(d[(r, last)] for r in inputs.regions),
        })
    return pd.DataFrame(rows, columns=SCENARIO_COLUMNS)


def mean_demand(scenarios: Sequence[Scenario]) -> dict[tuple[str, int], float]:
    """The probability-weighted mean demand path over the scenarios (the mean-value problem's
    demand)."""
    keys = scenarios[0].inputs.demand_10k_m2.keys()
    return {k: sum(s.probability * s.inputs.demand_10k_m2[k] for s in scenarios) for k in keys}
