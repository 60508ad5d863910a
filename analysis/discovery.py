"""``python -m analysis.discovery [--config FILE] [discovery.KEY=VALUE ...]``: in which regions of
the uncertain inputs does a target of the plan fail? (scenario discovery with PRIM).

The steps, EMA-workbench style (Bryant & Lempert 2010, *Technological Forecasting and Social
Change* 77(1); Kwakkel & Jaxa-Rozen 2016, *Environmental Modelling & Software* 79):

1. **Inputs** — the uncertain inputs and their bounds are those of the sensitivity analysis
   (``discovery.inputs_from``, default conf/sensitivity/default.yaml: one source of truth), less
   ``drop_inputs``, plus or changed by ``discovery.inputs``.
2. **Sample** — a Latin hypercube of ``n`` points over those bounds (SALib's ``latin`` sampler).
3. **Evaluate** — :class:`analysis.sensitivity.ModelEvaluator` through
   :func:`analysis.sensitivity.run_samples` (joblib or Dask), on the sensitivity base model with
   ``discovery.model`` on top (by default the plan as written, replayed under the market rules of
   ``+scenario=stress``).
4. **Classify** — a sample *fails* if any ``discovery.failure`` condition holds (an outcome above
   or below a limit) **or if the evaluation gave no plan** (infeasible, input error, solver error,
   crash): a failed run is an outcome, counted as a failure.
5. **PRIM** — ema_workbench's Patient Rule Induction Method (``ema_workbench.analysis.prim``, not
   re-implemented here) peels the input box towards the failures; :func:`choose_box` picks the
   box on the peeling trajectory with the highest coverage among those dense and simple enough.
6. **Write** ``runs/discovery/<timestamp>/``: samples.csv, scenario_discovery.csv,
   peeling_trajectory.png, box_limits.png, box_scatter.png, report.md, summary.json, config.yaml.

Exit codes: 0 the analysis ran (failed evaluations are results); 1 a bad configuration, one line
naming the key. docs/discovery.md has the method, the failure definition and how to read a box.
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from analysis import sensitivity as sa
from model.config import ConfigError
from model.csvio import read_csv, write_csv
from model.data import REPO_ROOT
from model.plotting import pyplot  # Agg and a CJK font (labels carry 万, 亿元)

log = logging.getLogger(__name__)

DEFAULT_CONFIG = REPO_ROOT / "conf" / "discovery" / "default.yaml"
FIND = ("failure", "success")
# outcomes always recorded in samples.csv (besides those the failure definition names)
REPORTED_OUTCOMES = ("cycle_months_city_end", "cycle_months_main_city_end",
                     "p_cycle_le_target_end", "unmet_demand_10k_m2", "feasible")
# a restriction whose quasi-p-value is above this is reported as weak (Bryant & Lempert 2010)
QP_SIGNIFICANT = 0.05


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
@dataclass
class Condition:
    """One failure condition on a named outcome (analysis/sensitivity.py OUTCOMES), in the
    outcome's unit: the sample fails if the value is above ``above`` or below ``below``
    (both given: outside [below, above], e.g. the 12–18-month band)."""

    above: Optional[float] = None
    below: Optional[float] = None


@dataclass
class PrimConfig:
    """ema_workbench's PRIM parameters and the rule that chooses one box on its trajectory."""

    # the chosen box must have at least this share of cases (failures) among its samples: 0.6 =
    # inside the box at least 3 samples in 5 fail
    min_density: float = 0.6
    # at most this many significant restrictions (quasi-p ≤ 0.05) in the chosen box (a box a
    # reader can hold in mind)
    max_restricted: int = 4
    # drop the chosen box's restrictions that are not significant (quasi-p > 0.05), weakest
    # first, while the box stays dense enough (ema_workbench's drop_restriction)
    drop_weak: bool = True
    peel_alpha: float = 0.05  # share of the remaining samples peeled off per step
    paste_alpha: float = 0.05  # share pasted back per step
    mass_min: float = 0.05  # peeling stops when the box holds this share of the samples


@dataclass
class DiscoveryConfig:
    """The ``discovery`` group of conf/discovery/*.yaml (closed: unknown keys fail)."""

    # the uncertain inputs (bounds, labels, units) and the base model come from this
    # sensitivity config (a path from the repository root, or absolute)
    inputs_from: str = "conf/sensitivity/default.yaml"
    drop_inputs: List[str] = field(default_factory=list)  # inputs of inputs_from left out
    # inputs added, or bounds/labels/units changed (a partial entry keeps the rest)
    inputs: Dict[str, sa.InputBound] = field(default_factory=dict)
    model: Dict[str, Any] = field(default_factory=dict)  # on top of inputs_from's model
    n: int = 2000  # Latin-hypercube samples (= evaluations)
    seed: int = 20260101  # the sample; the replay's own seed is model.sim.seed
    replications: int = 50  # replay replications per evaluation
    find: str = "failure"  # failure: boxes where a target fails | success: where all hold
    failure: Dict[str, Condition] = field(default_factory=dict)  # outcome → condition
    outcomes: List[str] = field(default_factory=list)  # further outcomes to record
    # sentences printed under the chosen box's table to anchor its limits (the dataset's own
    # reference values, e.g. where the plan's forecast sits on the demand level)
    reading_notes: List[str] = field(default_factory=list)
    prim: PrimConfig = field(default_factory=PrimConfig)
    backend: str = "joblib"
    scheduler: Optional[str] = None
    workers: int = 2
    progress: bool = True
    out: Optional[str] = None  # null = runs/discovery/<timestamp>


@dataclass
class DiscoveryFile:
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)


def _err(key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"discovery.{key} = {value!r} is not valid; expected {expected}")


