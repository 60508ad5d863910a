"""The one module that talks to HiGHS: solve, status, versions, timing, duals and ranging, and the
relaxation of an infeasible set of hard targets.

:class:`PlanModel` holds a built Pyomo model bound to a persistent HiGHS instance (Pyomo's
``pyomo.contrib.solver`` HiGHS interface translates the model once). :meth:`PlanModel.update`
moves it to new inputs of the same shape by writing mutable Params and slack bounds and pushing
only those changes to HiGHS; :meth:`PlanModel.solve` then runs HiGHS again without rebuilding
anything. Sweeps and sensitivity analysis should hold one PlanModel and call update → solve.

A result is a plan only when HiGHS says optimal (:attr:`Solution.ok`); anything else is reported
with its status and never as a plan.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Callable, Mapping

import highspy as _highspy_loaded  # noqa: F401 - loaded here, not inside Pyomo's check (below)
import numpy as np
import pyomo
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs, highspy

# Pyomo imports highspy lazily, inside its "is HiGHS available?" check, and reads any exception
# there — a Ctrl-C too — as "HiGHS not available" (an ApplicationError, exit 5, instead of the
# interrupt's one line and exit 130). Importing highspy above, as a plain import, leaves the
# check nothing slow to do, and an interrupt during the import stays a KeyboardInterrupt.
from pyomo.core.expr.visitor import identify_mutable_parameters

from model import optimise
from model.config import SolverConfig
from model.inputs import ModelInputs, with_targets

log = logging.getLogger(__name__)

VALUE_FAMILIES = (
    "land_ha",
    "supply_10k_m2",
    "sales_10k_m2",
    "unmet_demand_10k_m2",
    "purchased_10k_m2",
    "subsidised_new_10k_m2",
    "inventory_end_10k_m2",
    "inventory_above_band_10k_m2",
    "inventory_below_band_10k_m2",
    "aim_above_10k_m2",
    "aim_below_10k_m2",
    "presale_ramp_up_10k_m2",
    "presale_ramp_down_10k_m2",
    "land_ramp_ha",
    "terminal_short_10k_m2",
    "subsidised_land_ha",
    "slack",
    "suspend",
    "revitalise_band",
)
DUAL_TOL = 1e-9
ELASTIC_EPS = 1e-6


@dataclass(frozen=True)
class Solution:
    """One HiGHS solve. ``values`` (family → index → value) only when ``ok``."""

    status: str  # optimal | infeasible | limit | error
    model_status: str  # HiGHS's own words
    problem_type: str  # MILP | LP
    objective: float | None
    mip_gap: float | None
    solve_time_s: float  # wall time of HiGHS's run()
    values: Mapping[str, Mapping[tuple, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


@dataclass(frozen=True)
class DualRow:
    """A binding constraint of the LP (binaries fixed): shadow price and right-hand-side range."""

    family: str
    index: tuple
    dual: float  # ∂objective / ∂rhs, objective points per unit of rhs
    rhs: float  # the binding side (upper for ≤, lower for ≥, either for =)
    rhs_lower: float  # ranging: the rhs can fall to here with the same basis
    rhs_upper: float  # … and rise to here
    objective_at_lower: float
    objective_at_upper: float


@dataclass(frozen=True)
class Duals:
    """Shadow prices of the binding constraints; ``lp_objective`` should equal the plan's."""

    status: str
    lp_objective: float | None
    rows: tuple[DualRow, ...]
    fixed_binaries: int


@dataclass(frozen=True)
class Relaxation:
    """The elastic re-solves of an infeasible hard-target set.

    ``joint``: every hard target made soft with penalty 1 / scale (the smallest combined relative
    relaxation). ``alone[group]``: only that group relaxed — a group is one target over all its
    years, e.g. the purchase budget in every year — the others still hard (None when relaxing it
    alone cannot restore feasibility). Slack values are in each target's slack unit."""

    hard_keys: tuple[str, ...]
    conflict_keys: tuple[str, ...]
    joint: Solution | None
    alone: Mapping[str, Solution | None]


