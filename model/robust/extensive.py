"""The scenario model and the extensive form of the robust plan (docs/robust.md §3–§5).

**The scenario model** (:func:`build_scenario`) is the deterministic optimiser's model,
:func:`model.optimise.build` of the scenario's inputs, with three additions:

* ``add_presale_schedule`` (``robust.presale=schedule``): a first-stage presale schedule q̄ that
  each scenario's presale follows as the replay's developers do (docs/replay.md): never behind
  it, ahead of it only by bringing later presale forward (the same five-year total), as far as
  ready floor area allows (``presale_ready``);
* ``add_band_loss``: the months by which the last plan year's cycle misses the band, city and
  main city, L = Σ_t 12 · slack[t] ÷ Σ_{r∈scope(t)} demand[r,Y] over the target rows
  ``cycle_months[scope,Y]`` (stock above the 18-month goal, 第五章) and
  ``cycle_floor_months[scope,Y]`` (stock short of the 12-month floor, §2.4.1) — each slack is
  万m² of stock outside, ÷ a month of the scenario's last-year demand;
* ``add_risk``: ``cvar`` — η (first stage, months) and ξ ≥ L − η, ξ ≥ 0, objective + w (η +
  ξ ÷ (1 − α)), so the expected objective is E[cost] + w · CVaR_α(L) (Rockafellar–Uryasev);
  ``chance`` — a binary χ with slack[t] ≤ M_t χ (χ = 0: in the band), and across scenarios
  Σ_s p_s χ_s ≤ 1 − α (added by the extensive form); ``expected`` — no risk term.

**First stage** (:data:`FIRST_STAGE_FAMILIES`): land, subsidised land and building, public
purchases, the land take-up slack, the presale schedule, the land rule's binaries, η, and the
slacks of targets on first-stage decisions only (the land total, subsidised volume, money
limits). Everything else is second stage (per scenario).

**The land rule.** With the land shared, a rule binary per scenario (ζ_s forced to 1 when
scenario s's cycle is above the threshold; land ≤ Λ (1 − ζ_s)) is the same as one binary shared
by every scenario (ζ = max_s ζ_s): the land must satisfy the rule in every scenario. The
extensive form therefore keeps the deterministic model's binaries as first-stage columns — 88 for
Chifeng whatever the number of scenarios — with one cycle row per scenario.

**The extensive form** (:class:`ExtensiveForm`): one scenario model is built and handed to HiGHS
(:class:`model.solve.PlanModel` with ``build=build_scenario``); for each scenario it is moved to
the scenario's inputs with :meth:`~model.solve.PlanModel.update` (the sweeps' mechanism: only
changed parameters are pushed) and its rows are read back from HiGHS. The rows are stacked with
the second-stage columns of each scenario kept apart and the first-stage columns shared, which is
non-anticipativity by construction; rows on first-stage columns only are kept once when they are
the same in every scenario. Costs are weighted by the scenario probabilities; a first-stage
column's bounds are the intersection of its bounds in every scenario.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from dataclasses import dataclass, field
from time import perf_counter
from typing import Mapping, Sequence

import highspy
import numpy as np
import pyomo.environ as pyo
from scipy import sparse

from model import optimise
from model.config import RobustConfig, SolverConfig
from model.inputs import InputError, ModelInputs
from model.robust.scenarios import Scenario
from model.solve import MatrixSolution, PlanModel, solve_matrix

log = logging.getLogger(__name__)

#: Variable families decided before the uncertainty resolves (the plan).
FIRST_STAGE_FAMILIES = (
    "land_ha", "subsidised_land_ha", "subsidised_new_10k_m2", "purchased_10k_m2", "land_ramp_ha",
    "suspend", "revitalise_band", "presale_schedule_10k_m2", "cvar_threshold_months",
)
#: Targets whose rows involve first-stage decisions only: their slacks are first stage too.
FIRST_STAGE_TARGETS = (
    "land_total_ha", "subsidised_volume_10k_m2", "purchase_spending_100m_yuan",
    "public_spending_100m_yuan", "land_revenue_100m_yuan",
)
#: The target rows whose slacks measure the last year's cycle outside the band.
BAND_TARGETS = ("cycle_months", "cycle_floor_months")
BAND_SCOPES = ("city", "main_city")
RULE_BINARIES = ("suspend", "revitalise_band")


# ---------------------------------------------------------------------------------------------
# The scenario model
# ---------------------------------------------------------------------------------------------
def build_scenario(inputs: ModelInputs, robust: RobustConfig) -> pyo.ConcreteModel:
    """The deterministic model of ``inputs`` (:func:`model.optimise.build`) plus the presale
    schedule, the band loss and the risk term; its active objective is the scenario's."""
    m = optimise.build(inputs)
    if robust.presale == "schedule":
        add_presale_schedule(m)
    add_band_loss(m, inputs)
    add_risk(m, robust)
    return m