def check_config(cfg: DiscoveryConfig) -> None:
    """Value checks of the discovery group; one line naming the key (ConfigError)."""
    if cfg.find not in FIND:
        raise _err("find", cfg.find, "one of: " + ", ".join(FIND))
    if cfg.backend not in sa.BACKENDS:
        raise _err("backend", cfg.backend, "one of: " + ", ".join(sa.BACKENDS))
    for key, low in (("n", 10), ("workers", 1), ("replications", 1)):
        if getattr(cfg, key) < low:
            raise _err(key, getattr(cfg, key), f"an integer >= {low}")
    p = cfg.prim
    if not 0.0 < p.min_density <= 1.0:
        raise _err("prim.min_density", p.min_density, "a share in (0, 1]")
    if p.max_restricted < 1:
        raise _err("prim.max_restricted", p.max_restricted, "an integer >= 1")
    for key in ("peel_alpha", "paste_alpha", "mass_min"):
        if not 0.0 < getattr(p, key) < 0.5:
            raise _err(f"prim.{key}", getattr(p, key), "a share in (0, 0.5)")
    if not cfg.failure:
        raise ConfigError("discovery.failure is empty; expected at least one outcome with a "
                          "limit, e.g. discovery.failure.cycle_months_city_end.above=18")
    for name, cond in cfg.failure.items():
        if name not in sa.OUTCOMES:
            raise ConfigError(f"discovery.failure: unknown outcome {name!r}; expected one of: "
                              + ", ".join(sa.OUTCOMES))
        limits = [v for v in (cond.above, cond.below) if v is not None]
        if not limits:
            raise ConfigError(f"discovery.failure.{name}: neither above nor below is set; "
                              f"expected e.g. discovery.failure.{name}.above=18")
        if not all(math.isfinite(v) for v in limits):
            raise ConfigError(f"discovery.failure.{name}: limits must be finite numbers")
        if cond.above is not None and cond.below is not None and cond.below >= cond.above:
            raise ConfigError(f"discovery.failure.{name}: below = {cond.below} is not below "
                              f"above = {cond.above}; every value would fail")
    if "sim.replications" in cfg.model:
        raise ConfigError("discovery.model.sim.replications is set by discovery.replications; "
                          "set that instead")
    for name in cfg.outcomes:
        if name not in sa.OUTCOMES:
            raise ConfigError(f"discovery.outcomes: unknown outcome {name!r}; expected one of: "
                              + ", ".join(sa.OUTCOMES))


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> DiscoveryConfig:
    """conf/discovery/default.yaml (or ``path``) with dotted ``key=value`` overrides, checked
    (the file and the overrides are read as analysis.sensitivity reads its own:
    :func:`analysis.sensitivity.load_group`)."""
    d = sa.load_group(DiscoveryFile, "discovery", path or DEFAULT_CONFIG, overrides,
                      example="discovery.n=200", set_key=_set)
    # older outcome names carried Chifeng's last plan year (cycle_months_city_2030), as in  # ALIAS-KEEP
    # analysis.sensitivity: accepted  # ALIAS-KEEP
    d.failure = {re.sub(r"_2030$", "_end", k): v for k, v in d.failure.items()}
    d.outcomes = [re.sub(r"_2030$", "_end", str(o)) for o in d.outcomes]
    check_config(d)
    return d


def _set(node, key: str, value: Any) -> None:
    """Apply one override: ``discovery.failure={...}`` replaces the whole failure definition,
    ``discovery.failure.<outcome>.above|below`` sets one limit; model keys and inputs as in
    analysis.sensitivity (:func:`analysis.sensitivity.set_override`)."""
    group = node.discovery
    if key == "discovery.failure":
        if value is None or not hasattr(value, "items"):
            raise ConfigError(f"{key}: expected {{outcome: {{above: X, below: Y}}, ...}}")
        group.failure = {}
        for name, cond in value.items():
            extra = set(cond or {}) - {"above", "below"}
            if extra:
                raise ConfigError(f"discovery.failure.{name}: unknown key {sorted(extra)[0]!r}; "
                                  f"expected above and/or below")
            group.failure[str(name)] = Condition(**dict(cond or {}))
    elif key.startswith("discovery.failure."):
        name, _, attr = key[len("discovery.failure."):].rpartition(".")
        if not name or attr not in ("above", "below"):
            raise ConfigError(f"{key}: expected discovery.failure.<outcome>.above|below")
        if name not in group.failure:
            group.failure[name] = Condition()
        setattr(group.failure[name], attr, value)
    else:
        sa.set_override(node, key, value)


def base_values(ev_cfg: sa.SensitivityConfig) -> dict[str, float]:
    """Each input's value in the base model (before sampling), e.g. ``sim.price_response`` 0.0:
    the reference point the report and box_limits.png mark. Inputs whose default is derived
    from the data (null in the config) are left out."""
    from dataclasses import asdict

    from model.config import default_settings

    node = asdict(default_settings(**sa.base_overrides(ev_cfg)))
    out = {}
    for name in ev_cfg.inputs:
        value: Any = node
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def evaluation_config(cfg: DiscoveryConfig) -> sa.SensitivityConfig:
    """The sensitivity config the evaluator runs: ``inputs_from``'s inputs and base model with
    this config's drops, additions and model overrides; checked against the model (one line
    naming the key if an input is unknown or a bound is rejected)."""
    path = Path(cfg.inputs_from)
    path = path if path.is_absolute() else REPO_ROOT / path
    if not path.is_file():
        raise ConfigError(f"discovery.inputs_from = {cfg.inputs_from!r}: no such file")
    try:
        base = sa.load_config(path)
    except ConfigError as exc:
        raise ConfigError(f"discovery.inputs_from ({cfg.inputs_from}): {exc}") from None
    inputs = dict(base.inputs)
    for name in cfg.drop_inputs:
        if name not in inputs:
            raise ConfigError(f"discovery.drop_inputs: {name!r} is not an input of "
                              f"{cfg.inputs_from}; expected one of: " + ", ".join(inputs))
        del inputs[name]
    for name, b in cfg.inputs.items():
        old = inputs.get(name)
        low = b.low if math.isfinite(b.low) else (old.low if old else math.nan)
        high = b.high if math.isfinite(b.high) else (old.high if old else math.nan)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ConfigError(f"discovery.inputs.{name}: not an input of {cfg.inputs_from}; a "
                              f"new input needs both low and high (a numeric model config key)")
        inputs[name] = sa.InputBound(low=float(low), high=float(high),
                                     label=b.label or (old.label if old else name),
                                     unit=b.unit or (old.unit if old else ""))
    outcomes = list(dict.fromkeys([*cfg.failure, *REPORTED_OUTCOMES, *cfg.outcomes]))
    ev = sa.SensitivityConfig(
        method="sobol", n=cfg.n, seed=cfg.seed, replications=cfg.replications,
        backend=cfg.backend, scheduler=cfg.scheduler, workers=cfg.workers,
        progress=cfg.progress, outcomes=outcomes, model={**base.model, **cfg.model},
        inputs=inputs)
    try:
        sa.check_config(ev)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("sensitivity.", "discovery.", 1)) from None
    try:
        sa.check_against_model(ev)
    except ConfigError as exc:
        msg = str(exc)
        if msg.startswith("sensitivity.model"):
            msg = "discovery.model (with inputs_from's model)" + msg[len("sensitivity.model"):]
        else:
            msg = msg.replace("sensitivity.", "discovery.", 1)
        raise ConfigError(msg) from None
    return ev


# ---------------------------------------------------------------------------------------------
# Sample and classify
# ---------------------------------------------------------------------------------------------
def latin_hypercube(inputs: Mapping[str, sa.InputBound], n: int, seed: int) -> pd.DataFrame:
    """``n`` Latin-hypercube samples (SALib's ``latin``: one sample in each of n equal strata
    of every input, uniformly within it), one column per input, in the inputs' units."""
    from SALib.sample import latin

    problem = sa.problem_of(inputs)
    X = latin.sample(problem, n, seed=seed)
    return pd.DataFrame(X, columns=problem["names"])


