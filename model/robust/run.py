"""``python -m model.run +scenario=robust``: the robust plan, one run (docs/robust.md).

:func:`run_robust` wires the stages and returns the usual :class:`~model.pipeline.Outcome`:

1. the deterministic plan (the optimiser on the run's own demand) — the baseline, and the
   reference price path of the price response (model/robust/scenarios.py);
2. ``robust.scenarios`` scenarios sampled from ``robust.seed``;
3. the extensive form (model/robust/extensive.py), solved by HiGHS → the first stage;
4. the robust plan at the run's own demand: the first stage (land, purchases, subsidised
   building) fixed in the deterministic model, which decides presale within what that land has
   made ready, sales and stock — plan.csv, targets.csv, money.csv are this plan's, like any run's;
   the land rule's verdicts are reported on this path (targets.csv), not enforced on it;
5. the mean-value plan: the deterministic optimiser at the scenarios' mean demand and lag (so the
   check can tell hedging from a lower central forecast);
6. the replay of the robust plan (monthly.csv, replay_summary.csv, …) and, with
   ``robust.check``, the out-of-sample check of all three plans (robust_vs_deterministic.csv).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from time import perf_counter
from typing import Any, Mapping

import numpy as np
import pandas as pd

from model import pipeline, results
from model.config import RunConfig, SolverConfig
from model.data import Dataset
from model.inputs import InputError, ModelInputs, build_inputs
from model.pipeline import EXIT_INFEASIBLE, EXIT_OK, EXIT_SOLVER, Outcome, input_error
from model.robust import check as chk
from model.robust import scenarios as sc
from model.robust.extensive import ExtensiveForm, ExtensiveSolution, band_scopes
from model.solve import PlanModel, Solution

log = logging.getLogger(__name__)

OUTCOME_COLUMNS = [
    "cycle_end_months_city", "cycle_end_months_main_city", "in_band_city", "in_band_main_city",
    "band_loss_months", "unmet_demand_10k_m2", "presale_10k_m2", "presale_above_schedule_10k_m2",
    "scenario_objective", "risk_term",
]


def run_robust(settings: RunConfig, ds: Dataset, run_dir: str | Path | None = None) -> Outcome:
    """The robust run (module docstring); nothing written except HiGHS's log to ``run_dir``."""
    t_start = perf_counter()
    problems = sc.check_settings(settings)
    if problems:
        return input_error(problems)
    rob = settings.robust
    quiet = dataclasses.replace(settings.solver, duals=False, relaxation=False)
    try:
        inputs = build_inputs(settings, ds)
        ref = sc.reference_plan(settings, ds, inputs, quiet)
        det = ref.solution
        if not det.ok:
            return _solver_outcome(settings, f"the deterministic plan: {det.model_status}",
                                   det.status)
        plan_det = ref.plan
        t0 = perf_counter()
        scenarios = ref.sample()
        sample_time = perf_counter() - t0
        log.info("sampled %d scenarios in %.2f s", len(scenarios), sample_time)
        ef = ExtensiveForm(scenarios, rob, settings.solver)
    except InputError as exc:
        return input_error(exc.problems)
    log.info("extensive form: %d scenarios, %d columns, %d rows, %d binaries, built in %.2f s",
             ef.size["scenarios"], ef.size["columns"], ef.size["rows"], ef.size["binaries"],
             ef.build_time_s)
    log_path = Path(run_dir) / "highs.log" if run_dir is not None else None
    sol = ef.solve(log_path)
    if not sol.ok:
        return _solver_outcome(settings, f"the extensive form: {sol.model_status}", sol.status)

    schedule = (dict(sol.first_stage["presale_schedule_10k_m2"]) if rob.presale == "schedule"
                else None)
    robust_sol = evaluate_first_stage(inputs, sol.first_stage, schedule, quiet)
    if not robust_sol.ok:
        return _solver_outcome(settings, f"the robust plan's arithmetic: "
                               f"{robust_sol.model_status}", robust_sol.status)
    plan = results.plan_table(inputs, robust_sol)
    targets = results.targets_table(inputs, robust_sol, plan)
    mean_inputs = mean_value_inputs(settings, ds, inputs, scenarios)
    mean_sol = PlanModel(mean_inputs, quiet).solve()
    plans = {"robust": plan, "deterministic": plan_det}
    if mean_sol.ok:
        plans["mean_value"] = results.plan_table(mean_inputs, mean_sol)
    else:
        log.warning("the mean-value plan: %s; left out of the check", mean_sol.model_status)

    outcomes = scenario_outcomes(sol, scenarios, inputs)
    tables: dict[str, pd.DataFrame] = {
        "plan": plan, "targets": targets, "money": results.money_table(inputs, plan),
        "plan_deterministic": plan_det,
        "robust_scenarios": pd.concat([sc.scenario_table(scenarios, inputs), outcomes], axis=1),
    }
    if "mean_value" in plans:
        tables["plan_mean_value"] = plans["mean_value"]
    lines: list[str] = []
    if settings.sim.enabled:
        replayed = pipeline.replay_plan(settings, ds, inputs, plan)
        tables.update(pipeline.replay_tables(replayed, inputs))
    check_block: dict[str, Any] = {"enabled": rob.check}
    if rob.check:
        t0 = perf_counter()
        cells = chk.check_cells(settings, ds, plans)
        table = chk.comparison_table(cells, inputs, plans)
        tables["robust_check_cells"] = cells
        tables["robust_vs_deterministic"] = table
        lines += chk.check_lines(table, list(plans))
        check_block.update(
            seed=rob.check_seed, replications_per_cell=rob.check_replications,
            lag_months_mean=chk.lag_grid(*rob.lag_months_mean_range, rob.check_lag_points),
            time_s=perf_counter() - t0,
            all=table[table["demand_case"] == "all"].to_dict(orient="records"))

    in_sample = in_sample_summary(outcomes, rob)
    head = results.headline(inputs, plan, targets)
    summary = {
        **pipeline.summary_solve(settings, sol, ef.build_time_s, ef.size),
        "robust": {
            "risk": rob.risk, "cvar_alpha": rob.cvar_alpha, "cvar_weight": rob.cvar_weight,
            "chance_alpha": rob.chance_alpha, "presale": rob.presale,
            "scenarios": len(scenarios), "seed": rob.seed, "sample_time_s": sample_time,
            "binaries_from": sol.binaries_from,
            "subsample_solve_time_s": sol.subsample_solve_time_s,
            "in_sample": in_sample,
            "deterministic_objective": det.objective,
            "mean_value_objective": mean_sol.objective,
        },
        "check": check_block,
        **pipeline.summary_dataset(ds, inputs), **pipeline.summary_context(settings, ds, inputs),
        "headline": head,
        "targets_missed": results.missed_targets(targets)["target_key"].tolist(),
        **pipeline.summary_config(settings, inputs), "total_time_s": perf_counter() - t_start,
    }
    lead = [f"run {settings.scenario}: robust plan over {len(scenarios)} scenarios "
            f"({sol.problem_type}, {ef.size['columns']} columns, {ef.size['rows']} rows; "
            f"built {ef.build_time_s:.1f} s, HiGHS {sol.solve_time_s:.1f} s; "
            f"{sol.binaries_from})",
            f"  risk: {risk_text(rob)}; in sample: E[months outside the band] "
            f"{in_sample['expected_band_loss_months']:.2f}, CVaR_{rob.cvar_alpha:g} "
            f"{in_sample['cvar_band_loss_months']:.2f}, P(city in band) "
            f"{in_sample['p_in_band_city']:.2f}, P(main city in band) "
            f"{in_sample['p_in_band_main_city']:.2f}"]
    lead += results.human_summary({**summary, "objective": robust_sol.objective}, targets,
                                  None)[1:]
    return Outcome("optimal", EXIT_OK, sol.problem_type, head, tables, summary,
                   tuple(lead + lines))