def add_presale_schedule(m: pyo.ConcreteModel) -> None:
    """A first-stage presale schedule q̄[r,y] ≥ 0 (万m²) that each scenario's presale q follows as
    the replay's developers do (docs/replay.md: presale runs ahead of the schedule while stock is
    short, and what is presold ahead is taken off later presale), r ∈ regions, y ∈ years:

        Σ_{τ≤y} supply[r,τ] ≥ Σ_{τ≤y} schedule[r,τ]      (never behind the schedule)
        Σ_{τ∈Y} supply[r,τ] = Σ_{τ∈Y} schedule[r,τ]      (ahead only by taking from later years)

    Together with ``presale_ready`` (Σ supply ≤ what land has made ready in that scenario) the
    schedule is presaleable in every scenario; a scenario can bring presale forward, not add to
    it, so weak demand leaves the schedule's floor area in stock, as in the replay."""
    m.presale_schedule_10k_m2 = pyo.Var(m.regions * m.years, within=pyo.NonNegativeReals)

    def rule(m, r, y):
        upto = [t for t in m.years if t <= y]
        return (sum(m.supply_10k_m2[r, t] for t in upto)
                >= sum(m.presale_schedule_10k_m2[r, t] for t in upto))

    m.presale_follows_schedule = pyo.Constraint(m.regions * m.years, rule=rule)
    m.presale_schedule_total = pyo.Constraint(m.regions, rule=lambda m, r: (
        sum(m.supply_10k_m2[r, t] for t in m.years)
        == sum(m.presale_schedule_10k_m2[r, t] for t in m.years)))


def band_scopes(inputs: ModelInputs) -> list[tuple[str, tuple[str, ...]]]:
    """(scope, member regions) whose last-year cycle the band loss measures: the city, and the
    main city when it is not the whole city."""
    out = [("city", tuple(inputs.regions))]
    main = tuple(inputs.main_city_members)
    if main and set(main) != set(inputs.regions):
        out.append(("main_city", main))
    return out