def classify(table: pd.DataFrame, failure: Mapping[str, Condition]) -> tuple[np.ndarray, list]:
    """Per sample: failed (bool) and why, in words.

    A sample fails if its evaluation gave no plan (``status`` other than ``optimal``: infeasible,
    input_error, solver_error, error) — a failed run counts as a failure — or if any condition
    holds. An outcome that is missing (NaN) for an evaluated plan also counts as a failure."""
    n = len(table)
    failed = np.zeros(n, dtype=bool)
    reasons: list[list[str]] = [[] for _ in range(n)]
    status = table["status"].to_numpy() if "status" in table else np.full(n, "optimal")
    for i, s in enumerate(status):
        if s != "optimal":
            failed[i] = True
            reasons[i].append(f"no plan ({s})")
    for name, cond in failure.items():
        values = table[name].to_numpy(dtype=float)
        for i, v in enumerate(values):
            if status[i] != "optimal":
                continue
            if not math.isfinite(v):
                failed[i] = True
                reasons[i].append(f"{name} missing")
            elif cond.above is not None and v > cond.above:
                failed[i] = True
                reasons[i].append(f"{name} > {cond.above:g}")
            elif cond.below is not None and v < cond.below:
                failed[i] = True
                reasons[i].append(f"{name} < {cond.below:g}")
    return failed, ["; ".join(r) for r in reasons]


def failure_text(failure: Mapping[str, Condition]) -> str:
    """The failure definition in words (report, summary)."""
    parts = []
    for name, c in failure.items():
        known = sa.OUTCOMES.get(name)
        meaning = known.meaning.split(": ", 1)[-1] if known else name
        unit = known.unit if known else ""
        if c.above is not None and c.below is not None:
            parts.append(f"{meaning} outside {c.below:g}–{c.above:g} {unit}")
        elif c.above is not None:
            parts.append(f"{meaning} above {c.above:g} {unit}")
        else:
            parts.append(f"{meaning} below {c.below:g} {unit}")
    return " or ".join(parts) + ", or the evaluation gives no plan (infeasible or failed)"


# ---------------------------------------------------------------------------------------------
# PRIM (ema_workbench)
# ---------------------------------------------------------------------------------------------
@dataclass
class PrimResult:
    """The first PRIM box and its peeling trajectory.

    ``trajectory``: one row per box on the peeling (and pasting) trajectory: ``box`` (step),
    ``coverage`` (share of all cases of interest inside the box), ``density`` (share of the
    box's samples that are cases of interest), ``mass`` (share of all samples inside),
    ``res_dim`` (inputs restricted), ``n`` (samples inside), ``k`` (cases inside).
    ``limits``: per box and input, ``low``/``high`` (in the input's unit), ``restricted`` and the
    quasi-p-values of each restricted side (one-sided binomial test, Bryant & Lempert 2010:
    the chance a box this dense would appear without that restriction; NaN for a side not cut).
    ``chosen``: the box :func:`choose_box` picked (None: no box reaches ``min_density``)."""

    trajectory: pd.DataFrame
    limits: pd.DataFrame
    chosen: Optional[int]
    base_rate: float  # share of samples that are cases of interest
    cases: int
    note: str = ""


def _ema_prim():
    with warnings.catch_warnings():  # ema_workbench warns about optional parallel back ends
        warnings.simplefilter("ignore", UserWarning)
        from ema_workbench.analysis import prim
    return prim


def ema_workbench_version() -> str:
    from importlib.metadata import version

    return version("ema_workbench")


def run_prim(x: pd.DataFrame, y: np.ndarray, prim_cfg: PrimConfig | None = None,
             bounds: Mapping[str, tuple[float, float]] | None = None) -> PrimResult:
    """PRIM (ema_workbench) of the cases ``y`` (bool) over the inputs ``x``; the first box.

    ``bounds`` are the sampled ranges (default: the sample's min and max); a box limit equal to
    the sample's min/max of an input is not a restriction of it (ema_workbench's rule)."""
    prim_cfg = prim_cfg or PrimConfig()
    x = x.astype(float).reset_index(drop=True)
    y = np.asarray(y, dtype=bool)
    bounds = bounds or {c: (float(x[c].min()), float(x[c].max())) for c in x.columns}
    cases, n = int(y.sum()), len(y)
    base_rate = cases / n if n else math.nan
    if cases == 0 or cases == n:
        # nothing to separate: the whole sampled box is the answer (coverage 1, density 0 or 1)
        traj = pd.DataFrame([{"box": 0, "coverage": 1.0 if cases else math.nan,
                              "density": base_rate, "mass": 1.0, "res_dim": 0, "strong_dim": 0,
                              "n": n, "k": cases, "how": "the whole sampled range"}])
        limits = pd.DataFrame([{"box": 0, "input": c, "low": bounds[c][0],
                                "high": bounds[c][1], "restricted": False,
                                "qp_low": math.nan, "qp_high": math.nan} for c in x.columns])
        note = ("no case of interest in the sample: nothing to discover" if cases == 0 else
                "every sample is a case of interest: the whole sampled range")
        return PrimResult(traj, limits, 0 if cases else None, base_rate, cases, note)

    prim = _ema_prim()
    # PRIM's own threshold decides which y count as cases (y ≥ threshold: the 1s for any value
    # in (0, 1]) and whether ema_workbench keeps the box it found (mean ≥ threshold, else it
    # returns the whole range with no trajectory). At the base rate the trajectory is always
    # kept; the density floor applies when choosing a box on it (choose_box).
    p = prim.Prim(x, y.astype(int), threshold=min(prim_cfg.min_density, base_rate),
                  peel_alpha=prim_cfg.peel_alpha, paste_alpha=prim_cfg.paste_alpha,
                  mass_min=prim_cfg.mass_min, threshold_type=prim.ABOVE)
    box = p.find_box()
    n_prim = len(box.peeling_trajectory)
    chosen, note = choose_box(_trajectory(box, {}), prim_cfg)
    how: dict[int, str] = {}
    if chosen is not None and prim_cfg.drop_weak:
        chosen, how = drop_weak_restrictions(box, chosen, prim_cfg)
    traj = _trajectory(box, how)
    rows = []
    for i, lims in enumerate(box.box_lims):
        qp = box.qp[i]
        for c in x.columns:
            low, high = float(lims.loc[0, c]), float(lims.loc[1, c])
            q = [v if v is not None and v >= 0 else math.nan for v in qp.get(c, [math.nan] * 2)]
            rows.append({"box": i, "input": c, "low": low, "high": high,
                         "restricted": c in qp, "qp_low": q[0], "qp_high": q[1]})
    limits = pd.DataFrame(rows)
    # ema_workbench measures limits against the sample's min/max; report them in the sampled
    # range (an unrestricted side is the input's bound, not the nearest sample)
    for c in x.columns:
        lo, hi = bounds[c]
        m = limits["input"] == c
        limits.loc[m & (limits["low"] <= x[c].min()), "low"] = lo
        limits.loc[m & (limits["high"] >= x[c].max()), "high"] = hi
    log.debug("PRIM: %d boxes on the trajectory, %d after dropping weak restrictions", n_prim,
              len(traj))
    return PrimResult(traj, limits, chosen, base_rate, cases, note)


def _strong_dims(qp: Mapping[str, Sequence[float]]) -> int:
    """Restricted inputs with a quasi-p-value ≤ QP_SIGNIFICANT on some side."""
    return sum(1 for sides in qp.values()
               if any(v is not None and 0 <= v <= QP_SIGNIFICANT for v in sides))


