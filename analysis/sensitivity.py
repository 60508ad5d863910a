"""``python -m analysis.sensitivity [--config FILE] [sensitivity.KEY=VALUE ...]``: which uncertain
inputs drive the plan's outcomes (SALib: Sobol or Morris).

The pieces, EMA-workbench style:

* :class:`ModelEvaluator` — the model as a plain function,
  ``evaluate(sample) -> {outcome: value}``:
  a sample is a dict of dotted config keys (``{"demand.multiplier": 1.1, ...}``); each worker
  process builds one :class:`model.run.Sweep` on first use and then only changes parameters.
  An infeasible or failed sample gives NaN outcomes and a ``status``, never an exception.
* :func:`run_samples` — the one parallel interface: joblib (loky processes) or a Dask
  distributed cluster (``backend="dask"``, a scheduler address or a LocalCluster), progress bar.
* :func:`make_samples` / :func:`analyse` — SALib sampling and analysis; :func:`run_analysis`
  wires them and writes ``samples.csv``, ``indices.csv``, ``ranking.png``, ``summary.json`` and
  ``report.md`` to ``runs/sensitivity/<timestamp>/``.

Exit codes: 0 the analysis ran (infeasible samples are results); 1 a bad configuration, one line
naming the key. docs/sensitivity.md has the method, the outcomes and the measured costs.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from model.config import ConfigError, RunConfig, default_settings, number_problems, with_overrides
from model.csvio import write_csv
from model.data import REPO_ROOT

log = logging.getLogger(__name__)

DEFAULT_CONFIG = REPO_ROOT / "conf" / "sensitivity" / "default.yaml"
METHODS = ("sobol", "morris")
BACKENDS = ("joblib", "dask")
STATUSES = ("optimal", "infeasible", "input_error", "solver_error", "error")


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
@dataclass
class InputBound:
    """One uncertain input: a model config key sampled uniformly in [low, high] (in ``unit``)."""

    low: float = 0.0
    high: float = 1.0
    label: str = ""
    unit: str = ""


@dataclass
class SensitivityConfig:
    """The ``sensitivity`` group of conf/sensitivity/*.yaml (closed: unknown keys fail)."""

    method: str = "sobol"
    n: int = 256
    second_order: bool = False
    morris_levels: int = 4
    num_resamples: int = 200
    conf_level: float = 0.95
    seed: int = 20260101
    replications: int = 50
    backend: str = "joblib"
    scheduler: Optional[str] = None
    workers: int = 2
    progress: bool = True
    out: Optional[str] = None
    outcomes: List[str] = field(default_factory=lambda: list(DEFAULT_OUTCOMES))
    model: Dict[str, Any] = field(default_factory=dict)
    inputs: Dict[str, InputBound] = field(default_factory=dict)


@dataclass
class SensitivityFile:
    sensitivity: SensitivityConfig = field(default_factory=SensitivityConfig)


# ---------------------------------------------------------------------------------------------
# Outcomes: name → (unit, meaning, extractor of a model.run.Outcome)
# ---------------------------------------------------------------------------------------------
def _replay(scope: str, column: str) -> Callable[[Any], float]:
    def get(outcome) -> float:
        value = outcome.summary.get("replay", {}).get(scope, {}).get(column)
        return float(value) if value is not None else math.nan

    return get


def _headline(key: str) -> Callable[[Any], float]:
    def get(outcome) -> float:
        value = outcome.headline.get(key)
        return float(value) if value is not None else math.nan

    return get


@dataclass(frozen=True)
class OutcomeDef:
    unit: str
    meaning: str
    get: Callable[[Any], float]
    replay: bool = True


OUTCOMES: dict[str, OutcomeDef] = {
    "cycle_months_city_end": OutcomeDef(
        "months", "replay: median city-wide destocking cycle, December 2030",
        _replay("city", "cycle_end_months_p50")),
    "cycle_months_main_city_end": OutcomeDef(
        "months", "replay: median main-city destocking cycle, December 2030",
        _replay("main_city", "cycle_end_months_p50")),
    "vacancy_share_city_end": OutcomeDef(
        "share", "replay: median city vacancy share, December 2030",
        _replay("city", "vacancy_end_share_p50")),
    "land_ha": OutcomeDef(
        "ha", "optimiser: new residential land 2026–2030", _headline("land_total_ha"), False),
    "unmet_demand_10k_m2": OutcomeDef(
        "10k_m2", "replay: expected demand not met 2026–2030, city",
        _replay("city", "expected_unmet_demand_10k_m2")),
    "p_cycle_le_target_end": OutcomeDef(
        "share", "replay: probability the city cycle is ≤ the 2030 target (18 months)",
        _replay("city", "p_cycle_le_target_end")),
    "p_cycle_in_band_end": OutcomeDef(
        "share", "replay: probability the city cycle is in the 12–18-month band, December 2030",
        _replay("city", "p_cycle_in_band_end")),
    "feasible": OutcomeDef(
        "0/1", "1 if the optimiser found a plan, 0 if the hard targets cannot all hold",
        lambda o: 1.0 if o.status == "optimal" else 0.0 if o.status == "infeasible" else math.nan,
        False),
    # further outcomes a config may name
    "plan_cycle_months_city_end": OutcomeDef(
        "months", "optimiser: city cycle at the end of 2030 (annual arithmetic)",
        _headline("cycle_months_city"), False),
    "plan_cycle_months_main_city_end": OutcomeDef(
        "months", "optimiser: main-city cycle at the end of 2030",
        _headline("cycle_months_main_city"), False),
    "plan_vacancy_share_city_end": OutcomeDef(
        "share", "optimiser: city vacancy share 2030 (stock-flow)",
        _headline("vacancy_share_city"), False),
    "plan_unmet_demand_10k_m2": OutcomeDef(
        "10k_m2", "optimiser: unmet demand 2026–2030", _headline("unmet_demand_10k_m2"), False),
    "supply_10k_m2": OutcomeDef(
        "10k_m2", "optimiser: new commercial supply 2026–2030",
        _headline("supply_total_10k_m2"), False),
    "purchased_10k_m2": OutcomeDef(
        "10k_m2", "optimiser: public purchases of unsold stock 2026–2030",
        _headline("purchased_10k_m2"), False),
    "land_sold_ha": OutcomeDef(
        "ha", "replay: expected land sold after the land rule, city",
        _replay("city", "expected_land_sold_ha")),
}
DEFAULT_OUTCOMES = ("cycle_months_city_end", "cycle_months_main_city_end",
                    "vacancy_share_city_end", "land_ha", "unmet_demand_10k_m2",
                    "p_cycle_le_target_end", "feasible")


def _err(key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"sensitivity.{key} = {value!r} is not valid; expected {expected}")


def check_config(cfg: SensitivityConfig) -> None:
    """Value checks of the sensitivity group; one line naming the key (ConfigError)."""
    if cfg.method not in METHODS:
        raise _err("method", cfg.method, "one of: " + ", ".join(METHODS))
    if cfg.backend not in BACKENDS:
        raise _err("backend", cfg.backend, "one of: " + ", ".join(BACKENDS))
    for key, low in (("n", 2), ("workers", 1), ("replications", 1), ("num_resamples", 1),
                     ("morris_levels", 2)):
        if getattr(cfg, key) < low:
            raise _err(key, getattr(cfg, key), f"an integer >= {low}")
    if not 0.0 < cfg.conf_level < 1.0:
        raise _err("conf_level", cfg.conf_level, "a number in (0, 1)")
    if cfg.method == "morris" and cfg.morris_levels % 2:
        raise _err("morris_levels", cfg.morris_levels, "an even number (SALib's Morris grid)")
    if not cfg.inputs:
        raise ConfigError("sensitivity.inputs is empty; expected at least one input with bounds")
    for name, b in cfg.inputs.items():
        missing = [k for k in ("low", "high") if math.isnan(getattr(b, k))]
        if missing and not (b.label or b.unit):  # an input made by one override (set_override):
            # a new input given one bound, or a misspelt name
            others = [k for k in cfg.inputs if k != name and not any(
                math.isnan(getattr(cfg.inputs[k], a)) for a in ("low", "high"))]
            near = difflib.get_close_matches(name, others, n=1)
            raise ConfigError(
                f"sensitivity.inputs.{name}: not a configured input, and its "
                f"{' and '.join(missing)} not given"
                + (f" (did you mean {near[0]}?)" if near else "")
                + f"; a new input needs low and high; configured: {', '.join(others)}")
        if not (math.isfinite(b.low) and math.isfinite(b.high)) or b.low >= b.high:
            raise ConfigError(
                f"sensitivity.inputs.{name}: low = {b.low} is not below high = {b.high}; "
                f"expected low < high")
    if "sim.replications" in cfg.model:
        raise ConfigError(
            f"sensitivity.model.sim.replications = {cfg.model['sim.replications']!r} is not "
            f"used: the replay's replications per sample are sensitivity.replications "
            f"(now {cfg.replications}); set that instead")
    if not cfg.outcomes:
        raise ConfigError("sensitivity.outcomes is empty; expected at least one outcome")
    # older outcome names carried Chifeng's last plan year (cycle_months_city_2030): accepted  # ALIAS-KEEP
    cfg.outcomes = [re.sub(r"_2030$", "_end", str(o)) for o in cfg.outcomes]
    for name in cfg.outcomes:
        if name not in OUTCOMES:
            raise ConfigError(f"sensitivity.outcomes: unknown outcome {name!r}; expected one of: "
                              + ", ".join(OUTCOMES))
    problems = number_problems(cfg, "sensitivity")
    if problems:
        raise ConfigError(problems)


def check_against_model(cfg: SensitivityConfig) -> RunConfig:
    """The base model settings; every input must be a numeric model key accepting both bounds."""
    try:
        base = default_settings(**base_overrides(cfg))
    except ConfigError as exc:
        raise ConfigError(f"sensitivity.model: {exc}") from None
    for name, b in cfg.inputs.items():
        for value in (b.low, b.high):
            try:
                with_overrides(base, {name: float(value)})
            except ConfigError as exc:
                msg = str(exc)
                if "not in" in msg or "Key" in msg or "key" in msg.split(":")[0]:
                    raise ConfigError(
                        f"sensitivity.inputs.{name}: unknown input; expected a numeric key of "
                        f"the model config (model/config.py), e.g. demand.multiplier") from None
                raise ConfigError(f"sensitivity.inputs.{name}: bound {value}: {msg}") from None
    if not base.sim.enabled:
        needs = [o for o in cfg.outcomes if OUTCOMES[o].replay]
        if needs:
            raise ConfigError(f"sensitivity.outcomes: {needs[0]} needs the replay but "
                              f"sensitivity.model sets sim.enabled=false")
    check_resources(cfg, base)
    return base


#: How long to wait for a Dask scheduler before saying it does not answer.
SCHEDULER_TIMEOUT_S = 5


def check_resources(cfg: SensitivityConfig, base: RunConfig) -> None:
    """Before any sample runs: the base model's solver options and dataset, the memory the
    replays of all workers need at once, and (dask) that the scheduler answers."""
    from model.data import load_dataset
    from model.inputs import level_regions
    from model.run import check_settings, resolve_dataset
    from model.validate import replay_memory_problems

    try:
        check_settings(base)
    except ConfigError as exc:
        raise ConfigError([f"sensitivity.model: {p}" for p in exc.problems]) from None
    ds = load_dataset(resolve_dataset(base.dataset))
    if base.sim.enabled:
        regions, _ = level_regions(ds, base.level)
        workers = 1 if cfg.backend == "dask" and cfg.scheduler else cfg.workers
        problems = replay_memory_problems("sensitivity.replications", cfg.replications,
                                          len(regions), 12 * len(ds.plan_years), copies=workers)
        if problems:
            raise ConfigError(problems)
    if cfg.backend == "dask" and cfg.scheduler:
        client = connect_scheduler(cfg.scheduler)
        client.close()


def connect_scheduler(address: str):
    """A Dask client of the scheduler at ``address``; ConfigError (one line naming
    sensitivity.scheduler) if it does not answer within SCHEDULER_TIMEOUT_S."""
    from distributed import Client

    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"sensitivity.scheduler = {address!r}: no Dask scheduler answers there within "
            f"{SCHEDULER_TIMEOUT_S} s ({why[:160]}); start one (dask scheduler), fix the "
            f"address (tcp://HOST:8786), or leave sensitivity.scheduler out for a local "
            f"cluster") from None


def base_overrides(cfg: SensitivityConfig) -> dict[str, Any]:
    """The base model: the config's model overrides plus the replay replications."""
    return {**dict(cfg.model), "sim.replications": int(cfg.replications)}


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> SensitivityConfig:
    """conf/sensitivity/default.yaml (or ``path``) with dotted ``key=value`` overrides, checked."""
    cfg = load_group(SensitivityFile, "sensitivity", path or DEFAULT_CONFIG, overrides,
                     example="sensitivity.n=64")
    check_config(cfg)
    if cfg.method == "sobol" and cfg.n & (cfg.n - 1):  # SALib only warns; its indices assume it
        raise _err("n", cfg.n, "a power of 2 for Sobol' sampling (…, 128, 256, 512, 1024)")
    return cfg


def load_group(file_cls: type, group: str, path: str | Path, overrides: Sequence[str],
               example: str, set_key: Callable[[Any, str, Any], None] | None = None) -> Any:
    """The ``group`` of a config file (conf/<group>/*.yaml) on the structured config
    ``file_cls``, with dotted ``key=value`` overrides (the ``<group>.`` prefix and a leading
    ``+`` optional): the group's dataclass, not yet value-checked. Shared by
    analysis.sensitivity and analysis.discovery; ``set_key(node, key, value)`` applies one
    override (default :func:`set_override`). A problem is one ConfigError line naming the file
    or the key (``example`` shows a well-formed override)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file")
    schema = OmegaConf.structured(file_cls)
    try:
        loaded = OmegaConf.load(path)
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"--config {path}{where}: not a YAML config "
                          f"({getattr(exc, 'problem', None) or type(exc).__name__}); expected a "
                          f"file like conf/{group}/default.yaml") from None
    set_key = set_key or set_override
    try:
        node = OmegaConf.merge(schema, loaded)
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"{item!r}: expected KEY=VALUE, e.g. {example}")
            key, _, text = item.partition("=")
            key = key.lstrip("+")
            if not key.startswith(f"{group}."):
                key = f"{group}." + key
            value = OmegaConf.from_dotlist([f"v={text}"])["v"]
            set_key(node, key, value)
        obj = OmegaConf.to_object(node)
    except ConfigError:
        raise
    except OmegaConfBaseException as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConfigError):
            raise cause from None
        key = getattr(exc, "full_key", None) or ""
        raise ConfigError(f"{key}: {str(exc).splitlines()[0]}" if key else
                          str(exc).splitlines()[0]) from None
    return getattr(obj, group)


def set_override(node, key: str, value: Any) -> None:
    """Apply one override (``key`` starts with its group: ``sensitivity.``, ``discovery.``).
    Model keys and input names are themselves dotted
    (``sensitivity.inputs.demand.multiplier.low=0.8``, ``sensitivity.model.sim.seed=1``), so
    their entries are addressed by hand; everything else goes through OmegaConf."""
    group = key.split(".", 1)[0]
    section = getattr(node, group)
    model, inputs = f"{group}.model.", f"{group}.inputs."
    if key.startswith(model):
        section.model[key[len(model):]] = value
    elif key.startswith(inputs):
        name, _, attr = key[len(inputs):].rpartition(".")
        if not name or attr not in ("low", "high", "label", "unit"):
            raise ConfigError(f"{key}: expected {group}.inputs.<model key>.low|high|label|unit")
        if name not in section.inputs:
            section.inputs[name] = InputBound(low=math.nan, high=math.nan, label="", unit="")
        setattr(section.inputs[name], attr, value)
    else:
        OmegaConf.update(node, key, value, merge=True)


# ---------------------------------------------------------------------------------------------
# The model as a function of named inputs
# ---------------------------------------------------------------------------------------------
_SWEEPS: dict[str, Any] = {}  # one built model per worker process and base config


def _sweep_for(base: tuple[tuple[str, Any], ...]):
    from model.run import Sweep
    from model.solve import single_thread_highs

    key = json.dumps(base, sort_keys=True, default=str)
    sweep = _SWEEPS.get(key)
    if sweep is None:
        single_thread_highs()  # before this process's first solve (its docstring says why)
        sweep = Sweep(default_settings(**dict(base)))
        _SWEEPS[key] = sweep
    return key, sweep


@dataclass(frozen=True)
class ModelEvaluator:
    """``evaluate(sample) -> {outcome: value, "status": ..., "eval_time_s": ...}``.

    Picklable (a frozen dataclass of plain values), so joblib and Dask ship it to workers; the
    model itself is built once per worker process and cached in ``_SWEEPS``."""

    base: tuple[tuple[str, Any], ...]
    outcomes: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: SensitivityConfig) -> "ModelEvaluator":
        return cls(tuple(sorted(base_overrides(cfg).items())), tuple(cfg.outcomes))

    def __call__(self, sample: Mapping[str, float]) -> dict[str, Any]:
        t0 = perf_counter()
        key = None
        try:
            key, sweep = _sweep_for(self.base)
            outcome = sweep.run({k: float(v) for k, v in sample.items()}, outputs="outcomes")
            status, message = outcome.status, ""
            if status != "optimal":
                message = "; ".join(outcome.messages)[:300]
            values = {name: OUTCOMES[name].get(outcome) if status == "optimal"
                      else (OUTCOMES[name].get(outcome) if name == "feasible" else math.nan)
                      for name in self.outcomes}
        except Exception as exc:  # noqa: BLE001 - a failed sample is an outcome, not a crash
            if key is not None:
                _SWEEPS.pop(key, None)  # rebuild next time: the model may be half-updated
            status, message = "error", f"{type(exc).__name__}: {exc}"[:300]
            values = {name: math.nan for name in self.outcomes}
        # which built model served the sample (process and object): one per worker when the
        # per-worker cache works, one per sample when it does not
        build = f"{os.getpid()}-{id(_SWEEPS.get(key))}" if key is not None else ""
        return {**values, "status": status, "message": message,
                "eval_time_s": perf_counter() - t0, "model_build": build}


def ishigami(sample: Mapping[str, float], a: float = 7.0, b: float = 0.1) -> dict[str, Any]:
    """SALib's analytic test function, as an evaluate function of named inputs x1, x2, x3 on
    [-π, π]: S1 = (0.314, 0.442, 0), ST = (0.558, 0.442, 0.244)."""
    x1, x2, x3 = sample["x1"], sample["x2"], sample["x3"]
    y = math.sin(x1) + a * math.sin(x2) ** 2 + b * x3 ** 4 * math.sin(x1)
    return {"y": y, "status": "optimal", "message": "", "eval_time_s": 0.0}


# ---------------------------------------------------------------------------------------------
# The parallel harness
# ---------------------------------------------------------------------------------------------
def run_samples(
    evaluate: Callable[[Mapping[str, float]], dict],
    samples: Sequence[Mapping[str, float]],
    backend: str = "joblib",
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    block: int = 1,
) -> list[dict]:
    """``[evaluate(s) for s in samples]`` in order, in parallel.

    joblib: ``workers`` loky processes (1 = in this process). dask: the cluster at ``scheduler``
    (``tcp://host:8786``) or, without one, a LocalCluster of ``workers`` single-threaded
    processes started and closed here. Each worker process keeps its own built model (and runs
    HiGHS on one thread). ``block``: consecutive samples sent to one worker together — a
    Saltelli block (A, AB_1 … AB_D, B), whose rows for replay-only inputs reuse A's plan in that
    worker's model (model.pipeline.Sweep)."""
    from tqdm.auto import tqdm

    samples = [dict(s) for s in samples]
    bar = tqdm(total=len(samples), disable=not progress, desc="evaluations", unit="run",
               file=sys.stderr)
    try:
        if backend == "joblib":
            if workers == 1:
                out = []
                for s in samples:
                    out.append(evaluate(s))
                    bar.update()
                return out
            from joblib import Parallel, delayed

            # one task per block: joblib's own batching re-splits batches near the end of the
            # queue, which would send a block's rows to different workers
            par = Parallel(n_jobs=workers, backend="loky", return_as="generator")
            out = []
            for rows in par(delayed(_evaluate_block)(evaluate, b) for b in _blocks(samples, block)):
                out += rows
                bar.update(len(rows))
            return out
        if backend == "dask":
            return _run_dask(evaluate, _blocks(samples, block), workers, scheduler, bar)
        raise ConfigError(f"sensitivity.backend = {backend!r} is not valid; expected one of: "
                          + ", ".join(BACKENDS))
    finally:
        bar.close()


def _blocks(samples: list[dict], block: int) -> list[list[dict]]:
    """``samples`` in consecutive runs of ``block`` (the last may be shorter)."""
    block = max(int(block), 1)
    return [samples[i:i + block] for i in range(0, len(samples), block)]


def _evaluate_block(evaluate, samples: list[dict]) -> list[dict]:
    return [evaluate(s) for s in samples]


def _run_dask(evaluate, blocks: list[list[dict]], workers, scheduler, bar) -> list[dict]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = connect_scheduler(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(_evaluate_block, [evaluate] * len(blocks), blocks, pure=False)
        sizes = {f.key: len(b) for f, b in zip(futures, blocks)}
        for future in as_completed(futures):
            bar.update(sizes[future.key])
        return [row for rows in client.gather(futures) for row in rows]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------------------------
# Sampling and analysis (SALib)
# ---------------------------------------------------------------------------------------------
def problem_of(inputs: Mapping[str, InputBound | tuple[float, float]]) -> dict:
    """SALib's problem dict from named bounds."""
    names = list(inputs)
    bounds = [[b.low, b.high] if isinstance(b, InputBound) else list(b) for b in inputs.values()]
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def block_size(method: str, num_vars: int, second_order: bool = False) -> int:
    """Rows of one Saltelli block (a base sample and its radial points) or Morris trajectory."""
    if method == "sobol":
        return 2 * num_vars + 2 if second_order else num_vars + 2
    return num_vars + 1


def make_samples(problem: dict, method: str, n: int, seed: int, second_order: bool = False,
                 levels: int = 4) -> np.ndarray:
    """The sample matrix, rows grouped in blocks of :func:`block_size` (SALib's order)."""
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        return sobol_sample.sample(problem, n, calc_second_order=second_order, seed=seed)
    from SALib.sample import morris as morris_sample

    return morris_sample.sample(problem, n, num_levels=levels, seed=seed)


def analyse(
    problem: dict,
    X: np.ndarray,
    table: pd.DataFrame,
    outcomes: Sequence[str],
    method: str,
    second_order: bool = False,
    levels: int = 4,
    num_resamples: int = 200,
    conf_level: float = 0.95,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indices per outcome and input, and per outcome the blocks used and dropped.

    A block (Saltelli block or Morris trajectory) in which the outcome is NaN in any row —
    an infeasible or failed sample — is dropped as a whole, so the estimator keeps its paired
    structure on the remaining base samples; an outcome constant over the blocks kept gets NaN
    indices (no variance to apportion)."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    size = block_size(method, problem["num_vars"], second_order)
    n_blocks = len(table) // size
    rows, usage = [], []
    for outcome in outcomes:
        y = table[outcome].to_numpy(dtype=float).reshape(n_blocks, size)
        keep = np.isfinite(y).all(axis=1)
        used = y[keep]
        note = ""
        if keep.sum() < 2:
            note = "fewer than 2 complete blocks"
        elif np.ptp(used) <= 1e-12 * max(1.0, np.abs(used).max()):
            note = "constant over the samples kept"
        usage.append({"outcome": outcome, "blocks": n_blocks, "blocks_used": int(keep.sum()),
                      "blocks_dropped": int((~keep).sum()), "note": note})
        if note:
            for name in problem["names"]:
                rows.append({"method": method, "outcome": outcome, "input": name})
            continue
        if method == "sobol":
            res = sobol_analyze.analyze(problem, used.ravel(), calc_second_order=second_order,
                                        num_resamples=num_resamples, conf_level=conf_level,
                                        seed=seed)
            for i, name in enumerate(problem["names"]):
                rows.append({"method": method, "outcome": outcome, "input": name,
                             "S1": res["S1"][i], "S1_conf": res["S1_conf"][i],
                             "ST": res["ST"][i], "ST_conf": res["ST_conf"][i]})
        else:
            x_used = X.reshape(n_blocks, size, -1)[keep].reshape(-1, problem["num_vars"])
            res = morris_analyze.analyze(problem, x_used, used.ravel(), num_resamples=num_resamples,
                                         conf_level=conf_level, num_levels=levels, seed=seed)
            for i, name in enumerate(problem["names"]):
                rows.append({"method": method, "outcome": outcome, "input": name,
                             "mu": res["mu"][i], "mu_star": res["mu_star"][i],
                             "mu_star_conf": res["mu_star_conf"][i], "sigma": res["sigma"][i]})
    cols = (["S1", "S1_conf", "ST", "ST_conf"] if method == "sobol"
            else ["mu", "mu_star", "mu_star_conf", "sigma"])
    indices = pd.DataFrame(rows).reindex(columns=["method", "outcome", "input", *cols])
    key = "ST" if method == "sobol" else "mu_star"
    indices["rank"] = (indices.groupby("outcome")[key].rank(ascending=False, method="min")
                       .astype("Int64"))
    return indices, pd.DataFrame(usage)


# ---------------------------------------------------------------------------------------------
# The whole analysis
# ---------------------------------------------------------------------------------------------
@dataclass
class SensitivityResult:
    samples: pd.DataFrame  # inputs, outcomes, status, message, eval_time_s
    indices: pd.DataFrame
    usage: pd.DataFrame
    summary: dict
    out_dir: Path | None = None


def run_analysis(
    cfg: SensitivityConfig,
    evaluate: Callable[[Mapping[str, float]], dict] | None = None,
    out_dir: str | Path | None = None,
    write: bool = True,
) -> SensitivityResult:
    """Sample, evaluate (in parallel), analyse, write. ``evaluate`` defaults to the model; pass
    another evaluate function (e.g. :func:`ishigami`) to test the harness on known answers."""
    t0 = perf_counter()
    if evaluate is None:
        check_against_model(cfg)
        evaluate = ModelEvaluator.from_config(cfg)
    problem = problem_of(cfg.inputs)
    X = make_samples(problem, cfg.method, cfg.n, cfg.seed, cfg.second_order, cfg.morris_levels)
    samples = [dict(zip(problem["names"], map(float, row))) for row in X]
    log.info("%s: %d inputs, %d evaluations on %s with %d worker(s)%s", cfg.method,
             problem["num_vars"], len(samples), cfg.backend, cfg.workers,
             f" at {cfg.scheduler}" if cfg.scheduler else "")
    t_eval = perf_counter()
    rows = run_samples(evaluate, samples, cfg.backend, cfg.workers, cfg.scheduler, cfg.progress,
                       block=block_size(cfg.method, problem["num_vars"], cfg.second_order))
    eval_wall = perf_counter() - t_eval
    table = pd.concat([pd.DataFrame(samples), pd.DataFrame(rows)], axis=1)
    table.insert(0, "block", np.arange(len(table)) // block_size(
        cfg.method, problem["num_vars"], cfg.second_order))
    outcomes = [c for c in rows[0] if c not in ("status", "message", "eval_time_s", "model_build")]
    t_an = perf_counter()
    indices, usage = analyse(problem, X, table, outcomes, cfg.method, cfg.second_order,
                             cfg.morris_levels, cfg.num_resamples, cfg.conf_level, cfg.seed)
    labels = {k: (b.label or k) for k, b in cfg.inputs.items()}
    indices.insert(3, "label", indices["input"].map(labels))
    counts = {s: int((table["status"] == s).sum()) for s in STATUSES}
    summary = {
        "method": cfg.method,
        "n": cfg.n,
        "second_order": cfg.second_order,
        "inputs": {k: {"low": b.low, "high": b.high, "label": b.label, "unit": b.unit}
                   for k, b in cfg.inputs.items()},
        "outcomes": {o: {"unit": OUTCOMES[o].unit, "meaning": OUTCOMES[o].meaning}
                     for o in outcomes if o in OUTCOMES},
        "evaluations": len(table),
        "status_counts": counts,
        "infeasible": counts["infeasible"],
        "not_optimal": len(table) - counts["optimal"],
        "blocks": usage.to_dict(orient="records"),
        "backend": cfg.backend,
        "workers": cfg.workers,
        "scheduler": cfg.scheduler,
        "model": base_overrides(cfg),
        "seed": cfg.seed,
        "timings_s": {
            "evaluations_wall": eval_wall,
            "per_evaluation_mean": float(table["eval_time_s"].mean()),
            "analysis": perf_counter() - t_an,
            "total": perf_counter() - t0,
        },
        "git_commit": _git_commit(),
        "created": datetime.now().isoformat(timespec="seconds"),
    }
    result = SensitivityResult(table, indices, usage, summary)
    if write:
        result.out_dir = write_outputs(result, cfg, out_dir)
    return result


def write_outputs(result: SensitivityResult, cfg: SensitivityConfig,
                  out_dir: str | Path | None = None) -> Path:
    """samples.csv, indices.csv, blocks.csv, ranking.png, summary.json, report.md, config.yaml."""
    if out_dir is None:
        out_dir = cfg.out or (REPO_ROOT / "runs" / "sensitivity"
                              / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(result.samples, out / "samples.csv")
    write_csv(result.indices, out / "indices.csv")
    write_csv(result.usage, out / "blocks.csv")
    OmegaConf.save(OmegaConf.structured(SensitivityFile(sensitivity=cfg)), out / "config.yaml")
    plot_ranking(result.indices, cfg.method, out / "ranking.png")
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2, default=str) + "\n")
    (out / "report.md").write_text("\n".join(report_lines(result)) + "\n")
    return out


def plot_ranking(indices: pd.DataFrame, method: str, path: Path) -> None:
    """One panel per outcome: inputs ranked by ST (Sobol, with S1 beside it) or μ* (Morris),
    with confidence intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = list(dict.fromkeys(indices["outcome"]))
    ncol = min(2, len(outcomes))
    nrow = math.ceil(len(outcomes) / ncol)
    n_in = indices["input"].nunique()
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.5 * ncol, 0.35 * n_in * nrow + 1.2 * nrow),
                             squeeze=False)
    key, conf = ("ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf")
    for ax, outcome in zip(axes.ravel(), outcomes):
        d = indices[indices["outcome"] == outcome].sort_values(key, na_position="first")
        y = np.arange(len(d))
        if d[key].notna().any():
            if method == "sobol":
                ax.barh(y + 0.2, d["ST"], 0.4, xerr=d["ST_conf"], label="ST (total)",
                        color="#4C72B0")
                ax.barh(y - 0.2, d["S1"], 0.4, xerr=d["S1_conf"], label="S1 (first order)",
                        color="#DD8452")
            else:
                ax.barh(y, d[key], 0.6, xerr=d[conf], label="μ*", color="#4C72B0")
            ax.legend(fontsize=7, loc="lower right")
        else:
            ax.text(0.5, 0.5, "no variance to apportion", transform=ax.transAxes, ha="center")
        ax.set_yticks(y, d["label"].fillna(d["input"]), fontsize=8)
        ax.set_title(outcome, fontsize=9)
        ax.axvline(0, color="grey", lw=0.5)
    for ax in axes.ravel()[len(outcomes):]:
        ax.axis("off")
    fig.suptitle(f"{method}: inputs ranked by {'ST' if method == 'sobol' else 'μ*'}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def index_columns(indices: pd.DataFrame) -> tuple[str, str]:
    """The ranking index and its confidence column: ST (Sobol) or mu_star (Morris)."""
    return ("ST", "ST_conf") if "ST" in indices else ("mu_star", "mu_star_conf")


def top_inputs(indices: pd.DataFrame, outcome: str, k: int = 3) -> list[tuple[str, float, float]]:
    """The k highest-ranked inputs of an outcome: (input, index, conf)."""
    key, conf = index_columns(indices)
    d = indices[(indices["outcome"] == outcome) & indices[key].notna()]
    d = d.sort_values(key, ascending=False).head(k)
    return [(r["input"], float(r[key]), float(r[conf])) for _, r in d.iterrows()]


def precision_lines(indices: pd.DataFrame, n: int) -> list[str]:
    """A caution when the sample is too small to rank inputs: how many of the leading indices
    (ST or μ* of at least 0.05) have a confidence half-width as large as the index itself."""
    key, conf = index_columns(indices)
    d = indices[indices[key].notna() & (indices[key] >= 0.05)]
    wide = int((d[conf] >= d[key]).sum())
    if not wide:
        return []
    return ["", f"**Caution:** with n = {n}, {wide} of the {len(d)} indices of 0.05 or more have "
                f"a confidence half-width as large as the index: rankings after the first input "
                f"are not reliable here (ST above 1 or negative S1 are sampling noise). Use a "
                f"larger n (the default is 256)."]


def report_lines(result: SensitivityResult) -> list[str]:
    """The short markdown report (also logged)."""
    s = result.summary
    key = "ST" if s["method"] == "sobol" else "μ*"
    c = s["status_counts"]
    lines = [
        f"# Sensitivity analysis ({s['method']}, n = {s['n']})",
        "",
        f"{s['evaluations']} evaluations of {len(s['inputs'])} inputs on {s['backend']} "
        f"with {s['workers']} worker(s) in {s['timings_s']['evaluations_wall']:.1f} s wall "
        f"({s['timings_s']['evaluations_wall'] / max(s['evaluations'], 1) * 1000:.0f} ms of wall "
        f"time per evaluation; each took {s['timings_s']['per_evaluation_mean'] * 1000:.0f} ms "
        f"on its worker, on average).",
        "",
        f"Status: {c['optimal']} optimal, **{c['infeasible']} infeasible** (the hard targets "
        f"cannot all hold), {c['input_error']} input errors, {c['solver_error']} solver errors, "
        f"{c['error']} failed. A block (Saltelli block / Morris trajectory) with a NaN outcome "
        f"is left out of that outcome's indices:",
        "",
        "| outcome | blocks used | dropped | note |",
        "|---|---|---|---|",
    ]
    lines += [f"| {u['outcome']} | {u['blocks_used']} | {u['blocks_dropped']} | {u['note']} |"
              for u in s["blocks"]]
    lines += ["", f"## Top inputs by {key} (± {key} confidence half-width)", "",
              "| outcome | 1st | 2nd | 3rd |", "|---|---|---|---|"]
    for u in s["blocks"]:
        top = top_inputs(result.indices, u["outcome"])
        cells = [f"{name} {v:.3g} ± {cf:.2g}" for name, v, cf in top] + [""] * (3 - len(top))
        lines.append(f"| {u['outcome']} | " + " | ".join(cells) + " |")
    lines += precision_lines(result.indices, s["n"])
    lines += ["", "Files: samples.csv (inputs, outcomes, status per evaluation), indices.csv, "
              "blocks.csv, ranking.png, summary.json, config.yaml."]
    return lines


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    from model.errors import ArgumentParser

    parser = ArgumentParser(
        prog="python -m analysis.sensitivity",
        description="Global sensitivity analysis (SALib) of the housing-plan model.")
    parser.add_argument("--config", help="a conf/sensitivity/*.yaml file (default: default.yaml)")
    parser.add_argument("overrides", nargs="*",
                        help="dotted KEY=VALUE, e.g. sensitivity.method=morris sensitivity.n=20")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)
    from model.errors import UserError, report_error

    try:
        cfg = load_config(args.config, args.overrides)
        check_against_model(cfg)
    except UserError as exc:  # one line per problem (docs/errors.md)
        return report_error("analysis.sensitivity", exc)
    result = run_analysis(cfg)
    for line in report_lines(result):
        log.info(line)
    log.info("written to %s", result.out_dir)
    return 0


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy: joblib/Dask pickle __main__'s
    # classes by value, which would give every task a fresh model cache (a rebuild per sample).
    from analysis.sensitivity import main as _main
    from model.errors import cli

    cli("analysis.sensitivity", _main)