def risk_text(rob) -> str:
    """The risk measure in words."""
    if rob.risk == "cvar":
        return (f"expected cost + {rob.cvar_weight:g} points × CVaR_{rob.cvar_alpha:g} of the "
                f"months the last year's cycle misses the band (city + main city)")
    if rob.risk == "chance":
        return f"expected cost, P(last year's cycle in the band) ≥ {rob.chance_alpha:g}"
    return "expected cost (risk-neutral)"


def evaluate_first_stage(inputs: ModelInputs, first: Mapping[str, Mapping],
                         schedule: Mapping[tuple[str, int], float] | None,
                         solver: SolverConfig) -> Solution:
    """The robust plan at the run's own demand: land, public purchases and subsidised building
    fixed to the first stage (and presale to the schedule with ``robust.presale=schedule``); the
    deterministic model decides presale (within what the land has made ready), sales and stock —
    the recourse of the run's own scenario. The land rule is not a constraint here (the land was
    chosen to satisfy it in every scenario); plan.csv and targets.csv report its verdicts on this
    path."""
    keys = [(r, y) for r in inputs.regions for y in inputs.years]
    pm = PlanModel(dataclasses.replace(inputs, land_rule="none"), solver)
    fixed = {family: {k: first[family][k] for k in keys}
             for family in ("land_ha", "purchased_10k_m2", "subsidised_new_10k_m2")}
    if schedule is not None:
        fixed["supply_10k_m2"] = {k: schedule[k] for k in keys}
    pm.fix(fixed)
    return pm.solve()