def _trajectory(box, how: Mapping[int, str]) -> pd.DataFrame:
    """ema_workbench's peeling trajectory as a plain table (see :class:`PrimResult`)."""
    t = box.peeling_trajectory.reset_index(drop=True)
    return pd.DataFrame({
        "box": np.arange(len(t)),
        "coverage": t["coverage"].astype(float), "density": t["density"].astype(float),
        "mass": t["mass"].astype(float), "res_dim": t["res_dim"].astype(int),
        "strong_dim": [_strong_dims(q) for q in box.qp],
        "n": t["n"].astype(int), "k": t["k"].astype(int),
        "how": [how.get(i, "PRIM peeling/pasting") for i in range(len(t))]})


def drop_weak_restrictions(box, i: int, prim_cfg: PrimConfig) -> tuple[int, dict[int, str]]:
    """Drop, one at a time and weakest first, the restrictions of box ``i`` whose quasi-p-value
    exceeds QP_SIGNIFICANT on every side (ema_workbench's ``PrimBox.drop_restriction``, which
    appends the wider box to the trajectory), as long as the box keeps ``min_density``
    (Bryant & Lempert 2010 §4: a restriction that does not raise the density significantly is
    noise). Returns the final box and how each appended box was made."""
    how: dict[int, str] = {}
    while True:
        weak = {k: min((v for v in sides if v is not None and v >= 0), default=1.0)
                for k, sides in box.qp[i].items()}
        weak = {k: q for k, q in weak.items() if q > QP_SIGNIFICANT}
        if not weak:
            return i, how
        name = max(weak, key=weak.get)
        box.drop_restriction(name, i)
        j = len(box.peeling_trajectory) - 1
        how[j] = f"box {i} without {name} (quasi-p {weak[name]:.2g})"
        if box.peeling_trajectory["density"].iloc[j] < prim_cfg.min_density:
            how[j] += "; below the density floor, not chosen"
            return i, how
        i = j


def choose_box(trajectory: pd.DataFrame, prim_cfg: PrimConfig) -> tuple[Optional[int], str]:
    """The box on the trajectory with the highest coverage among those with density ≥
    ``min_density`` and at most ``max_restricted`` significant restrictions (``strong_dim``,
    quasi-p ≤ 0.05; ``res_dim`` if absent) — ties: fewer restrictions, then higher density. If
    no box that simple is dense enough, the simplest dense one; if none is dense enough, None.
    Returns (box, a note saying which rule applied)."""
    dims = "strong_dim" if "strong_dim" in trajectory else "res_dim"
    dense = trajectory[trajectory["density"] >= prim_cfg.min_density - 1e-12]
    if dense.empty:
        best = trajectory["density"].max()
        return None, (f"no box on the trajectory reaches density {prim_cfg.min_density:.2f} "
                      f"(highest {best:.2f}): the cases are not concentrated in one box")
    simple = dense[dense[dims] <= prim_cfg.max_restricted]
    note = ""
    if simple.empty:
        simple = dense[dense[dims] == dense[dims].min()]
        note = (f"no box with at most {prim_cfg.max_restricted} significant restrictions "
                f"reaches density {prim_cfg.min_density:.2f}; the simplest dense box is chosen")
    order = simple.sort_values(["coverage", dims, "res_dim", "density"],
                               ascending=[False, True, True, False])
    return int(order.iloc[0]["box"]), note


PLANTED_BOX = {"x1": (0.2, 0.5), "x2": (0.6, 0.9)}


def planted_box(sample: Mapping[str, float]) -> dict[str, Any]:
    """A known answer for the harness: ``y`` = 1 inside x1 ∈ [0.2, 0.5] and x2 ∈ [0.6, 0.9]
    (inputs on [0, 1]; any further inputs are inert), else 0. Fails where y > 0.5."""
    inside = all(lo <= sample[k] <= hi for k, (lo, hi) in PLANTED_BOX.items())
    return {"y": 1.0 if inside else 0.0, "status": "optimal", "message": "", "eval_time_s": 0.0}


# ---------------------------------------------------------------------------------------------
# The whole analysis
# ---------------------------------------------------------------------------------------------
@dataclass
class DiscoveryResult:
    samples: pd.DataFrame  # inputs, outcomes, status, failed, failure_reason, in_box
    prim: PrimResult
    table: pd.DataFrame  # scenario_discovery.csv
    summary: dict
    inputs: dict  # name → InputBound
    out_dir: Path | None = None


def run_discovery(
    cfg: DiscoveryConfig,
    evaluate: Callable[[Mapping[str, float]], dict] | None = None,
    inputs: Mapping[str, sa.InputBound] | None = None,
    out_dir: str | Path | None = None,
    write: bool = True,
    ev_cfg: sa.SensitivityConfig | None = None,
) -> DiscoveryResult:
    """Sample, evaluate (in parallel), classify, PRIM, write. ``evaluate`` defaults to the model
    (:class:`analysis.sensitivity.ModelEvaluator`) on ``ev_cfg``, :func:`evaluation_config` of
    ``cfg`` (given when the caller has checked it already); another evaluate function of named
    inputs (with ``inputs``, its bounds) tests the harness on a known answer."""
    t0 = perf_counter()
    model_overrides: dict = {}
    base: dict[str, float] = {}
    if evaluate is None:
        ev_cfg = ev_cfg or evaluation_config(cfg)
        inputs = ev_cfg.inputs
        model_overrides = sa.base_overrides(ev_cfg)
        base = base_values(ev_cfg)
        evaluate = sa.ModelEvaluator.from_config(ev_cfg)
    elif inputs is None:
        raise ValueError("run_discovery: an evaluate function needs its inputs' bounds")
    inputs = dict(inputs)
    X = latin_hypercube(inputs, cfg.n, cfg.seed)
    samples = X.to_dict(orient="records")
    log.info("scenario discovery: %d inputs, %d Latin-hypercube samples on %s with %d "
             "worker(s)", len(inputs), len(samples), cfg.backend, cfg.workers)
    t_eval = perf_counter()
    rows = sa.run_samples(evaluate, samples, cfg.backend, cfg.workers, cfg.scheduler,
                          cfg.progress)
    eval_wall = perf_counter() - t_eval
    table = pd.concat([X, pd.DataFrame(rows)], axis=1)
    result = analyse(cfg, table, inputs, model_overrides,
                     {"evaluations_wall": eval_wall, "started": t0}, base)
    if write:
        result.out_dir = write_outputs(result, cfg, out_dir)
    return result


