"""The pipeline of one run as plain functions: config → dataset → inputs → model + HiGHS → plan
→ replay → uncertainty → tables (nothing written). Both ``model.run`` (the command) and
``model.review`` (the mid-term review) call these; neither owns them.

:func:`optimise_run` is one optimiser run; :class:`Sweep` re-solves one built model for many
dotted overrides; :func:`replay_plan` replays a plan under the run's shared assumptions;
:func:`solve_and_report` turns a solve into an :class:`Outcome` (named outcomes and tables).

Exit codes (model/errors.py, docs/errors.md): 0 a plan (every soft target reported met or
missed); 1 bad input (config, dataset, CSV, resources), one line per problem, found before the
solve (:func:`check_settings`, :func:`check_inputs`); 2 the hard targets cannot all hold — the
conflict and the smallest relaxation of each target are printed and written to relaxation.csv;
3 the solver stopped without an optimal answer (time limit, numerical trouble).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any, Mapping

import pandas as pd

from model import citations, market, readings, results, uncertainty
from model import timing as tm
from model.config import (ConfigError, RunConfig, as_dict, fast_overrides, number_problems,
                          to_settings)
from model.data import DEFAULT_DATASET, REPO_ROOT, Dataset, load_dataset
from model.errors import EXIT_INFEASIBLE, EXIT_INPUT, EXIT_OK, EXIT_SOLVER, UserError
from model.inputs import (InputError, ModelInputs, build_inputs, dataset_notes,
                          residual_land_value_yuan_m2)
from model.labels import Labels, resolve_lang
from model.optimise import StructureChanged
from model.solve import PlanModel, Solution, option_problems, solver_versions
from model.validate import replay_memory_problems

log = logging.getLogger(__name__)

#: lean solves Sweep keeps to reuse: a Saltelli design's row block (A, AB_1 … AB_D, B) is
#: D + 2 evaluations, and AB_i for a replay-only input has A's optimiser inputs
SOLVE_CACHE_SIZE = 32


@dataclass(frozen=True)
class Outcome:
    """Named outcomes of one run. ``tables`` are the files a run directory holds (without .csv)."""

    status: str  # optimal | infeasible | input_error | solver_error
    exit_code: int
    problem_type: str | None = None
    headline: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    messages: tuple[str, ...] = ()  # input errors, one line each; or the human summary


def resolve_dataset(path: str | None) -> Path:
    """The dataset folder: the bundled Chifeng plan by default; a relative path is taken from the
    directory the command was run in."""
    return DEFAULT_DATASET if path in (None, "") else Path(path).expanduser().resolve()


def run_dataset(settings: RunConfig, dataset: Dataset | None = None) -> Dataset:
    """The run's dataset: ``dataset`` or the folder ``settings.dataset`` names (the bundled
    Chifeng data by default), with the run's ``guidance.split`` when it sets one. Raises
    DatasetError."""
    ds = dataset if dataset is not None else load_dataset(resolve_dataset(settings.dataset))
    split = settings.guidance.split
    if split is not None and split != ds.guidance_split:
        ds = dataclasses.replace(ds, guidance_split=str(split))
    return ds


def optimise_run(
    settings: RunConfig,
    ds: Dataset,
    run_dir: str | Path | None = None,
    t_start: float | None = None,
    inputs: ModelInputs | None = None,
) -> Outcome:
    """One optimiser run (build inputs, build the model, solve, report) — :func:`run_model`
    without the mid-term review's extra stage. ``inputs``: those of ``settings`` and ``ds``
    when the caller has built them already (the review's re-plan)."""
    t_start = perf_counter() if t_start is None else t_start
    try:
        if inputs is None:
            inputs = build_inputs(settings, ds)
        check_inputs(settings, ds, inputs)
    except UserError as exc:
        return input_error(exc.problems)

    pm = PlanModel(inputs, settings.solver)
    if run_dir is not None:
        pm.log_to(Path(run_dir) / "highs.log")
        if settings.solver.write_mps:
            pm.write_mps(Path(run_dir) / "model.mps")
    log.info(
        "built %s with %d columns, %d rows, %d binaries in %.3f s",
        pm.problem_type,
        pm.size["columns"],
        pm.size["rows"],
        pm.size["binaries"],
        pm.build_time_s,
    )
    return solve_and_report(settings, ds, inputs, pm, t_start)


def check_settings(settings: RunConfig) -> None:
    """Checks of a config that need more than its dataclasses: HiGHS's option list. Raises
    ConfigError (one line per problem) before any work."""
    problems = number_problems(settings) + option_problems(settings.solver.options)
    if problems:  # number_problems again: fast_overrides skips to_settings' walk
        raise ConfigError(problems)


def check_inputs(settings: RunConfig, ds: Dataset, inputs: ModelInputs) -> None:
    """Checks that need the built inputs, run before the solver so that no error appears after
    a solve: the dwelling stock outlives the removals, the replay's parameters, the memory the
    replay needs (and the review's replays)."""
    problems: list[str] = []
    for scope in inputs.vacancy_scopes:  # the dwelling stock cannot be removed below zero
        removed = sum(inputs.removals_10k.get((scope, y), 0.0) for y in inputs.years)
        if removed >= inputs.dwellings0_10k[scope] > 0:
            problems.append(
                f"vacancy.removals_10k_per_year = {settings.vacancy.removals_10k_per_year!r} "
                f"removes {removed:.4g} 万 dwellings of {scope} over {inputs.period}, more than "
                f"its {inputs.dwellings0_10k[scope]:.4g} 万 dwellings; expected removals below "
                f"the stock")
    if settings.sim.enabled:
        try:
            replay_params(settings, ds, inputs)
        except ValueError as exc:
            problems.append(f"sim: {exc}")
        months = 12 * len(inputs.years)
        problems += replay_memory_problems("sim.replications", settings.sim.replications,
                                           len(inputs.regions), months)
        review = settings.review
        if review.enabled and review.adjust and review.replications is not None:
            problems += replay_memory_problems("review.replications", review.replications,
                                               len(inputs.regions), months,
                                               copies=review.workers)
    if problems:
        raise ConfigError(problems)


class Sweep:
    """One built model re-solved for many overrides (sweeps, sensitivity, the mid-term review).

    ``Sweep(cfg).run({"demand.multiplier": 0.9, "targets.cycle_months_end": 21})`` applies the
    dotted overrides to the base config and re-solves the model already built, without
    rebuilding it (only if an override changes the model's shape — level, lag, land rule, which
    targets exist — is a new model built). Returns the same :class:`Outcome` as :func:`run_model`.
    Set ``solver.duals=false`` in the base config to skip the duals' extra LP per point."""

    def __init__(self, cfg: Any, dataset: Dataset | None = None, reuse_solves: bool = True):
        """``reuse_solves``: keep the last lean solves and read a plan back when the optimiser's
        inputs equal one of them (False: solve every time, as benchmarks/bench_evaluate.py
        needs to time the evaluation path against its core)."""
        self.settings = to_settings(cfg)
        check_settings(self.settings)
        self.dataset = run_dataset(self.settings, dataset)
        inputs = build_inputs(self.settings, self.dataset)
        check_inputs(self.settings, self.dataset, inputs)
        self.model = PlanModel(inputs, self.settings.solver)
        self.rebuilds = 0
        # (inputs, solver options, solution) of the last few lean solves: an experiment that
        # varies only the replay's inputs (sim.*) gives the optimiser equal inputs, so its plan
        # is read back instead of re-solved (a Saltelli design's columns for replay-only inputs)
        self._solved: deque[tuple[ModelInputs, Any, Solution]] = deque(
            maxlen=SOLVE_CACHE_SIZE if reuse_solves else 0)
        self.reused = 0

    def run(self, overrides: Mapping[str, Any] | None = None,
            outputs: str = "full") -> Outcome:
        """``outputs``: ``full`` — every table and summary a run directory holds; ``outcomes``
        — only what an experiment reads (the headline indicators, the plan and the replay's
        summary): no duals, uncertainty table, monthly tables or summary.json fields."""
        t_start = perf_counter()
        try:
            try:
                settings = fast_overrides(self.settings, overrides or {})
            except (ValueError, TypeError) as exc:  # int(nan) and the like: the value's fault
                if isinstance(exc, UserError):
                    raise
                given = ", ".join(f"{k} = {v!r}" for k, v in (overrides or {}).items())
                raise ConfigError(f"{given} is not valid ({exc})") from None
            check_settings(settings)
            inputs = build_inputs(settings, self.dataset)
            check_inputs(settings, self.dataset, inputs)
        except UserError as exc:
            return input_error(exc.problems)
        if outputs == "outcomes":
            sol = next((sol for seen, solver, sol in self._solved
                        if solver == settings.solver and seen == inputs), None)
            if sol is not None:
                self.reused += 1
                return solve_outcomes(settings, self.dataset, inputs, self.model, sol)
        try:
            self.model.update(inputs)
            self.model.configure(settings.solver)
        except StructureChanged:
            self.model = PlanModel(inputs, settings.solver)
            self._solved.clear()
            self.rebuilds += 1
        if outputs == "outcomes":
            out = solve_outcomes(settings, self.dataset, inputs, self.model)
            self._solved.append((inputs, settings.solver, self.model.last))
            return out
        return solve_and_report(settings, self.dataset, inputs, self.model, t_start)


def solve_outcomes(settings: RunConfig, ds: Dataset, inputs: ModelInputs,
                   pm: PlanModel, sol: Solution | None = None) -> Outcome:
    """The lean evaluation of experiments: solve (unless ``sol``, a solution of these very
    inputs, is given), the plan, the headline indicators (targets missed counted), and — with
    the replay on — the replay's summary table only."""
    sol = pm.solve() if sol is None else sol
    if not sol.ok:
        status = "infeasible" if sol.status == "infeasible" else "solver_error"
        code = EXIT_INFEASIBLE if status == "infeasible" else EXIT_SOLVER
        return Outcome(status, code, pm.problem_type, {}, {}, {"status": status},
                       (f"{status} ({sol.model_status})",))
    plan = results.plan_table(inputs, sol)
    tables = {"plan": plan}
    head = results.headline(inputs, plan, None)
    summary: dict[str, Any] = {"status": "optimal", "objective": sol.objective}
    if settings.sim.enabled:
        try:
            replayed = replay_plan(settings, ds, inputs, plan)
        except ValueError as exc:
            return input_error([f"sim: {exc}"])
        tables["replay_summary"] = market.replay_summary(replayed)
        summary["replay"] = replay_headline(replayed, tables["replay_summary"])
    return Outcome("optimal", EXIT_OK, pm.problem_type, head, tables, summary, ())


def solve_and_report(
    settings: RunConfig, ds: Dataset, inputs: ModelInputs, pm: PlanModel, t_start: float
) -> Outcome:
    """Solve the model as it stands and turn the answer into an Outcome (tables, summary)."""
    sol = pm.solve()
    base = _summary_base(settings, ds, inputs, pm, sol)
    L = Labels.for_dataset(ds, settings.report.lang)  # the printed summary's language

    if sol.ok:
        plan = results.plan_table(inputs, sol)
        targets = results.targets_table(inputs, sol, plan)
        tables = {"plan": plan, "targets": targets, "money": results.money_table(inputs, plan)}
        if settings.solver.duals:
            duals = pm.duals()
            tables["duals"] = results.duals_table(inputs, duals, plan)
            base["duals"] = {
                "status": duals.status,
                "from": "LP with binaries fixed" if duals.fixed_binaries else "the LP",
                "lp_objective": duals.lp_objective,
                "binding_constraints": len(duals.rows),
            }
        head = results.headline(inputs, plan, targets)
        # the printed summary leads with the plan's own arithmetic, then how likely it is to hold
        lead, detail = uncertainty.own_arithmetic_lines(plan, inputs, L=L, cfg=settings), []
        if inputs.plan_fixed:
            tables["deliverability"] = readings.deliverability_table(inputs, plan)
            detail += readings.deliverability_lines(tables["deliverability"], L=L)
            if settings.fixed_plan == "guidance" and not inputs.observed_years:
                tables["plan_readings"] = readings.plan_readings_table(ds, inputs)
                lead += readings.readings_lines(tables["plan_readings"], L=L)
        if settings.sim.enabled:
            try:
                replayed = replay_plan(settings, ds, inputs, plan)
            except ValueError as exc:  # checked before the solve; this is a safety net
                return input_error([f"sim: {exc}"])
            tables.update(replay_tables(replayed, inputs))
            base["replay"] = replay_headline(replayed, tables["replay_summary"])
            detail += market.summary_lines(replayed, L=L, table=tables["replay_summary"])
            if settings.uncertainty.enabled:
                try:
                    found = uncertainty_outcome(settings, ds, inputs, plan)
                except InputError as exc:
                    return input_error(exc.problems)
                tables.update(found[0])
                base["uncertainty"] = found[1]
                lead[1:1] = uncertainty.other_demand_lines(found[0]["uncertainty"], inputs, L)
                lead += found[2]
        missed = results.missed_targets(targets)
        base.update(
            status="optimal",
            headline=head,
            objective_terms=results.objective_terms(inputs, plan, sol),
            targets_missed=list(missed.loc[missed["origin"] != "rule", "target_key"]),
            rules_broken=list(missed.loc[missed["origin"] == "rule", "target_key"]),
            total_time_s=perf_counter() - t_start,
        )
        if inputs.observed_years:
            base["observed_years"] = list(inputs.observed_years)
        summary = results.human_summary(base, targets, None, L=L)
        detail += [L.pick(zh="  数据集：{note}", en="  dataset: {note}", note=note)
                   for note in dataset_notes(settings, ds, inputs, L.lang)]
        return Outcome(
            "optimal",
            EXIT_OK,
            pm.problem_type,
            head,
            tables,
            base,
            tuple(summary[:1] + lead + summary[1:] + detail),
        )

    if sol.status == "infeasible":
        relax = pm.relaxation() if settings.solver.relaxation else None
        table = results.relaxation_table(inputs, relax)
        base.update(
            status="infeasible",
            total_time_s=perf_counter() - t_start,
            conflict=table.loc[table["in_conflict"], "target_key"].tolist(),
            hard_targets=table["target_key"].tolist(),
            conflict_note=_conflict_note(inputs, relax),
        )
        return Outcome(
            "infeasible",
            EXIT_INFEASIBLE,
            pm.problem_type,
            {},
            {"relaxation": table},
            base,
            tuple(results.human_summary(base, None, table, L=L)),
        )

    base.update(status="solver_error", total_time_s=perf_counter() - t_start)
    msg = (
        f"HiGHS stopped without an optimal answer ({sol.model_status}); no plan is reported. "
        f"Try solver.time_limit_s or solver.mip_rel_gap."
    )
    return Outcome("solver_error", EXIT_SOLVER, pm.problem_type, {}, {}, base, (msg,))


def uncertainty_outcome(settings: RunConfig, ds: Dataset, inputs: ModelInputs,
                        plan: pd.DataFrame) -> tuple[dict, dict, list[str]]:
    """The plan replayed under every demand case × price behaviour, and the break-even values:
    (tables uncertainty/breakeven, a summary.json block, printed lines)."""

    def replay_fn(demand, **overrides):
        return replay_plan(settings, ds, inputs, plan, demand, **overrides)

    L = Labels.for_dataset(ds, settings.report.lang)
    table = uncertainty.uncertainty_table(settings, ds, inputs, replay_fn)
    tables = {"uncertainty": table}
    lines = uncertainty.uncertainty_lines(table, L=L) + uncertainty.level_spread_lines(table, L=L)
    block: dict[str, Any] = {"cells": len(uncertainty.grid_rows(table))}
    if settings.uncertainty.breakeven:
        be = uncertainty.breakeven_table(settings, inputs, plan, replay_fn)
        tables["breakeven"] = be
        lines += [L.pick(zh="盈亏平衡点（另一假设取默认值）：",
                         en="Break-even (the other assumption at its default):")]
        lines += uncertainty.breakeven_lines(be, L=L)
        block["breakeven"] = be.to_dict(orient="records")
    return tables, block, lines


def replay_plan(
    settings: RunConfig, ds: Dataset, inputs: ModelInputs, plan: pd.DataFrame,
    demand_10k_m2: Mapping[tuple[str, int], float] | None = None, **overrides: Any,
) -> market.ReplayResult:
    """The market replay of a plan under the optimiser's own assumptions: its timing model, plot
    ratios and opening pipeline, dwelling size, household formation, removals and revitalised
    land (so both stages describe the same city). ``demand_10k_m2`` replaces the plan's demand
    (a stress case); ``overrides`` replace replay parameters (price_response, replications…)."""
    params = replay_params(settings, ds, inputs, **overrides)
    start, pipeline = observed_start(inputs, plan) if inputs.observed_years else (None,
                                                                               inputs.pipeline)
    return market.replay(plan, ds, params, level=inputs.level,
                         revitalised_ha=inputs.revitalised_ha,
                         plot_ratio=inputs.plot_ratio_10k_m2_per_ha, pipeline=pipeline,
                         demand_10k_m2=demand_10k_m2, start=start)


def observed_start(inputs: ModelInputs, plan: pd.DataFrame
                   ) -> tuple[market.ReplayStart, tm.Pipeline]:
    """A mid-term review's replay starts where the actuals end: the observed stock at the end of
    the last observed year, that year's sales ÷ 12 as the trailing monthly rate (the cycle and
    the land rule), and the pipeline then — land sold before the plan (表21) and in the observed
    years (the actuals), under the timing model, with the floor area ready but not presold
    carried as ready at the start (docs/timing.md)."""
    last = inputs.observed_years[-1]
    rows = plan[plan["year"] == last].set_index("region")
    start = market.ReplayStart(
        first_year=last + 1,
        inventory_10k_m2={r: float(rows.loc[r, "inventory_end_10k_m2"]) for r in inputs.regions},
        sales_10k_m2_per_month={r: float(rows.loc[r, "sales_10k_m2"]) / 12.0
                                for r in inputs.regions},
    )
    land = plan[plan["year"].isin(inputs.observed_years)]
    area = dict(inputs.pipeline.tranches)
    for row in land.itertuples(index=False):
        area[(row.region, int(row.year))] = (
            area.get((row.region, int(row.year)), 0.0)
            + float(row.land_ha) * inputs.plot_ratio_10k_m2_per_ha[row.region])
    remaining = tuple(y for y in inputs.years if y > last)
    pipe = tm.opening_pipeline(area, inputs.regions, last, remaining, inputs.ready_shares)
    pipe = tm.with_held_back(pipe, dict(inputs.carry_ready_10k_m2), remaining[0],
                             "ready at the end of the observed years but not presold")
    return start, pipe


def replay_params(settings: RunConfig, ds: Dataset, inputs: ModelInputs,
                  **overrides: Any) -> market.ReplayParams:
    """The replay's parameters: ``sim.*`` plus the optimiser's shared assumptions."""
    city = ds.city.region_id
    shared: dict[str, Any] = {"timing": inputs.timing}
    if settings.sim.land_rule is None:  # follow the optimiser's rule; "none" → record only
        if inputs.land_rule in ("national", "strict"):
            shared["land_rule"] = inputs.land_rule
        else:
            shared.update(land_rule="national", enforce_land_rule=False)
    if city in inputs.dwelling_size_m2:
        shared["dwelling_size_m2"] = inputs.dwelling_size_m2[city]
    for name, series in (("household_formation_10k_per_year", inputs.household_formation_10k),
                         ("demolitions_10k_per_year", inputs.removals_10k)):
        values = [series[(city, y)] for y in inputs.years if (city, y) in series]
        if values:
            shared[name] = sum(values) / len(values)
    if settings.sim.enforce_land_rule is None and inputs.evaluate_only:
        shared["enforce_land_rule"] = False  # the city follows the plan as written
    if settings.sim.enforce_presale_timing is None and inputs.evaluate_only:
        shared["enforce_presale_timing"] = False  # presale on the plan's schedule (deliverability)
    if settings.targets.cycle_months_end is not None:  # the run's target, as the optimiser's
        shared["cycle_target_months"] = float(settings.targets.cycle_months_end)
    if settings.sim.presell_to_aim and not inputs.evaluate_only:
        shared["presell_below_months"] = inputs.aim_cycle_months
    return market.ReplayParams.from_config(settings.sim, **{**shared, **overrides})


def replay_tables(result: market.ReplayResult,
                  inputs: ModelInputs | None = None) -> dict[str, pd.DataFrame]:
    """The replay's files in a run directory (monthly.csv, replay_summary.csv, replay_land.csv;
    with the run's inputs also replay_money.csv: money on the simulated price paths)."""
    tables = {"monthly": market.monthly_table(result),
              "replay_summary": market.replay_summary(result),
              "replay_land": market.land_review_table(result)}
    if inputs is not None:
        def value(price: float) -> float:
            return residual_land_value_yuan_m2(price, inputs.developer_build_cost_yuan_m2,
                                               inputs.tax_share_of_price,
                                               inputs.margin_share_of_price)

        tables["replay_money"] = market.replay_money_table(
            result, inputs.price_yuan_m2, value, inputs.purchase_price_factor)
    return tables


def replay_headline(result: market.ReplayResult,
                    table: pd.DataFrame | None = None) -> dict[str, Any]:
    """The replay's headline probabilities for summary.json, for the aggregate and main city
    (``table``: the replay_summary table when already computed)."""
    table = market.replay_summary(result) if table is None else table
    summary = table.set_index("region")
    out: dict[str, Any] = {"replications": result.params.replications,
                           "seed": result.params.seed,
                           "deterministic": result.params.deterministic,
                           "land_rule": result.params.land_rule}
    for rid in (result.inputs.aggregate_id, result.inputs.main_city_id):
        if rid in summary.index:
            row = summary.loc[rid]
            out[rid] = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    return out


def _conflict_note(inputs, relax) -> str:
    """Why relaxing targets cannot help, when it cannot."""
    if relax is None:
        return "relaxation not computed (solver.relaxation=false)"
    if relax.joint is not None:
        return ""
    if inputs.fixed_land_ha is not None and inputs.land_rule != "none":
        return (
            "infeasible even with every hard target relaxed: the land rule forbids land the fixed "
            "plan uses; evaluate the plan with evaluate_only=true (as +scenario=plan_as_written "
            "does) or set land.rule=none"
        )
    if inputs.fixed_land_ha is not None or inputs.observed_years:
        return (
            "infeasible even with every hard target relaxed: the fixed decisions (fixed_plan "
            "or the observed years) cannot hold together"
        )
    return (
        "infeasible even with every hard target relaxed, with no decision fixed: the model's "
        "own rules (land rule, stock balance, the config's bounds) cannot hold together; "
        "check land.* and the land rule, or report it with this run's summary.json"
    )


def input_error(problems: list[str]) -> Outcome:
    """The Outcome of a run whose inputs failed their checks: status ``input_error``, exit 1,
    one message per problem (docs/errors.md); no tables. Shared by the run, sweeps, the
    mid-term review and the robust plan."""
    summary = {
        "status": "input_error",
        "errors": list(problems),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return Outcome("input_error", EXIT_INPUT, summary=summary, messages=tuple(problems))


def _summary_base(settings: RunConfig, ds: Dataset, inputs, pm: PlanModel, sol) -> dict[str, Any]:
    """An optimiser run's summary.json before the outcome's own keys (plan, or conflict)."""
    return {
        **summary_solve(settings, sol, pm.build_time_s, pm.size),
        **summary_dataset(ds, inputs),
        **summary_context(settings, ds, inputs),
        **summary_config(settings, inputs),
    }


def summary_context(settings: RunConfig, ds: Dataset, inputs: ModelInputs) -> dict[str, Any]:
    """summary.json's middle keys: the rules and citations the run used, what the dataset lacks,
    the commit, the report language and when it was made (compare and rundir read ``created``).
    Shared with the robust run."""
    return {
        "evaluate_only": inputs.evaluate_only,
        "land_rule": inputs.land_rule,
        "land_rule_source": inputs.land_rule_source,
        **citations.for_summary(settings, ds, inputs),  # what reports cite (model/citations.py)
        "dataset_notes": dataset_notes(settings, ds, inputs),
        "git_commit": _git_commit(),
        "report_lang": resolve_lang(settings.report.lang, ds.manifest),  # model/labels.py
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def summary_solve(settings: RunConfig, sol, build_time_s: float,
                  size: Mapping[str, int]) -> dict[str, Any]:
    """summary.json's opening keys: the run's status and its solve (``sol``: a
    :class:`~model.solve.Solution`, or the robust plan's extensive-form solution), the model's
    build time and size. Shared with the robust run (model/robust/run.py)."""
    return {
        "status": sol.status,
        "scenario": settings.scenario,
        "problem_type": sol.problem_type,
        "solver_status": sol.model_status,
        "solver": solver_versions(),
        "objective": sol.objective,
        "mip_gap": sol.mip_gap,
        "solve_time_s": sol.solve_time_s,
        "build_time_s": build_time_s,
        "model_size": size,
    }


def summary_dataset(ds: Dataset, inputs: ModelInputs) -> dict[str, Any]:
    """summary.json's dataset (name, folder, data hash) and the level the run plans at."""
    return {
        "dataset": {"name": ds.name, "path": str(ds.root), "data_hash": ds.data_hash},
        "data_hash": ds.data_hash,
        "level": inputs.level,
    }


def summary_config(settings: RunConfig, inputs: ModelInputs) -> dict[str, Any]:
    """summary.json's closing keys: the inputs the run derived (with how) and its config."""
    return {
        "derived_inputs": [
            {"name": d.name, "value": d.value, "unit": d.unit, "how": d.how}
            for d in inputs.derivations
        ],
        "config": as_dict(settings),
    }


def _git_commit() -> str | None:
    """The repository's HEAD commit (read-only), or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