def mean_value_inputs(settings: RunConfig, ds: Dataset, inputs: ModelInputs,
                      scenarios) -> ModelInputs:
    """The mean-value problem: the deterministic optimiser (its own targets and penalties) at the
    scenarios' mean demand path and the lag nearest their mean."""
    lag = float(np.rint(np.mean([s.lag_months_mean for s in scenarios])))
    timed = sc.InputsByLag(settings, ds, inputs)(lag)
    return sc.scenario_inputs(timed, inputs, sc.mean_demand(scenarios))


def scenario_outcomes(sol: ExtensiveSolution, scenarios, inputs: ModelInputs) -> pd.DataFrame:
    """Per scenario, in sample: the last year's cycle (city, main city) as the replay would see
    it — the stock net of demand turned away (never below 0) ÷ a month of the last year's demand
    — and whether it is in the band; the months outside the band (the band loss); unmet demand;
    presale and how much of it runs ahead of the schedule; the scenario's objective and risk
    term."""
    last, lo, hi = inputs.final_year, inputs.band_low_months, inputs.band_high_months
    scopes = dict(band_scopes(inputs))
    rows = []
    for s, v in zip(scenarios, sol.scenarios):
        demand = s.inputs.demand_10k_m2
        row: dict[str, Any] = {}
        loss = 0.0
        for scope in ("city", "main_city"):
            members = scopes.get(scope, inputs.regions)
            d = sum(demand[(r, last)] for r in members)
            net = sum(v["inventory_end_10k_m2"][(r, last)]
                      - sum(v["unmet_demand_10k_m2"][(r, y)] for y in inputs.years)
                      for r in members)
            c = 12.0 * max(net, 0.0) / d if d > 0 else math.inf
            row[f"cycle_end_months_{scope}"] = c
            row[f"in_band_{scope}"] = bool(lo - 1e-6 <= c <= hi + 1e-6)
            if scope in scopes:
                loss += 12.0 * (v["band_above_10k_m2"][scope]
                                + v["band_below_10k_m2"][scope]) / d
        supply = sum(v["supply_10k_m2"].values())
        schedule = sum(v.get("presale_schedule_10k_m2", v["supply_10k_m2"]).values())
        rows.append({**row, "band_loss_months": loss,
                     "unmet_demand_10k_m2": sum(v["unmet_demand_10k_m2"].values()),
                     "presale_10k_m2": supply, "presale_above_schedule_10k_m2": supply - schedule})
    frame = pd.DataFrame(rows)
    frame["scenario_objective"] = list(sol.scenario_objective)
    frame["risk_term"] = list(sol.scenario_risk)
    return frame[OUTCOME_COLUMNS]


def cvar(losses: np.ndarray, probabilities: np.ndarray, alpha: float) -> float:
    """CVaR_α of a discrete loss: the mean of the worst 1 − α of probability mass
    (Rockafellar–Uryasev: min_η η + E[(L − η)⁺] ÷ (1 − α))."""
    order = np.argsort(losses)[::-1]
    tail, total = 1.0 - alpha, 0.0
    left = tail
    for i in order:
        take = min(probabilities[i], left)
        total += take * losses[i]
        left -= take
        if left <= 1e-12:
            break
    return total / tail if tail > 0 else float(losses.max())


def in_sample_summary(outcomes: pd.DataFrame, rob) -> dict[str, float]:
    """The in-sample distribution of the band loss and the cycle (equal probabilities)."""
    losses = outcomes["band_loss_months"].to_numpy()
    p = np.full(len(losses), 1.0 / len(losses))
    return {
        "expected_band_loss_months": float(losses.mean()),
        "cvar_band_loss_months": cvar(losses, p, rob.cvar_alpha),
        "p_in_band_city": float(outcomes["in_band_city"].mean()),
        "p_in_band_main_city": float(outcomes["in_band_main_city"].mean()),
        "expected_unmet_demand_10k_m2": float(outcomes["unmet_demand_10k_m2"].mean()),
        "expected_objective": float(outcomes["scenario_objective"].mean()),
    }


def _solver_outcome(settings: RunConfig, what: str, status: str) -> Outcome:
    code = EXIT_INFEASIBLE if status == "infeasible" else EXIT_SOLVER
    msg = (f"robust plan: HiGHS found no optimal answer for {what}; no plan is reported"
           + ("" if status == "infeasible" else
              ". Try solver.time_limit_s or solver.mip_rel_gap"))
    summary = {"status": status if status == "infeasible" else "solver_error",
               "scenario": settings.scenario, "error": msg}
    return Outcome(summary["status"], code, None, {}, {}, summary, (msg,))