def reanalyse(cfg: DiscoveryConfig, samples_csv: str | Path,
              inputs: Mapping[str, sa.InputBound] | None = None,
              out_dir: str | Path | None = None, write: bool = True,
              ev_cfg: sa.SensitivityConfig | None = None) -> DiscoveryResult:
    """PRIM again on the evaluations of an earlier run (its samples.csv), with this config's
    failure definition, ``find`` and PRIM settings — no model runs. The inputs are the columns
    of samples.csv that this config names (or ``inputs``), with this config's bounds (from
    ``ev_cfg``, :func:`evaluation_config` of ``cfg`` when not given)."""
    t0 = perf_counter()
    model_overrides: dict = {}
    base: dict[str, float] = {}
    if inputs is None:
        ev_cfg = ev_cfg or evaluation_config(cfg)
        inputs, model_overrides = ev_cfg.inputs, sa.base_overrides(ev_cfg)
        base = base_values(ev_cfg)
    path = Path(samples_csv)
    if path.is_dir():
        path = path / "samples.csv"
    if not path.is_file():
        raise ConfigError(f"--samples {samples_csv}: no such file")
    table = read_csv(path, keep_default_na=True)
    missing = [k for k in [*inputs, *cfg.failure] if k not in table.columns]
    if missing:
        raise ConfigError(f"--samples {path}: no column {missing[0]!r}; the run sampled other "
                          f"inputs or did not record that outcome")
    old = [c for c in ("failed", "failure_reason", "in_box") if c in table]
    table = table.drop(columns=old)
    table["message"] = table.get("message", pd.Series(dtype=str)).fillna("")
    result = analyse(cfg, table, inputs, model_overrides,
                     {"evaluations_wall": math.nan, "started": t0,
                      "reanalysed_from": str(path)}, base)
    if write:
        result.out_dir = write_outputs(result, cfg, out_dir)
    return result