def add_band_loss(m: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """Stock outside the band at the end of the last plan year Y, scopes s ∈ {city, main_city}
    (万m²), and the months it stands for:

        above[s] ≥ Σ_{r∈s} inventory_end[r,Y] − band_high/12 · Σ_{r∈s} sales[r,Y]
        below[s] ≥ band_low/12 · Σ_{r∈s} demand[r,Y] − Σ_{r∈s} (inventory_end[r,Y] − Σ_y unmet[r,y])
        band_loss = Σ_s 12 · (above[s] + below[s]) ÷ Σ_{r∈s} demand[r,Y]      (months)

    ``below`` counts the stock *net of the demand turned away* (the stock that would be left had
    every buyer been served): a scenario cannot keep its stock in the band by turning buyers away
    while homes stand unsold — the replay cannot ration buyers, and neither may the plan
    (docs/robust.md §3). ÷ a month of the last year's demand gives months (the cycle's distance
    from the band when the last year sells its demand)."""
    scopes = band_scopes(inputs)
    members = dict(scopes)
    m.band_scopes = pyo.Set(initialize=[s for s, _ in scopes], ordered=True)
    m.band_above_10k_m2 = pyo.Var(m.band_scopes, within=pyo.NonNegativeReals)
    m.band_below_10k_m2 = pyo.Var(m.band_scopes, within=pyo.NonNegativeReals)
    last = m.years.last()

    def demand(m, s):
        return sum(m.demand_10k_m2[r, last] for r in members[s])

    m.band_above = pyo.Constraint(m.band_scopes, rule=lambda m, s: (
        sum(m.inventory_end_10k_m2[r, last] for r in members[s])
        - m.band_high_months / 12.0 * sum(m.sales_10k_m2[r, last] for r in members[s])
        <= m.band_above_10k_m2[s]))
    m.band_below = pyo.Constraint(m.band_scopes, rule=lambda m, s: (
        m.band_low_months / 12.0 * demand(m, s)
        - sum(m.inventory_end_10k_m2[r, last]
              - sum(m.unmet_demand_10k_m2[r, y] for y in m.years) for r in members[s])
        <= m.band_below_10k_m2[s]))
    m.band_loss_months = pyo.Expression(expr=sum(
        12.0 * (m.band_above_10k_m2[s] + m.band_below_10k_m2[s]) / demand(m, s)
        for s in m.band_scopes))


def add_risk(m: pyo.ConcreteModel, robust: RobustConfig) -> None:
    """The scenario's objective: the deterministic objective, the band's price in the expected
    cost (p = ``robust.band_penalty_per_10k_m2`` per 万m² outside, either side), and the risk term.

    objective + p · Σ_s (above[s] + below[s]) + risk, where risk is
    cvar (α = ``robust.cvar_alpha``, w = ``robust.cvar_weight`` points per month):
        ξ ≥ band_loss − η,  ξ ≥ 0,  η ≥ 0 (first stage);  risk = w (η + ξ ÷ (1 − α))
    chance: χ ∈ {0,1};  above[s] ≤ M_s χ, below[s] ≤ M'_s χ (M_s = Σ_{r∈s} inventory_max[r,Y],
        M'_s = band_low/12 · Σ_{r∈s} demand[r,Y] + Σ_{r∈s,y} demand[r,y]): χ = 0 means in the
        band; the extensive form adds Σ_scenarios p χ ≤ 1 − α; risk = 0
    expected: risk = 0."""
    base = m.objective.expr + robust.band_penalty_per_10k_m2 * sum(
        m.band_above_10k_m2[s] + m.band_below_10k_m2[s] for s in m.band_scopes)
    risk = 0.0
    if robust.risk == "cvar":
        m.cvar_threshold_months = pyo.Var(within=pyo.NonNegativeReals)
        m.cvar_excess_months = pyo.Var(within=pyo.NonNegativeReals)
        m.cvar_excess = pyo.Constraint(
            expr=m.cvar_excess_months >= m.band_loss_months - m.cvar_threshold_months)
        risk = robust.cvar_weight * (
            m.cvar_threshold_months + m.cvar_excess_months / (1.0 - robust.cvar_alpha))
    elif robust.risk == "chance":
        m.band_miss = pyo.Var(within=pyo.Binary, doc="1 if the last year's cycle may miss the band")
        last = m.years.last()
        members = dict(band_scopes_of(m))
        m.band_miss_above = pyo.Constraint(m.band_scopes, rule=lambda m, s: (
            m.band_above_10k_m2[s]
            <= sum(m.inventory_max_10k_m2[r, last] for r in members[s]) * m.band_miss))
        m.band_miss_below = pyo.Constraint(m.band_scopes, rule=lambda m, s: (
            m.band_below_10k_m2[s]
            <= (m.band_low_months / 12.0 * sum(m.demand_10k_m2[r, last] for r in members[s])
                + sum(m.demand_10k_m2[r, y] for r in members[s] for y in m.years))
            * m.band_miss))
    m.objective.deactivate()
    m.scenario_objective = pyo.Objective(expr=base + risk, sense=pyo.minimize)


def band_scopes_of(m: pyo.ConcreteModel) -> list[tuple[str, list[str]]]:
    """The band scopes of a built scenario model with their member regions."""
    return [(s, optimise._members(m, s)) for s in m.band_scopes]


def is_first_stage(m: pyo.ConcreteModel, family: str, index) -> bool:
    """Is this variable decided before the uncertainty resolves? (:data:`FIRST_STAGE_FAMILIES`;
    a slack when its target is in :data:`FIRST_STAGE_TARGETS`.)"""
    if family in FIRST_STAGE_FAMILIES:
        return True
    return family == "slack" and m.target_rows[index].target_id in FIRST_STAGE_TARGETS


def first_stage_vars(m: pyo.ConcreteModel) -> list:
    """The first-stage variables of a scenario model (for mpi-sppy's non-anticipativity)."""
    out = []
    for comp in m.component_objects(pyo.Var, descend_into=True):
        out += [v for k, v in comp.items() if is_first_stage(m, comp.name, k)]
    return out


# ---------------------------------------------------------------------------------------------
# The extensive form
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExtensiveSolution:
    """The extensive form's answer: the first stage, and every scenario's values (family →
    index → value), its cost (the deterministic objective's terms) and its risk term."""

    status: str
    model_status: str
    problem_type: str
    objective: float | None
    mip_gap: float | None
    solve_time_s: float
    build_time_s: float
    size: Mapping[str, int]
    first_stage: Mapping[str, Mapping] = field(default_factory=dict)
    scenarios: tuple[Mapping[str, Mapping], ...] = ()
    scenario_objective: tuple[float, ...] = ()  # each scenario's objective, risk term included
    scenario_risk: tuple[float, ...] = ()  # the risk term's share of it (cvar), points
    binaries_from: str = ""  # how the land rule's binaries were decided
    subsample_solve_time_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


class ExtensiveForm:
    """The extensive form of the robust plan over ``scenarios`` (see the module docstring).

    ``ExtensiveForm(scenarios, robust, solver).solve()`` → :class:`ExtensiveSolution`.
    ``size`` gives columns, rows, nonzeros and binaries; ``build_time_s`` the time to build the
    scenario model and stack every scenario's rows."""

    def __init__(self, scenarios: Sequence[Scenario], robust: RobustConfig,
                 solver: SolverConfig | None = None):
        t0 = perf_counter()
        if not scenarios:
            raise InputError(["the extensive form needs at least one scenario"])
        self.scenarios = tuple(scenarios)
        self.robust = robust
        self.solver_cfg = solver or SolverConfig()
        self.pm = PlanModel(self.scenarios[0].inputs, self.solver_cfg,
                            build=functools.partial(build_scenario, robust=robust))
        self._name_columns()
        self._assemble()
        self.build_time_s = perf_counter() - t0

    # -- columns ----------------------------------------------------------------------------
    def _name_columns(self) -> None:
        m = self.pm.model
        col_of = self.pm.column_of()
        n = len(col_of)
        self.names: list[tuple[str, object]] = [("", None)] * n
        first = np.zeros(n, dtype=bool)
        for comp in m.component_objects(pyo.Var, descend_into=True):
            for k, v in comp.items():
                c = col_of.get(id(v))
                if c is not None:
                    self.names[c] = (comp.name, k)
                    first[c] = is_first_stage(m, comp.name, k)
        self.is_first = first
        self.first_cols = np.flatnonzero(first)
        self.second_cols = np.flatnonzero(~first)
        self.n_local = n
        pos = np.empty(n, dtype=np.int64)
        pos[self.first_cols] = np.arange(len(self.first_cols))
        pos[self.second_cols] = np.arange(len(self.second_cols))
        self._pos = pos
        self.miss_col = next((c for c, (f, _k) in enumerate(self.names) if f == "band_miss"), None)
        risk_names = ("cvar_threshold_months", "cvar_excess_months")
        self.risk_cols = {f: c for c, (f, _k) in enumerate(self.names) if f in risk_names}

    def ef_columns(self, s: int) -> np.ndarray:
        """Scenario s's local column → extensive-form column."""
        n_first, n_second = len(self.first_cols), len(self.second_cols)
        return np.where(self.is_first, self._pos, n_first + s * n_second + self._pos)

    # -- rows -------------------------------------------------------------------------------
    def _assemble(self) -> None:
        n_first, n_second = len(self.first_cols), len(self.second_cols)
        n_cols = n_first + len(self.scenarios) * n_second
        cost = np.zeros(n_cols)
        lower = np.full(n_cols, -np.inf)
        upper = np.full(n_cols, np.inf)
        integer = np.zeros(n_cols, dtype=bool)
        rows_i, cols_j, vals, row_lo, row_hi = [], [], [], [], []
        n_rows, offset = 0, 0.0
        kept: dict[int, list[tuple]] = {}
        self.local_cost: list[np.ndarray] = []
        self.local_offset: list[float] = []
        for s, sc in enumerate(self.scenarios):
            if s:
                self.pm.update(sc.inputs)
            lp = self.pm.matrix()
            ef = self.ef_columns(s)
            c = np.asarray(lp.col_cost_, dtype=float)
            self.local_cost.append(c)
            self.local_offset.append(float(lp.offset_))
            np.add.at(cost, ef, sc.probability * c)
            offset += sc.probability * float(lp.offset_)
            lo, hi = np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
            lower[ef] = np.maximum(lower[ef], lo)
            upper[ef] = np.minimum(upper[ef], hi)
            kinds = lp.integrality_
            if len(kinds):
                integer[ef] |= np.array([k != highspy.HighsVarType.kContinuous for k in kinds])
            start, index, value = _rowwise(lp)
            r_lo, r_hi = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
            n_local_rows = len(r_lo)
            row_of = np.repeat(np.arange(n_local_rows), np.diff(start))
            second_in_row = np.bincount(row_of, weights=(~self.is_first[index]).astype(float),
                                        minlength=n_local_rows)
            keep = np.ones(n_local_rows, dtype=bool)
            for i in np.flatnonzero(second_in_row == 0):
                a, b = start[i], start[i + 1]
                sig = (index[a:b].tobytes(), value[a:b].tobytes(), r_lo[i], r_hi[i])
                seen = kept.setdefault(int(i), [])
                if sig in seen:
                    keep[i] = False
                else:
                    seen.append(sig)
            new_id = np.cumsum(keep) - 1 + n_rows
            nz = keep[row_of]
            rows_i.append(new_id[row_of[nz]])
            cols_j.append(ef[index[nz]])
            vals.append(value[nz])
            row_lo.append(r_lo[keep])
            row_hi.append(r_hi[keep])
            n_rows += int(keep.sum())
        if self.robust.risk == "chance":
            if self.miss_col is None:
                raise RuntimeError("risk=chance but the scenario model has no band_miss column")
            miss = [self.ef_columns(s)[self.miss_col] for s in range(len(self.scenarios))]
            rows_i.append(np.full(len(miss), n_rows))
            cols_j.append(np.array(miss))
            vals.append(np.array([s.probability for s in self.scenarios]))
            row_lo.append(np.array([-np.inf]))
            row_hi.append(np.array([1.0 - self.robust.chance_alpha]))
            n_rows += 1
        matrix = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_j))),
            shape=(n_rows, n_cols))
        matrix.sort_indices()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_cols, n_rows
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
        lp.row_lower_, lp.row_upper_ = np.concatenate(row_lo), np.concatenate(row_hi)
        lp.offset_ = offset
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_cols, n_rows
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        if integer.any():
            lp.integrality_ = [highspy.HighsVarType.kInteger if b
                               else highspy.HighsVarType.kContinuous for b in integer]
        self.lp = lp
        self.size = {"scenarios": len(self.scenarios), "columns": n_cols, "rows": n_rows,
                     "nonzeros": int(matrix.nnz), "binaries": int(integer.sum()),
                     "first_stage_columns": n_first,
                     "scenario_columns": n_second, "scenario_model_rows": n_local_rows}

    # -- solving ----------------------------------------------------------------------------
    def rule_columns(self) -> list[int]:
        """Extensive-form columns of the land rule's binaries (first stage)."""
        return [j for j, c in enumerate(self.first_cols) if self.names[c][0] in RULE_BINARIES]

    def subsample(self) -> list[Scenario]:
        """``robust.binary_scenarios`` scenarios spanning the demand range: the scenarios sorted
        by total demand, taken at evenly spaced ranks (the lowest and the highest included:
        the land rule binds where stock sells slowest), each with probability 1/k."""
        k = self.robust.binary_scenarios
        order = np.argsort([sum(s.inputs.demand_10k_m2.values()) for s in self.scenarios],
                           kind="stable")
        picks = order[np.unique(np.linspace(0, len(order) - 1, k).round().astype(int))]
        return [dataclasses.replace(self.scenarios[i], probability=1.0 / len(picks))
                for i in sorted(picks)]

    def solve(self, log_path=None) -> ExtensiveSolution:
        """Solve the extensive form with HiGHS; read the first stage and every scenario.

        ``robust.binaries = full`` (or no more scenarios than ``robust.binary_scenarios``): one
        MILP. ``subsample``: the land rule's binaries from the MILP of :meth:`subsample`'s
        extensive form, then this one with them fixed (an LP, or a MILP in the chance
        constraint's per-scenario binaries)."""
        rule = self.rule_columns()
        how, sub_time = "one MILP over every scenario", 0.0
        if (self.robust.binaries == "full" or not rule
                or len(self.scenarios) <= self.robust.binary_scenarios):
            sol: MatrixSolution = solve_matrix(self.lp, self.solver_cfg, log_path)
            if not rule:
                how = "no land-rule binaries"
        else:
            sub = ExtensiveForm(self.subsample(), self.robust, self.solver_cfg).solve()
            sub_time = sub.solve_time_s
            if not sub.ok:
                return ExtensiveSolution(
                    status=sub.status, model_status=f"subsample: {sub.model_status}",
                    problem_type="MILP", objective=None, mip_gap=None, solve_time_s=sub_time,
                    build_time_s=self.build_time_s, size=self.size, binaries_from="subsample")
            fixed = {self.names[self.first_cols[j]]: sub.first_stage[self.names[
                self.first_cols[j]][0]][self.names[self.first_cols[j]][1]] for j in rule}
            sol = self._solve_fixed(rule, fixed, log_path)
            how = (f"land-rule binaries from the MILP over {sub.size['scenarios']} scenarios "
                   f"spanning the demand range, then this extensive form with them fixed")
        base = dict(status=sol.status, model_status=sol.model_status,
                    problem_type=sol.problem_type, objective=sol.objective, mip_gap=sol.mip_gap,
                    solve_time_s=sol.solve_time_s + sub_time, build_time_s=self.build_time_s,
                    size=self.size, binaries_from=how, subsample_solve_time_s=sub_time)
        if not sol.ok:
            return ExtensiveSolution(**base)
        x = sol.col_value
        per_scenario, objectives, risks = [], [], []
        for s in range(len(self.scenarios)):
            local = x[self.ef_columns(s)]
            objectives.append(float(self.local_cost[s] @ local + self.local_offset[s]))
            risks.append(float(sum(self.local_cost[s][c] * local[c]
                                   for c in self.risk_cols.values())))
            per_scenario.append(self._values(local, range(self.n_local)))
        first = self._values(x[self.ef_columns(0)], self.first_cols)
        return ExtensiveSolution(**base, first_stage=first, scenarios=tuple(per_scenario),
                                 scenario_objective=tuple(objectives), scenario_risk=tuple(risks))

    def _solve_fixed(self, cols: list[int], values: Mapping, log_path) -> MatrixSolution:
        """Solve with the columns ``cols`` fixed at ``values`` (by name) and made continuous;
        the extensive form is left as it was."""
        lp = self.lp
        lower, upper = np.array(lp.col_lower_), np.array(lp.col_upper_)
        kinds = list(lp.integrality_)
        try:
            lo, hi = lower.copy(), upper.copy()
            for j in cols:
                lo[j] = hi[j] = values[self.names[self.first_cols[j]]]
            lp.col_lower_, lp.col_upper_ = lo, hi
            if kinds:
                new = list(kinds)
                for j in cols:
                    new[j] = highspy.HighsVarType.kContinuous
                lp.integrality_ = new if any(
                    k != highspy.HighsVarType.kContinuous for k in new) else []
            return solve_matrix(lp, self.solver_cfg, log_path)
        finally:
            lp.col_lower_, lp.col_upper_ = lower, upper
            lp.integrality_ = kinds

    def _values(self, local: np.ndarray, cols) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for c in cols:
            family, k = self.names[c]
            v = float(local[c]) + 0.0
            if family in ("suspend", "revitalise_band", "band_miss"):
                v = float(round(v))
            out.setdefault(family, {})[k] = v
        return out


def _rowwise(lp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, index, value) of the LP's constraint matrix by rows."""
    a = lp.a_matrix_
    start = np.asarray(a.start_, dtype=np.int64)
    index = np.asarray(a.index_, dtype=np.int64)
    value = np.asarray(a.value_, dtype=float)
    if a.format_ == highspy.MatrixFormat.kRowwise:
        return start, index, value
    csc = sparse.csc_matrix((value, index, start), shape=(lp.num_row_, lp.num_col_)).tocsr()
    csc.sort_indices()
    return (csc.indptr.astype(np.int64), csc.indices.astype(np.int64),
            csc.data.astype(float))