def target_group(target_id: str, scope: str) -> str:
    """The group a target row belongs to: one target and scope over all its years."""
    return f"{target_id}[{scope}]"


def solver_versions() -> dict[str, str]:
    """Versions of the solver stack, for summary.json."""
    try:
        inst = quiet_highs()
        numbers = f"{inst.versionMajor()}.{inst.versionMinor()}.{inst.versionPatch()}"
        highs_v = f"{numbers} (git {inst.githash()})"
    except Exception:  # noqa: BLE001 - version reporting must never stop a run
        highs_v = "unknown"
    return {
        "solver": "HiGHS",
        "highs": highs_v,
        "highspy": importlib.metadata.version("highspy"),
        "pyomo": pyomo.version.version,
    }


def run_within(h, time_limit_s: float) -> None:
    """``h.run()`` (a ``highspy.Highs``) stopped after ``time_limit_s`` seconds of this run.
    HiGHS measures its ``time_limit`` against the instance's run clock, which keeps counting
    over every run of the instance: a model re-solved many times (a sweep, a sensitivity
    worker) would otherwise have its solves stop at "Time limit reached" once their total
    passed the limit (an LP re-solved 300 times with a 0.02 s limit failed 187 times), so the
    limit is moved on by the time already run."""
    h.setOptionValue("time_limit", float(h.getRunTime()) + float(time_limit_s))
    h.run()