def analyse(cfg: DiscoveryConfig, table: pd.DataFrame, inputs: Mapping[str, sa.InputBound],
            model_overrides: Mapping[str, Any], timing: Mapping[str, Any],
            base: Mapping[str, float] | None = None) -> DiscoveryResult:
    """Classify the evaluated samples (``table``: inputs, outcomes, status), run PRIM, and
    assemble the tables and the summary (``base``: each input's base-model value)."""
    base = dict(base or {})
    inputs = dict(inputs)
    X = table[list(inputs)].astype(float)
    if "status" not in table:
        table["status"] = "optimal"
    failed, reasons = classify(table, cfg.failure)
    table["failed"] = failed
    table["failure_reason"] = reasons
    y = failed if cfg.find == "failure" else ~failed
    t_prim = perf_counter()
    bounds = {k: (b.low, b.high) for k, b in inputs.items()}
    res = run_prim(X, y, cfg.prim, bounds)
    prim_time = perf_counter() - t_prim
    table["in_box"] = _in_box(X, res)
    sd_table = discovery_table(res, inputs, base)
    counts = {s: int((table["status"] == s).sum()) for s in sa.STATUSES}
    prim_boxes = int((res.trajectory["how"] == "PRIM peeling/pasting").sum())
    summary = {
        "find": cfg.find,
        "failure": {k: {"above": c.above, "below": c.below} for k, c in cfg.failure.items()},
        "failure_text": failure_text(cfg.failure),
        "n": len(table),
        "evaluations": len(table),
        "failures": int(failed.sum()),
        "failure_share": float(failed.mean()),
        "failures_without_plan": int((table["status"] != "optimal").sum()),
        "status_counts": counts,
        "inputs": {k: {"low": b.low, "high": b.high, "label": b.label, "unit": b.unit,
                       "base_value": base.get(k)} for k, b in inputs.items()},
        "prim": {**vars(cfg.prim), "library": f"ema_workbench {ema_workbench_version()}",
                 "trajectory_boxes": prim_boxes,
                 "boxes_with_weak_restrictions_dropped": len(res.trajectory) - prim_boxes,
                 "note": res.note},
        "chosen_box": chosen_summary(res, inputs, base),
        "reading_notes": list(cfg.reading_notes),
        "model": dict(model_overrides),
        "seed": cfg.seed,
        "backend": cfg.backend,
        "workers": cfg.workers,
        "timings_s": {"evaluations_wall": timing["evaluations_wall"],
                      "per_evaluation_mean": float(table["eval_time_s"].mean())
                      if "eval_time_s" in table else 0.0,
                      "prim": prim_time, "total": perf_counter() - timing["started"]},
        "git_commit": sa._git_commit(),
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    if "reanalysed_from" in timing:
        summary["reanalysed_from"] = timing["reanalysed_from"]
    return DiscoveryResult(table, res, sd_table, summary, inputs)


def _in_box(x: pd.DataFrame, res: PrimResult) -> np.ndarray:
    """Whether each sample lies inside the chosen box (all False if none was chosen)."""
    if res.chosen is None:
        return np.zeros(len(x), dtype=bool)
    lims = res.limits[res.limits["box"] == res.chosen].set_index("input")
    inside = np.ones(len(x), dtype=bool)
    for c in x.columns:
        inside &= (x[c] >= lims.loc[c, "low"]).to_numpy() & (x[c] <= lims.loc[c, "high"]).to_numpy()
    return inside


def discovery_table(res: PrimResult, inputs: Mapping[str, sa.InputBound],
                    base: Mapping[str, float] | None = None) -> pd.DataFrame:
    """scenario_discovery.csv: one row per box on the peeling trajectory × input: the box's
    coverage, density, mass, restricted inputs, whether it is the chosen box, and its limits on
    the input (in the input's unit; the sampled range beside them)."""
    t = res.limits.merge(res.trajectory, on="box")
    t["chosen"] = t["box"] == res.chosen
    t["label"] = t["input"].map(lambda k: inputs[k].label or k)
    t["unit"] = t["input"].map(lambda k: inputs[k].unit)
    t["sampled_low"] = t["input"].map(lambda k: inputs[k].low)
    t["sampled_high"] = t["input"].map(lambda k: inputs[k].high)
    t["base_value"] = t["input"].map(lambda k: (base or {}).get(k, math.nan))
    cols = ["box", "chosen", "coverage", "density", "mass", "res_dim", "strong_dim", "n", "k",
            "how", "input", "label", "unit", "restricted", "low", "high", "sampled_low",
            "sampled_high", "base_value", "qp_low", "qp_high"]
    return t[cols].rename(columns={"res_dim": "restricted_inputs",
                                   "strong_dim": "significant_restrictions",
                                   "n": "samples_in_box", "k": "cases_in_box"})


def chosen_summary(res: PrimResult, inputs: Mapping[str, sa.InputBound],
                   base: Mapping[str, float] | None = None) -> dict | None:
    """The chosen box: its statistics and its limits on each restricted input."""
    if res.chosen is None:
        return None
    row = res.trajectory.set_index("box").loc[res.chosen]
    lims = res.limits[(res.limits["box"] == res.chosen) & res.limits["restricted"]]
    return {
        "box": int(res.chosen),
        "coverage": float(row["coverage"]), "density": float(row["density"]),
        "mass": float(row["mass"]), "restricted_inputs": int(row["res_dim"]),
        "how": str(row["how"]),
        "samples_in_box": int(row["n"]), "cases_in_box": int(row["k"]),
        "base_rate": res.base_rate,
        "limits": {r["input"]: {"label": inputs[r["input"]].label, "unit": inputs[r["input"]].unit,
                                "low": r["low"], "high": r["high"],
                                "sampled_low": inputs[r["input"]].low,
                                "sampled_high": inputs[r["input"]].high,
                                "base_value": (base or {}).get(r["input"]),
                                "qp_low": r["qp_low"], "qp_high": r["qp_high"]}
                   for _, r in lims.iterrows()},
        "note": res.note,
    }


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _num(v: float, unit: str) -> str:
    """A value in its unit's style: shares as signed percentages, others to 3 figures."""
    return f"{v * 100:+.1f}%" if unit.startswith("share") else _fmt(v)


def _suffix(unit: str) -> str:
    """What follows the number: ' a year' for 'share a year', nothing for a coefficient."""
    if unit.startswith("share"):
        rest = unit[len("share"):].strip()
        return f" {rest}" if rest else ""
    return "" if unit in ("", "coefficient") else f" {unit}"


def limit_phrase(label: str, unit: str, low: float, high: float, s_low: float,
                 s_high: float) -> str:
    """'demand level is below 0.93 × 2025 sales rate' (one side cut), or 'is between …'."""
    cut_low = low > s_low + 1e-9 * max(1.0, abs(s_low))
    cut_high = high < s_high - 1e-9 * max(1.0, abs(s_high))
    u = _suffix(unit)
    if cut_low and cut_high:
        return f"{label} is between {_num(low, unit)} and {_num(high, unit)}{u}"
    if cut_high:
        return f"{label} is below {_num(high, unit)}{u}"
    if cut_low:
        return f"{label} is above {_num(low, unit)}{u}"
    return f"{label} is anywhere in its range"


def box_sentence(summary: dict) -> str:
    """The plain-language reading of the chosen box: its significant restrictions (quasi-p ≤
    0.05) first, the weak ones after, then coverage and density against the base rate."""
    box = summary["chosen_box"]
    what = "the target fails" if summary["find"] == "failure" else "every target holds"
    cases = summary["failures"] if summary["find"] == "failure" else (
        summary["evaluations"] - summary["failures"])
    if cases == 0:
        return (f"{'The target holds' if summary['find'] == 'failure' else 'A target fails'} in "
                f"every one of the {summary['evaluations']} samples: there is no region to find.")
    if box is None:
        return (f"No region of the inputs concentrates the cases where {what}: "
                f"{summary['prim']['note']}.")
    if not box["limits"]:
        return (f"{what[0].upper() + what[1:]} in {box['density']:.0%} of the samples across the "
                f"whole sampled range; no input separates the cases.")
    order = sorted(box["limits"].items(), key=lambda kv: _qp(kv[1]))

    def phrase(k, v):
        return "the " + limit_phrase(v["label"] or k, v["unit"], v["low"], v["high"],
                                     v["sampled_low"], v["sampled_high"])

    strong = [phrase(k, v) for k, v in order if _qp(v) <= QP_SIGNIFICANT]
    weak = [phrase(k, v) for k, v in order if _qp(v) > QP_SIGNIFICANT]
    main = strong or weak
    # "mainly when" only for a box with a strong cut; with none, the box may be chance
    when = "mainly when" if strong else "in the box found, where"
    if summary["find"] == "failure":
        short = summary["failure_text"].split(", or the evaluation gives no plan")[0]
        lead = f"The target is missed ({short}) {when}"
        cases_word = "failures"
    else:
        lead, cases_word = f"Every target holds {when}", "successes"
    text = (f"{lead} {_join(main)}. This box holds {box['coverage']:.0%} of the {cases_word} "
            f"(coverage), and {box['density']:.0%} of the samples inside it are {cases_word} "
            f"(density), against {box['base_rate']:.0%} of all samples.")
    if strong and weak:
        one = len(weak) == 1
        cut = "that cut is" if one else "those cuts are"
        text += (f" It also requires that {_join(weak)}, but {cut}"
                 f" weak (quasi-p > {QP_SIGNIFICANT:g}: {'it' if one else 'they'} may be chance).")
    elif not strong:
        text += (f" None of these cuts is strong (every quasi-p > {QP_SIGNIFICANT:g}): the box "
                 f"may be chance; more samples (discovery.n) would tell.")
    return text


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _qp(lim: dict) -> float:
    vals = [v for v in (lim["qp_low"], lim["qp_high"]) if isinstance(v, float) and
            math.isfinite(v)]
    return min(vals) if vals else 1.0


def report_lines(result: DiscoveryResult) -> list[str]:
    """report.md: the reading in words first, then the numbers behind it."""
    s = result.summary
    c = s["status_counts"]
    box = s["chosen_box"]
    case = "failures" if s["find"] == "failure" else "successes"
    lines = [
        "# Scenario discovery: where the plan's target fails",
        "",
        box_sentence(s),
        "",
        f"**Failure** means: {s['failure_text']}.",
        "",
        f"{s['evaluations']} Latin-hypercube samples of {len(s['inputs'])} uncertain inputs; "
        f"**{s['failures']} fail ({s['failure_share']:.0%})**, of which "
        f"{s['failures_without_plan']} gave no plan ({c['infeasible']} infeasible, "
        f"{c['input_error']} input errors, {c['solver_error']} solver errors, {c['error']} "
        f"crashed). PRIM ({s['prim']['library']}) looked for the {case}.",
        "",
    ]
    if box is not None and box["limits"]:
        lines += ["## The chosen box", "",
                  f"Box {box['box']} "
                  + (f"of boxes 0–{s['prim']['trajectory_boxes'] - 1} on the peeling trajectory: "
                     if box["box"] < s["prim"]["trajectory_boxes"] else
                     f"(added after the peeling trajectory's boxes 0–"
                     f"{s['prim']['trajectory_boxes'] - 1}): ")
                  + f"coverage {box['coverage']:.2f}, density {box['density']:.2f}, mass "
                  f"{box['mass']:.2f} ({box['samples_in_box']} samples, {box['cases_in_box']} "
                  f"{case}), {box['restricted_inputs']} restricted inputs. Chosen as the highest "
                  f"coverage with density ≥ {s['prim']['min_density']:.2f} and at most "
                  f"{s['prim']['max_restricted']} significant restrictions"
                  + (f" — but {box['note']}" if box["note"] else "")
                  + (f"; then restrictions that are not significant were dropped ({box['how']})"
                     if box["how"].startswith("box ") else "") + ".", "",
                  "| input | unit | box low | box high | sampled range | base model | "
                  "quasi-p low / high |",
                  "|---|---|---|---|---|---|---|"]
        for k, v in box["limits"].items():
            qp = " / ".join("–" if not (isinstance(q, float) and math.isfinite(q)) else f"{q:.2g}"
                            for q in (v["qp_low"], v["qp_high"]))
            u = v["unit"]
            lines.append(f"| {v['label'] or k} (`{k}`) | {u} | {_num(v['low'], u)} | "
                         f"{_num(v['high'], u)} | {_num(v['sampled_low'], u)} to "
                         f"{_num(v['sampled_high'], u)} | "
                         + ("–" if v.get("base_value") is None else _num(v["base_value"], u))
                         + f" | {qp} |")
        weak = [v["label"] or k for k, v in box["limits"].items() if _qp(v) > QP_SIGNIFICANT]
        lines += ["", "Base model: the input's value in the model before sampling (▲ in "
                  "box_limits.png)." + "".join(f" {note}" for note in s.get("reading_notes", [])),
                  "", "A quasi-p-value is the chance that a box this dense would arise without "
                  "that restriction (one-sided binomial test); below 0.05 the restriction matters."
                  + (f" Weak restrictions (quasi-p > 0.05): {', '.join(weak)}." if weak else ""),
                  ""]
    elif s["prim"]["note"]:
        lines += [f"PRIM: {s['prim']['note']}.", ""]
    lines += ["## Other boxes on the trajectory", "",
              "Simpler boxes cover more of the cases at a lower density; the last ones are denser "
              "and smaller. The best box for each number of restricted inputs:", "",
              "| restricted inputs | box | coverage | density | mass |", "|---|---|---|---|---|"]
    traj = result.prim.trajectory
    traj = traj[traj["how"] == "PRIM peeling/pasting"]
    for k, g in traj.groupby("res_dim"):
        dense = g[g["density"] >= s["prim"]["min_density"]]
        r = (dense if not dense.empty else g).sort_values("coverage", ascending=False).iloc[0]
        lines.append(f"| {k} | {int(r['box'])} | {r['coverage']:.2f} | {r['density']:.2f} | "
                     f"{r['mass']:.2f} |")
    if box is not None and box["limits"] and box["box"] >= s["prim"]["trajectory_boxes"]:
        lines.append(f"| {box['restricted_inputs']} | {box['box']} (the chosen box: "
                     f"{box['how']}) | {box['coverage']:.2f} | {box['density']:.2f} | "
                     f"{box['mass']:.2f} |")
    t = s["timings_s"]
    lines += ["", (f"Evaluations: {s['backend']} with {s['workers']} worker(s), "
                   f"{t['evaluations_wall']:.0f} s wall ({t['per_evaluation_mean']:.2f} s per "
                   f"evaluation on its worker, on average); PRIM {t['prim']:.1f} s."
                   if math.isfinite(t["evaluations_wall"])
                   else f"Re-analysed (PRIM only, {t['prim']:.1f} s) from the evaluations in "
                        f"{s.get('reanalysed_from')}."), "",
              "Files: samples.csv (inputs, outcomes, status, failed, failure_reason, in_box), "
              "scenario_discovery.csv (every box on the trajectory × input: coverage, density, "
              "mass, limits), peeling_trajectory.png, box_limits.png, box_scatter.png, "
              "summary.json, config.yaml. How to read them: docs/discovery.md."]
    return lines


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------
def plot_trajectory(res: PrimResult, prim_cfg: PrimConfig, path: Path, case: str) -> None:
    """Coverage (x) against density (y) of every box on the peeling trajectory, coloured by the
    number of restricted inputs; the chosen box circled, the density floor and the base rate
    drawn."""
    plt = pyplot()
    t = res.trajectory[res.trajectory["how"] != "the whole sampled range"]
    if t.empty:
        t = res.trajectory
    extra = t[t["how"].str.startswith("box ")]  # boxes with weak restrictions dropped
    t = t[~t["how"].str.startswith("box ")]
    fig, ax = plt.subplots(figsize=(7.2, 5.0))
    dims = sorted(t["res_dim"].unique())
    cmap = plt.get_cmap("viridis", max(len(dims), 2))
    for j, d in enumerate(dims):
        g = t[t["res_dim"] == d]
        ax.scatter(g["coverage"], g["density"], s=22, color=cmap(j),
                   label=f"{d} restricted input{'s' if d != 1 else ''}", zorder=3)
    ax.plot(t["coverage"], t["density"], color="grey", lw=0.6, zorder=2)
    if not extra.empty:
        ax.scatter(extra["coverage"], extra["density"], s=40, marker="D", color="#DD8452",
                   zorder=3, label="a box with a weak restriction dropped")
    ax.axhline(prim_cfg.min_density, color="#C44E52", ls="--", lw=0.8,
               label=f"density floor {prim_cfg.min_density:.2f}")
    ax.axhline(res.base_rate, color="grey", ls=":", lw=0.8,
               label=f"share of all samples ({res.base_rate:.2f})")
    if res.chosen is not None:
        r = res.trajectory.set_index("box").loc[res.chosen]
        ax.scatter([r["coverage"]], [r["density"]], s=180, facecolors="none",
                   edgecolors="#C44E52", linewidths=2, zorder=4)
        ax.annotate(f"chosen: box {res.chosen}\ncoverage {r['coverage']:.2f}, "
                    f"density {r['density']:.2f}", (r["coverage"], r["density"]),
                    xytext=(-150, -60), textcoords="offset points", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "#C44E52"},
                    arrowprops={"arrowstyle": "-", "color": "#C44E52"})
    ax.set_xlabel(f"coverage: share of all {case} inside the box")
    ax.set_ylabel(f"density: share of the box's samples that are {case}")
    ax.set_xlim(-0.02, 1.04)
    ax.set_ylim(0, 1.04)
    ax.set_title(f"PRIM peeling trajectory ({len(t)} boxes; peeling runs right to left)",
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _inside_others(result: DiscoveryResult, limits: Mapping[str, dict], skip: str | None):
    """Samples inside the chosen box's limits on every restricted input but ``skip``."""
    X = result.samples
    inside = np.ones(len(X), dtype=bool)
    for k, v in limits.items():
        if k != skip:
            inside &= (X[k] >= v["low"]).to_numpy() & (X[k] <= v["high"]).to_numpy()
    return inside


def plot_box_limits(result: DiscoveryResult, path: Path) -> None:
    """The chosen box on each restricted input, as a bar over the sampled range (0 = the
    sampled low, 1 = the sampled high), its limits written at the ends in the input's unit.
    Behind each bar, the samples that lie inside the box's *other* limits, cases in red: where
    the red points stop is where this limit cuts."""
    plt = pyplot()
    s = result.summary
    box = s["chosen_box"]
    limits = box["limits"] if box else {}
    n = max(len(limits), 1)
    fig, ax = plt.subplots(figsize=(8.0, 1.5 + 0.85 * n))
    fails = s["find"] == "failure"
    if not limits:
        ax.text(0.5, 0.5, result.prim.note or "no restricted input", ha="center", va="center",
                fontsize=9, transform=ax.transAxes, wrap=True)
        ax.axis("off")
    else:
        X, y = result.samples, result.samples["failed"].to_numpy()
        if not fails:
            y = ~y
        names = sorted(limits, key=lambda k: _qp(limits[k]), reverse=True)  # strongest on top
        marked = False
        for i, k in enumerate(names):
            v, u = limits[k], limits[k]["unit"]
            span = v["sampled_high"] - v["sampled_low"]
            lo = (v["low"] - v["sampled_low"]) / span
            hi = (v["high"] - v["sampled_low"]) / span
            keep = _inside_others(result, limits, k)
            xs = (X[k].to_numpy() - v["sampled_low"]) / span
            jitter = (np.random.default_rng(i).random(len(xs)) - 0.5) * 0.3
            ax.barh(i, hi - lo, left=lo, height=0.5, color="#4C72B0", alpha=0.15,
                    edgecolor="#4C72B0", lw=1.5, zorder=1)
            m = keep & ~y
            ax.scatter(xs[m], i + jitter[m], s=7, color="#8C8C8C", alpha=0.6, zorder=2)
            m = keep & y
            ax.scatter(xs[m], i + jitter[m], s=10, color="#C44E52", alpha=0.9, zorder=3)
            if v.get("base_value") is not None:
                b = (v["base_value"] - v["sampled_low"]) / span
                ax.plot([b], [i - 0.3], marker="^", color="black", ms=6, zorder=4)
                marked = True
            ax.text(lo, i + 0.3, _num(v["low"], u), ha="center", va="bottom", fontsize=7.5)
            ax.text(hi, i + 0.3, _num(v["high"], u), ha="center", va="bottom", fontsize=7.5)
        ax.set_yticks(range(len(names)),
                      [f"{limits[k]['label'] or k}\n(sampled {_num(limits[k]['sampled_low'], u)}"
                       f" to {_num(limits[k]['sampled_high'], u)}{_suffix(u)})\n"
                       f"quasi-p {_qp(limits[k]):.2g}"
                       + (" (weak)" if _qp(limits[k]) > QP_SIGNIFICANT else "")
                       for k in names for u in [limits[k]["unit"]]], fontsize=8)
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.6, len(names) - 0.3)
        ax.set_xlabel("position in the sampled range (0 = lowest sampled, 1 = highest)\n"
                      "points: the samples inside the box's other limits; red = "
                      + ("the target fails" if fails else "every target holds")
                      + ", grey = not" + ("\n▲ = the input's value in the base model" if marked
                                          else ""), fontsize=8)
        what = "fail" if fails else "meet every target"
        cases = "failures" if fails else "successes"
        ax.set_title(f"Chosen box {box['box']}: {box['density']:.0%} of the samples inside "
                     f"{what} (all samples: {box['base_rate']:.0%});\nit holds "
                     f"{box['coverage']:.0%} of all the {cases} and {box['mass']:.0%} of the "
                     f"samples", fontsize=9.5)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_box_scatter(result: DiscoveryResult, path: Path) -> None:
    """The samples on the chosen box's two strongest restricted inputs (lowest quasi-p), cases
    in red, with the box's limits on those two drawn; samples outside the box's other limits
    are drawn faint (they are outside the box whatever these two inputs are)."""
    plt = pyplot()
    s = result.summary
    box = s["chosen_box"]
    fails = s["find"] == "failure"
    fig, ax = plt.subplots(figsize=(6.6, 6.0))
    limits = box["limits"] if box else {}
    names = [k for k, _ in sorted(limits.items(), key=lambda kv: _qp(kv[1]))][:2]
    if len(names) < 2:  # one restricted input: pair it with the first other input
        others = [k for k in result.inputs if k not in names]
        names = (names + others)[:2]
    X, y = result.samples, result.samples["failed"].to_numpy()
    if not fails:
        y = ~y
    a, b = names
    rest = {k: v for k, v in limits.items() if k not in names}
    inside = _inside_others(result, rest, None)
    for mask, alpha, tag in ((inside, 0.85, ""), (~inside, 0.2, " (outside the other limits)")):
        if not mask.any() or (tag and not rest):
            continue
        ax.scatter(X.loc[mask & ~y, a], X.loc[mask & ~y, b], s=11, color="#8C8C8C",
                   alpha=alpha, label=("target met" if fails else "a target fails") + tag)
        ax.scatter(X.loc[mask & y, a], X.loc[mask & y, b], s=11, color="#C44E52", alpha=alpha,
                   label=("target fails" if fails else "every target met") + tag)
    if box is not None:
        lim = result.prim.limits[result.prim.limits["box"] == box["box"]].set_index("input")
        x0, x1 = lim.loc[a, "low"], lim.loc[a, "high"]
        y0, y1 = lim.loc[b, "low"], lim.loc[b, "high"]
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.8,
                                   edgecolor="#4C72B0", label=f"chosen box {box['box']}"))
    for setter, k in ((ax.set_xlabel, a), (ax.set_ylabel, b)):
        bnd = result.inputs[k]
        setter(f"{bnd.label or k} ({bnd.unit})" if bnd.unit else (bnd.label or k))
    title = "The samples on the box's two strongest inputs"
    if rest:
        title += "\n(faint: outside its limits on " + ", ".join(
            rest[k]["label"] or k for k in rest) + ")"
    ax.set_title(title, fontsize=9.5)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2,
              frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(result: DiscoveryResult, cfg: DiscoveryConfig,
                  out_dir: str | Path | None = None) -> Path:
    """samples.csv, scenario_discovery.csv, the three charts, report.md, summary.json,
    config.yaml (summary.json last: a directory without it is incomplete)."""
    if out_dir is None:
        out_dir = cfg.out or (REPO_ROOT / "runs" / "discovery"
                              / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(result.samples, out / "samples.csv")
    write_csv(result.table, out / "scenario_discovery.csv")
    OmegaConf.save(OmegaConf.structured(DiscoveryFile(discovery=cfg)), out / "config.yaml")
    case = "failures" if cfg.find == "failure" else "successes"
    plot_trajectory(result.prim, cfg.prim, out / "peeling_trajectory.png", case)
    plot_box_limits(result, out / "box_limits.png")
    plot_box_scatter(result, out / "box_scatter.png")
    (out / "report.md").write_text("\n".join(report_lines(result)) + "\n", encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2, default=str,
                                                 ensure_ascii=False) + "\n", encoding="utf-8")
    return out


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """The CLI; returns the exit code (docs/errors.md: one line per problem, exit 1)."""
    from model.errors import ArgumentParser, UserError, report_error

    parser = ArgumentParser(
        prog="python -m analysis.discovery",
        description="Scenario discovery (PRIM, ema_workbench): where the plan's target fails.")
    parser.add_argument("--config", help="a conf/discovery/*.yaml file (default: default.yaml)")
    parser.add_argument("--samples", metavar="RUN_DIR_OR_CSV",
                        help="re-run PRIM on an earlier run's samples.csv (no model runs), e.g. "
                             "with another failure definition or discovery.prim.min_density")
    parser.add_argument("overrides", nargs="*",
                        help="dotted KEY=VALUE, e.g. discovery.n=200 discovery.workers=2")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)
    logging.getLogger("EMA").setLevel(logging.WARNING)  # ema_workbench's per-box log lines
    try:
        cfg = load_config(args.config, args.overrides)
        ev_cfg = evaluation_config(cfg)  # checked once, before any model runs
        result = reanalyse(cfg, args.samples, ev_cfg=ev_cfg) if args.samples else None
    except UserError as exc:  # one line per problem (docs/errors.md)
        return report_error("analysis.discovery", exc)
    if result is None:
        result = run_discovery(cfg, ev_cfg=ev_cfg)
    s = result.summary
    print(box_sentence(s))
    wall = s["timings_s"]["evaluations_wall"]
    print(f"{s['failures']} of {s['evaluations']} samples fail ({s['failure_share']:.0%}; "
          f"{s['failures_without_plan']} without a plan); "
          + (f"evaluations {wall:.0f} s on {s['workers']} worker(s)." if math.isfinite(wall)
             else f"re-analysed from {s.get('reanalysed_from')}."))
    print(f"written to {result.out_dir}")
    return 0


if __name__ == "__main__":
    # Run the importable module's main (as analysis.sensitivity does): joblib/Dask pickle
    # __main__'s objects by value, which would defeat the per-worker model cache.
    from analysis.discovery import main as _main
    from model.errors import cli

    cli("analysis.discovery", _main)