def quiet_highs():
    """A new ``highspy.Highs`` with output off, without the start-up banner its constructor
    prints on stdout (silenced at the file-descriptor level)."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    return h


class PlanModel:
    """A built plan model bound to HiGHS: update(inputs) → solve() without rebuilding."""

    def __init__(self, inputs: ModelInputs, solver: SolverConfig | None = None,
                 build: Callable[[ModelInputs], pyo.ConcreteModel] = optimise.build):
        """``build`` makes the Pyomo model (default :func:`model.optimise.build`; the robust
        plan's scenario model adds its own components to that model, model/robust/)."""
        t0 = perf_counter()
        self.solver_cfg = solver or SolverConfig()
        self.inputs = inputs
        self.model = build(inputs)
        self._persistent = Highs(treat_fixed_vars_as_params=False)
        self._persistent.set_instance(self.model)
        self._highs = self._persistent._solver_model  # the highspy.Highs instance Pyomo filled
        self._binaries = optimise.binaries(self.model)
        var_cols = self._persistent._pyomo_var_to_solver_var_map
        self._columns = {}
        for name in VALUE_FAMILIES:
            comp = self.model.component(name)
            if comp is None:
                continue
            # a variable no constraint or objective uses is not sent to HiGHS (pipeline land when
            # the plan is fixed); it is left out of the solution and reads as 0.
            keys = [k for k in comp.keys() if id(comp[k]) in var_cols]
            self._columns[name] = (keys, np.array([var_cols[id(comp[k])] for k in keys], dtype=int))
        self._index_mutable_helpers()
        self._apply_options()
        self.last: Solution | None = None
        self.build_time_s = perf_counter() - t0

    # -- shape and options ----------------------------------------------------------------
    @property
    def problem_type(self) -> str:
        return "MILP" if self._binaries else "LP"

    @property
    def size(self) -> dict[str, int]:
        return {
            "columns": int(self._highs.getNumCol()),
            "rows": int(self._highs.getNumRow()),
            "binaries": len(self._binaries),
        }

    def configure(self, solver: SolverConfig) -> None:
        """Use these solver options from the next solve on."""
        if solver != self.solver_cfg:
            self.solver_cfg = solver
            self._apply_options()

    def _apply_options(self) -> None:
        h, cfg = self._highs, self.solver_cfg
        h.setOptionValue("output_flag", False)
        h.setOptionValue("mip_rel_gap", float(cfg.mip_rel_gap))  # time_limit: per run (_run)
        for key, value in cfg.options.items():
            h.setOptionValue(str(key), value)

    def log_to(self, path: str | Path | None) -> None:
        """Write HiGHS's own log to ``path`` (None: silent)."""
        if path is None:
            self._highs.setOptionValue("output_flag", False)
            return
        self._highs.setOptionValue("output_flag", True)
        self._highs.setOptionValue("log_to_console", False)
        self._highs.setOptionValue("log_file", str(path))

    def write_mps(self, path: str | Path) -> None:
        """The model exactly as HiGHS holds it (for audit, and for the benchmark's baseline)."""
        self._highs.writeModel(str(path))

    def matrix(self):
        """The model as HiGHS holds it now, a ``highspy.HighsLp`` (costs, bounds, rows,
        integrality): the robust plan's extensive form stacks one per scenario (model/robust/)."""
        return self._highs.getLp()

    def fix(self, values: Mapping[str, Mapping]) -> None:
        """Fix variables at ``values`` (family → index → value) in the model and in HiGHS (the
        robust plan's first stage, evaluated at the run's demand: model/robust/run.py).

        Not the ``ModelInputs.fixed_*`` route: land fixed in every region and year makes the
        inputs a fixed plan (``plan_fixed``, part of ``structure()``), whose model has no
        ``presale_ready`` and ``terminal_feed`` rows — presale would no longer wait for the
        floor area the land makes ready (update() raises StructureChanged; a new build solves a
        different problem)."""
        touched = []
        for family, by_index in values.items():
            comp = self.model.component(family)
            for k, v in by_index.items():
                comp[k].fix(v)
                touched.append(comp[k])
        self._persistent.update_variables(touched)

    def column_of(self) -> dict[int, int]:
        """id(Pyomo variable) → HiGHS column, for every variable HiGHS holds."""
        return dict(self._persistent._pyomo_var_to_solver_var_map)

    # -- changing and solving -------------------------------------------------------------
    def update(self, inputs: ModelInputs) -> None:
        """Move the built model to ``inputs`` (same shape): Params, modes and fixed decisions.

        Only the HiGHS coefficients, bounds and costs that depend on a changed Param are pushed
        (Pyomo's own update_parameters() would re-evaluate every mutable expression)."""
        changes = optimise.set_params(self.model, inputs)
        if self._helpers is None:
            self._persistent.update_parameters()
        else:
            done: set[int] = set()
            bounds = self._persistent._mutable_bounds
            for name in changes.params:
                for helper in self._helpers.get(name, ()):
                    if id(helper) not in done:
                        done.add(id(helper))
                        helper.update()
                for var_id in self._bound_vars.get(name, ()):
                    entry = bounds.get(var_id)
                    if entry is not None and id(entry[1]) not in done:
                        done.add(id(entry[1]))
                        entry[1].update()
        if changes.variables:
            self._persistent.update_variables(changes.variables)
        self.inputs = inputs

    def _index_mutable_helpers(self) -> None:
        """Map each Param component to the HiGHS updates that depend on it (constraint
        coefficients and bounds, objective costs, variable bounds). Falls back to Pyomo's full
        update_parameters() if the interface's internals are not as expected."""
        p = self._persistent
        try:
            helpers = [h for hs in p._mutable_helpers.values() for h in hs]
            helpers += list(p._mutable_objective.linear_coefs) + [p._mutable_objective.constant]
            bound_items = list(p._mutable_bounds.items())
        except AttributeError:
            self._helpers, self._bound_vars = None, {}
            return

        def names(obj) -> set[str]:
            out = set()
            for attr in ("expr", "lower_expr", "upper_expr"):
                e = getattr(obj, attr, None)
                if e is not None and not isinstance(e, (int, float)):
                    out |= {q.parent_component().name for q in identify_mutable_parameters(e)}
            return out

        self._helpers, self._bound_vars = {}, {}
        for h in helpers:
            for n in names(h):
                self._helpers.setdefault(n, []).append(h)
        for var_id, (_v, h) in bound_items:
            for n in names(h):
                self._bound_vars.setdefault(n, []).append(var_id)

    def solve(self) -> Solution:
        """Run HiGHS on the model as it stands; read the solution only if optimal."""
        h = self._highs
        t0 = perf_counter()
        self._run()
        wall = perf_counter() - t0
        status = h.getModelStatus()
        info = h.getInfo()
        kind = _status_kind(status)
        gap = float(info.mip_gap) if self._binaries and info.valid and kind == "optimal" else None
        objective = float(info.objective_function_value) if kind == "optimal" else None
        values = self._read_values() if kind == "optimal" else {}
        sol = Solution(
            kind, h.modelStatusToString(status), self.problem_type, objective, gap, wall, values
        )
        self.last = sol
        return sol

    def _read_values(self) -> dict[str, dict[tuple, float]]:
        col = np.asarray(self._highs.getSolution().col_value)
        out = {}
        for name, (keys, idx) in self._columns.items():
            vals = col[idx]
            if name in ("suspend", "revitalise_band"):
                vals = np.round(vals)
            out[name] = dict(zip(keys, (vals + 0.0).tolist()))  # + 0.0 turns -0.0 into 0.0
        return out

    def _run(self) -> None:
        run_within(self._highs, self.solver_cfg.time_limit_s)

    # -- duals and ranging ----------------------------------------------------------------
    def duals(self) -> Duals:
        """Shadow prices and rhs ranging of the binding constraints, from the LP with the binaries
        fixed at the last optimum (for an LP, from the LP itself). Leaves the model as it was."""
        if self.last is None or not self.last.ok:
            return Duals("no optimal solution", None, (), 0)
        fixed = []
        for family in ("suspend", "revitalise_band"):
            comp = self.model.component(family)
            if comp is None:
                continue
            for k, v in comp.items():
                v.domain = pyo.UnitInterval
                v.fix(self.last.values[family][k])
                fixed.append(v)
        try:
            if fixed:
                self._persistent.update_variables(fixed)
                self._run()
            h = self._highs
            status = h.getModelStatus()
            if _status_kind(status) != "optimal":
                return Duals(h.modelStatusToString(status), None, (), len(fixed))
            lp_objective = float(h.getInfo().objective_function_value)
            rows = self._dual_rows()
        finally:
            if fixed:
                for v in fixed:
                    v.unfix()
                    v.domain = pyo.Binary
                self._persistent.update_variables(fixed)
        return Duals("optimal", lp_objective, tuple(rows), len(fixed))

    def _dual_rows(self) -> list[DualRow]:
        h = self._highs
        sol = h.getSolution()
        duals = np.asarray(sol.row_dual)
        lp = h.getLp()
        lower, upper = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
        activity = np.asarray(sol.row_value)
        rng_status, rng = h.getRanging()
        ranging_ok = rng_status == highspy.HighsStatus.kOk
        rows = []
        for con, i in self._persistent._pyomo_con_to_solver_con_map.items():
            d = float(duals[i])
            if abs(d) <= DUAL_TOL:
                continue
            at_upper = abs(activity[i] - upper[i]) <= abs(activity[i] - lower[i])
            rhs = float(upper[i] if at_upper else lower[i])
            if ranging_ok:
                lo, hi = float(rng.row_bound_dn.value_[i]), float(rng.row_bound_up.value_[i])
                olo, ohi = (
                    float(rng.row_bound_dn.objective_[i]),
                    float(rng.row_bound_up.objective_[i]),
                )
            else:
                lo = hi = olo = ohi = float("nan")
            index = con.index()
            index = index if isinstance(index, tuple) else (index,)
            rows.append(DualRow(con.parent_component().name, index, d, rhs, lo, hi, olo, ohi))
        return rows

    # -- infeasible hard targets ----------------------------------------------------------
    def relaxation(self) -> Relaxation:
        """Which hard targets conflict, and the smallest relaxation of each (see Relaxation).

        The original objective is kept with weight 1e-6 as a tie-break, so the elastic solutions
        are the best plans among the least-relaxed ones. Leaves the model at its original inputs."""
        original = self.inputs
        hard = [t for t in original.targets if t.mode == "hard"]
        base = _scaled_weights(original, ELASTIC_EPS)

        def relaxed(keys: set[str]) -> ModelInputs:
            changes = {}
            for t in original.targets:
                if t.key in keys:
                    changes[t.key] = {"mode": "soft", "penalty": 1.0 / max(t.scale, 1e-9)}
                elif t.mode == "soft":
                    changes[t.key] = {"penalty": t.penalty * ELASTIC_EPS}
            return with_targets(base, changes)

        groups: dict[str, set[str]] = {}
        for t in hard:
            groups.setdefault(target_group(t.target_id, t.scope), set()).add(t.key)
        try:
            self.update(relaxed({t.key for t in hard}))
            joint = self.solve()
            if not joint.ok:
                return Relaxation(tuple(t.key for t in hard), (), None, {})
            alone = {}
            for group, keys in groups.items():
                self.update(relaxed(keys))
                sol = self.solve()
                alone[group] = sol if sol.ok else None
            conflict = [
                t
                for t in hard
                if joint.values["slack"][t.key] > 1e-7 * max(1.0, t.scale)
                or alone[target_group(t.target_id, t.scope)] is not None
            ]
            return Relaxation(
                tuple(t.key for t in hard), tuple(t.key for t in conflict), joint, alone
            )
        finally:
            self.update(original)
            self.last = None


@dataclass(frozen=True)
class MatrixSolution:
    """One HiGHS solve of a model given as a matrix (:func:`solve_matrix`). ``col_value`` only
    when ``ok``."""

    status: str  # optimal | infeasible | limit | error
    model_status: str
    problem_type: str  # MILP | LP
    objective: float | None
    mip_gap: float | None
    solve_time_s: float
    col_value: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def solve_matrix(lp, solver: SolverConfig | None = None,
                 log_path: str | Path | None = None) -> MatrixSolution:
    """Solve a ``highspy.HighsLp`` (the robust plan's extensive form, model/robust/extensive.py)
    with the run's solver options; HiGHS's log to ``log_path`` if given."""
    cfg = solver or SolverConfig()
    h = quiet_highs()
    h.setOptionValue("output_flag", False)
    if log_path is not None:
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("log_file", str(log_path))
    h.setOptionValue("time_limit", float(cfg.time_limit_s))
    h.setOptionValue("mip_rel_gap", float(cfg.mip_rel_gap))
    for key, value in cfg.options.items():
        h.setOptionValue(str(key), value)
    h.passModel(lp)
    integer = any(t != highspy.HighsVarType.kContinuous for t in lp.integrality_)
    t0 = perf_counter()
    h.run()
    wall = perf_counter() - t0
    status = h.getModelStatus()
    kind = _status_kind(status)
    info = h.getInfo()
    ok = kind == "optimal"
    return MatrixSolution(
        kind, h.modelStatusToString(status), "MILP" if integer else "LP",
        float(info.objective_function_value) if ok else None,
        float(info.mip_gap) if ok and integer else None, wall,
        np.asarray(h.getSolution().col_value) if ok else None)


def _scaled_weights(inputs: ModelInputs, eps: float) -> ModelInputs:
    return dataclasses.replace(
        inputs, **{f"weight_{w}": getattr(inputs, f"weight_{w}") * eps for w in optimise.WEIGHTS}
    )


def _status_kind(status) -> str:
    S = highspy.HighsModelStatus
    if status == S.kOptimal:
        return "optimal"
    if status in (S.kInfeasible, S.kUnboundedOrInfeasible):
        return "infeasible"
    if status in (
        S.kTimeLimit,
        S.kIterationLimit,
        getattr(S, "kSolutionLimit", S.kTimeLimit),
        getattr(S, "kInterrupt", S.kTimeLimit),
    ):
        return "limit"
    return "error"


# ---------------------------------------------------------------------------------------------
# solver.options, checked against HiGHS's own option list before anything runs
# ---------------------------------------------------------------------------------------------
#: Options the model sets itself: each has its own config key (or is managed by the run).
MANAGED_OPTIONS = {
    "time_limit": "solver.time_limit_s",
    "mip_rel_gap": "solver.mip_rel_gap",
    "output_flag": "the run (HiGHS's log goes to highs.log)",
    "log_to_console": "the run (HiGHS's log goes to highs.log)",
    "log_file": "the run (HiGHS's log goes to highs.log)",
    # HiGHS starts its thread pool once per process; a later thread count makes the solve
    # stop with status "Not Set" (exit 3) instead of solving
    "threads": "HiGHS once per process (its thread pool), so it cannot be set per run; "
               "an experiment's processes run it on one (model.solve.single_thread_highs)",
}
_option_checker = None
_single_thread = False


def single_thread_highs() -> bool:
    """Start this process's HiGHS thread pool with one thread, before its first solve; True if
    HiGHS now runs on one thread here, False if an earlier solve had already started the pool
    with another count (HiGHS cannot change it; a solve asking for another count stops with
    status "Not Set").

    Called by every process that evaluates an experiment's samples, before it builds its model
    (analysis.sensitivity's ``_sweep_for``: the sensitivity analysis and scenario discovery, in
    the main process with one worker, in each worker with more; neither solves before): the
    workers share the machine's cores, and HiGHS's default (half the cores per process) on each
    of 2 workers slowed a Sobol run with n = 32 from 43.1 to 51.3 s wall; and with several
    threads HiGHS may return another of two plans with the same objective (11 of 52 Sobol
    samples did), so the samples' outcomes would depend on the number of workers. A single run
    (``python -m model.run``) keeps HiGHS's default."""
    global _single_thread
    if not _single_thread:
        h = quiet_highs()
        h.setOptionValue("threads", 1)
        h.addVar(0.0, 1.0)  # the pool starts with the first run, so run a one-column LP
        h.run()
        _single_thread = h.getModelStatus() == _highspy_loaded.HighsModelStatus.kOptimal
    return _single_thread


def _scratch_highs():
    """A silent HiGHS instance used only to check option names and values (its constructor
    prints a banner on stdout, which is silenced at the file-descriptor level)."""
    global _option_checker
    if _option_checker is None:
        _option_checker = quiet_highs()
    return _option_checker


def option_problems(options: Mapping[str, object]) -> list[str]:
    """One line per ``solver.options`` entry HiGHS would reject or ignore: an unknown name
    (with the closest valid names), an option the model sets itself, or a value of the wrong
    type or out of range (HiGHS's own check, ``setOptionValue``)."""
    import difflib
    import math

    if not options:
        return []
    h = _scratch_highs()
    names = sorted(n for n in dir(h.getOptions()) if not n.startswith("_"))
    kinds = {highspy.HighsOptionType.kBool: "true or false",
             highspy.HighsOptionType.kInt: "a whole number",
             highspy.HighsOptionType.kDouble: "a number",
             highspy.HighsOptionType.kString: "a text value"}
    out = []
    for key, value in options.items():
        key = str(key)
        where = f"solver.options.{key}"
        if key in MANAGED_OPTIONS:
            out.append(f"{where}: set by {MANAGED_OPTIONS[key]}, not through solver.options")
            continue
        status, kind = h.getOptionType(key)
        if status != highspy.HighsStatus.kOk:
            near = difflib.get_close_matches(key, names, n=3)
            hint = f"did you mean {', '.join(near)}?" if near else "see the HiGHS option list"
            out.append(f"{where}: HiGHS has no option {key!r} ({hint})")
            continue
        expected = kinds.get(kind, "a valid value")
        if kind == highspy.HighsOptionType.kBool:
            ok_type = isinstance(value, bool)
        elif kind == highspy.HighsOptionType.kInt:
            ok_type = isinstance(value, int) and not isinstance(value, bool)
        elif kind == highspy.HighsOptionType.kDouble:
            ok_type = (isinstance(value, (int, float)) and not isinstance(value, bool)
                       and math.isfinite(value))
            value = float(value) if ok_type else value
        else:
            ok_type = isinstance(value, str)
        _, current = h.getOptionValue(key)
        if not ok_type or h.setOptionValue(key, value) != highspy.HighsStatus.kOk:
            out.append(f"{where} = {value!r} is not valid; expected {expected} that HiGHS "
                       f"accepts for {key} (default {current!r})")
        else:
            h.setOptionValue(key, current)  # leave the scratch instance as it was
    return out
