"""The market replay: a plan → a SimPy month-by-month replay over many replications.

The optimiser plans in whole years with known demand; the plan's targets are judged month by
month in a market that does not follow forecasts. This stage takes a plan table (the optimiser's
``plan.csv`` or :func:`plan_as_written`) and replays it in one SimPy environment whose processes
act on numpy arrays shaped ``(replications, regions)``:

* **government** – the land review each January (and July with ``mid_year_review``) applies the
  land rule (§2.2.3 or §9.3) to the destocking cycle observed at the end of the previous month;
  the verdict governs the plan's land until the next review. The government also runs the
  public purchase programme (buys unsold stock at the plan's pace).
* **developers** – land sold in a month becomes floor area ready for presale after a random lag
  drawn from the shared timing model (model/timing.py, docs/timing.md); they presell the plan's
  presale schedule (表45 / the optimiser's supply) as far as ready floor area allows, the rest
  later; presale joins the unsold inventory.
* **buyers** – monthly demand = the plan's annual demand ÷ 12 × seasonality × price response ×
  a correlated, persistent random shock; sales = min(demand, unsold stock).
* **prices** – a price index per region moves with the observed destocking cycle.
* **dwellings** – completions add dwellings, household formation fills them, demolitions
  remove them, giving vacancy for the city and the main city.

Everything is a pure stage: plan + dataset + :class:`ReplayParams` in, :class:`ReplayResult`
out, tidy tables from :func:`monthly_table` and :func:`replay_summary`. No Hydra here. The maths
and every default are documented in ``docs/replay.md``.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import simpy
from model import results
from model import timing as tm
from model.csvio import write_csv
from model.data import Dataset
from model.labels import Labels
from model.inputs import (by_level, derived_plot_ratio, dwelling_stock,
                          household_formation_default, land_sold_by_level, level_regions)
from model.readings import annual_path

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Contracts and constants
# ---------------------------------------------------------------------------------------------
PLAN_COLUMNS = tuple(results.PLAN_COLUMNS)  # the plan.csv contract, as the optimiser writes it
#: Plan columns the replay reads (the rest are carried for the deterministic check).
PLAN_INPUT_COLUMNS = ("region", "year", "land_ha", "supply_10k_m2", "sales_10k_m2",
                      "unmet_demand_10k_m2", "purchased_10k_m2")
LAND_RULES = ("national", "strict")
LAND_RULE_ALIASES = {"2.2.3": "national", "9.3": "strict"}  # older names, still accepted
SHOCK_DISTRIBUTIONS = ("lognormal", "normal")
MONTHS_PER_YEAR = 12
PERCENTILES = (10, 50, 90)
#: Monthly −Δ ln(price index) per unit of ln(cycle ÷ band edge) outside the 12–18-month band: a
#: cycle of 36 months (twice the band's top) lowers prices by ln 2 × 1% ≈ 0.7% a month, about 8%
#: a year — the order of 2025's resale price fall (−12%, DESIGN). How buyers respond to that path
#: is the one uncertain coefficient, ``price_response``.
PRICE_ADJUSTMENT_PER_MONTH = 0.01
#: Cycle bounds used only inside the price equation, so an empty or sold-out region does not
#: send the index to 0 or infinity in one step (months).
PRICE_CYCLE_CLIP_MONTHS = (1.0, 120.0)

#: Monthly sales weights (mean 1), the same as ``conf/sim/default.yaml``: slow Spring Festival
#: (January–February), spring peak, summer lull, the September–October season (金九银十). An
#: assumption from the usual shape of China's monthly new-housing sales; the plan prints none.
DEFAULT_SEASONALITY = (0.70, 0.60, 1.00, 1.05, 1.05, 1.00, 0.90, 0.90, 1.25, 1.30, 1.10, 1.15)

# Land-review verdicts (int8 codes in the result arrays).
ALLOW, TRIM, SUSPEND, ADD = 0, 1, 2, 3
VERDICT_NAMES = {ALLOW: "allow", TRIM: "trim", SUSPEND: "suspend", ADD: "add"}

# Order of the processes inside a month (fractions of a month after its start).
PHASE = MappingProxyType({
    "review": 0.0,       # government: land review (January / July)
    "developers": 0.1,   # land sold this month enters the pipeline; completions arrive
    "purchases": 0.2,    # government: public purchase of unsold stock
    "buyers": 0.3,       # demand, sales, destocking cycle
    "prices": 0.4,       # price index for next month
    "dwellings": 0.5,    # dwelling stock, occupancy, vacancy
})


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayParams:
    """Behaviour of the replay. Field names mirror ``SimConfig`` (``conf/sim``); ``None`` means
    "derive from the dataset" (see :meth:`resolve` and ``docs/replay.md``)."""

    replications: int = 200
    seed: int = 20260101
    deterministic: bool = False
    seasonality: tuple[float, ...] = DEFAULT_SEASONALITY
    # d ln demand / d(−ln price index): > 0 falling prices draw buyers ("absorbing"), < 0 they
    # deter them (买涨不买跌), 0 no feedback (default); docs/replay.md "Price response"
    price_response: float = 0.0
    # sd of a persistent log demand level, one draw per replication and region for the whole
    # horizon (correlated across regions like the shocks): how far the level of demand may sit
    # from the plan's; 0 = the plan's level exactly
    demand_level_sd: float = 0.0
    shock_sd: float = 0.10                  # sd of log monthly demand shock (stationary)
    shock_correlation: float = 0.5          # correlation of shocks across regions
    shock_persistence: float = 0.6          # AR(1) coefficient of shocks month to month
    shock_distribution: str = "lognormal"   # lognormal | normal
    timing: tm.Timing = tm.Timing()         # land sale → presale (model/timing.py)
    land_rule: str = "national"             # national | strict
    mid_year_review: bool = False
    enforce_land_rule: bool | None = None   # None → enforce unless deterministic
    enforce_presale_timing: bool | None = None  # None → presale waits for ready floor area
    # stochastic mode: while stock is below this many months of sales, developers presell ready
    # floor area ahead of the plan's schedule (later presale is reduced by as much); None: never
    presell_below_months: float | None = None
    revitalised_land_share: float = 0.0     # §2.2.3 18–36 band: land allowed ÷ planned land
    strict_rule_add_share: float = 0.0      # §9.3 cycle < 6: extra land ÷ planned land
    completion_lag_months: int = 12         # floor area for sale → dwelling completed (vacancy)
    price_band_low_months: float | None = None     # prices flat while the cycle is in the
    price_band_high_months: float | None = None    # band (§2.4.1 reasonable band: 12–18)
    cycle_threshold_months: float | None = None    # "first month the cycle falls under 18"
    # the run's cycle target (targets.cycle_months_end) for every region and the aggregate;
    # None: the dataset's targets.csv (a region without its own target takes the city's)
    cycle_target_months: float | None = None
    cycle_cap_months: float = 600.0                # cycle reported when 12-month sales are 0
    dwelling_size_m2: float | None = None
    household_formation_10k_per_year: float | None = None  # city-wide, 万户/year
    demolitions_10k_per_year: float | None = None          # city-wide, 万套/year

    def __post_init__(self):
        if not isinstance(self.seasonality, (str, bytes)) and _is_sequence(self.seasonality):
            object.__setattr__(self, "seasonality", tuple(self.seasonality))
        if isinstance(self.land_rule, str) and self.land_rule in LAND_RULE_ALIASES:
            object.__setattr__(self, "land_rule", LAND_RULE_ALIASES[self.land_rule])
        problems = _param_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        mean = sum(self.seasonality) / MONTHS_PER_YEAR
        scale = 1.0 / mean if abs(mean - 1.0) > 1e-12 else 1.0
        object.__setattr__(self, "seasonality", tuple(float(v) * scale for v in self.seasonality))

    @classmethod
    def from_config(cls, cfg: Any = None, **overrides: Any) -> "ReplayParams":
        """Build from any object or mapping with these field names (Hydra ``SimConfig``, a
        ``DictConfig``, a dict). Keys the replay does not use (``enabled``) are ignored."""
        names = {f.name for f in fields(cls)}
        if cfg is None:
            items: dict[str, Any] = {}
        elif hasattr(cfg, "keys"):
            items = {str(k): cfg[k] for k in cfg.keys()}
        else:
            items = {n: getattr(cfg, n) for n in names if hasattr(cfg, n)}
        items.update(overrides)
        ignored = sorted(set(items) - names)
        if ignored:
            log.debug("ReplayParams.from_config: ignoring %s", ", ".join(ignored))
        defaults = {f.name: f.default for f in fields(cls)}
        # a None in the config means "not set here" for a field whose own default is not None
        values = {k: _plain(v) for k, v in items.items()
                  if k in names and not (v is None and defaults[k] is not None)}
        rule = values.get("land_rule")
        if isinstance(rule, (int, float)) and not isinstance(rule, bool):
            # YAML reads 9.3 as a float
            values["land_rule"] = repr(float(rule)).rstrip("0").rstrip(".")
        return cls(**values)

    def resolve(self, dataset: Dataset, level: str = "region") -> "ReplayParams":
        """A copy with every ``None`` default derived from the dataset's facts and tables."""
        derived = derive_defaults(dataset, level)
        return replace(self, **{k: v for k, v in derived.items() if getattr(self, k) is None})

    def effective(self) -> "ReplayParams":
        """The behaviour actually simulated: in deterministic mode no shocks, no price response
        and flat seasonality, and ready floor area arrives in whole-year buckets (the timing
        model's annual shares, credited each January: the optimiser's own view); the land rule
        is recorded but not enforced unless ``enforce_land_rule`` is set explicitly. Presale
        waits for ready floor area unless ``enforce_presale_timing`` is false."""
        enforce = self.enforce_land_rule
        if enforce is None:
            enforce = not self.deterministic
        ready = True if self.enforce_presale_timing is None else self.enforce_presale_timing
        if not self.deterministic:
            return replace(self, enforce_land_rule=enforce, enforce_presale_timing=ready)
        return replace(
            self, enforce_land_rule=enforce, enforce_presale_timing=ready,
            seasonality=(1.0,) * MONTHS_PER_YEAR, price_response=0.0, shock_sd=0.0,
            demand_level_sd=0.0)


def _is_sequence(value: Any) -> bool:
    return hasattr(value, "__iter__") and hasattr(value, "__len__")


def _plain(value: Any) -> Any:
    """OmegaConf ListConfig and other sequences → a plain tuple."""
    if _is_sequence(value) and not isinstance(value, (str, bytes, Mapping)):
        return tuple(value)
    return value


def _param_problems(p: ReplayParams) -> list[str]:
    """Every invalid field, one phrase each: field, value, what is valid."""
    out: list[str] = []

    def bad(name: str, valid: str):
        out.append(f"sim.{name} = {getattr(p, name)!r} is not valid; expected {valid}")

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    def is_num(v):
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) \
            and math.isfinite(v)

    if not is_int(p.replications) or p.replications < 1:
        bad("replications", "a whole number >= 1")
    if not is_int(p.seed) or p.seed < 0:
        bad("seed", "a whole number >= 0")
    for name in ("deterministic", "mid_year_review"):
        if not isinstance(getattr(p, name), (bool, np.bool_)):
            bad(name, "true or false")
    if p.enforce_land_rule is not None and not isinstance(p.enforce_land_rule, (bool, np.bool_)):
        bad("enforce_land_rule", "true, false or null (null: enforce unless deterministic)")
    season = p.seasonality
    if (not _is_sequence(season) or isinstance(season, (str, bytes)) or len(season) != 12
            or not all(is_num(v) and v >= 0 for v in season)):
        bad("seasonality", "12 non-negative monthly weights with mean 1")
    elif abs(sum(season) / 12 - 1.0) > 1e-6:
        out.append(f"sim.seasonality has mean {sum(season) / 12:.6g}, not 1; expected 12 "
                   f"non-negative monthly weights with mean 1")
    if p.land_rule not in LAND_RULES:
        bad("land_rule", "'national' (suspend above 36 months, revitalised land only in "
                         "18–36) or 'strict' (suspend above 18 months)")
    if p.shock_distribution not in SHOCK_DISTRIBUTIONS:
        bad("shock_distribution", " or ".join(repr(v) for v in SHOCK_DISTRIBUTIONS))
    if not isinstance(p.timing, tm.Timing):
        out.append(f"timing = {p.timing!r} is not valid; expected a model.timing.Timing")
    else:
        out += p.timing.problems()
    if p.enforce_presale_timing is not None and not isinstance(p.enforce_presale_timing,
                                                              (bool, np.bool_)):
        bad("enforce_presale_timing", "true, false or null (null: enforce unless the plan is only "
                                      "evaluated)")
    ranges = {
        "price_response": (-3.0, 3.0, "a number in [-3, 3] (> 0: falling prices draw buyers; "
                                      "< 0: they deter buyers, 买涨不买跌; 0: no feedback)"),
        "demand_level_sd": (0.0, 1.0, "a number in [0, 1] (sd of the log demand level)"),
        "shock_sd": (0.0, 2.0, "a number in [0, 2]"),
        "shock_correlation": (0.0, 1.0, "a number in [0, 1]"),
        "shock_persistence": (0.0, 0.999, "a number in [0, 0.999]"),
        "revitalised_land_share": (0.0, 1.0, "a share in [0, 1]"),
        "strict_rule_add_share": (0.0, 10.0, "a share in [0, 10]"),
        "cycle_cap_months": (1.0, 1e6, "a number of months >= 1"),
    }
    for name, (lo, hi, valid) in ranges.items():
        v = getattr(p, name)
        if not is_num(v) or not lo <= v <= hi:
            bad(name, valid)
    for name in ("completion_lag_months",):
        v = getattr(p, name)
        if not is_int(v) or v < 0:
            bad(name, "a whole number >= 0")
    for name in ("price_band_low_months", "price_band_high_months", "cycle_threshold_months",
                 "dwelling_size_m2", "presell_below_months", "cycle_target_months"):
        v = getattr(p, name)
        if v is not None and (not is_num(v) or v <= 0):
            bad(name, "a positive number or null (null: derive from the dataset)")
    for name in ("household_formation_10k_per_year", "demolitions_10k_per_year"):
        v = getattr(p, name)
        if v is not None and (not is_num(v) or v < 0):
            bad(name, "a non-negative number or null (null: derive from the dataset)")
    return out


# ---------------------------------------------------------------------------------------------
# Defaults derived from the dataset
# ---------------------------------------------------------------------------------------------
def _fact(dataset: Dataset, fact: str, scope: str | None = None) -> float | None:
    """A printed figure for (fact, scope — the city by default), or None."""
    return dataset.fact_or_none(fact, dataset.city.region_id if scope is None else scope)


def _target(dataset: Dataset, target_id: str, scope: str) -> float | None:
    t = dataset.target_or_none(target_id, scope)
    return None if t is None else t.value


def derive_defaults(dataset: Dataset, level: str = "region") -> dict[str, float]:
    """The data-derived defaults (docs/replay.md, "Parameters"), each with its source:

    * ``price_band_low_months``, ``price_band_high_months`` = the reasonable band (§2.4.1: 12, 18);
    * ``cycle_threshold_months`` = top of that band (18);
    * ``dwelling_size_m2`` = 2025 sales 万m² ÷ sales dwellings (§2.2.1.2: 117.4 m²);
    * ``household_formation_10k_per_year`` = the optimiser's derivation
      (model.inputs.household_formation_default): rural-to-urban migrants (§9.2) less the urban
      share of the resident-population decline (§2.1.7), per occupied urban dwelling ≈ 0.202
      万户/year;
    * ``demolitions_10k_per_year`` = 表34 urban-village households ÷ plan years (≈ 0.05 万/year).
    Missing facts fall back to neutral values (12–18, 18, 100 m², 0, 0).
    """
    out: dict[str, float] = {}
    low, high = _fact(dataset, "cycle_band_low_months"), _fact(dataset, "cycle_band_high_months")
    out["price_band_low_months"] = low if low else 12.0
    out["price_band_high_months"] = high if high else 18.0
    out["cycle_threshold_months"] = high if high else 18.0
    sales, dwellings = _fact(dataset, "sales_10k_m2"), _fact(dataset, "sales_dwellings")
    out["dwelling_size_m2"] = sales * 1e4 / dwellings if sales and dwellings else 100.0
    stock = _vacancy_stock(dataset, dataset.city.region_id)
    # the optimiser's own derivation (model.inputs.household_formation_default): migrants less
    # the urban share of the population decline, per occupied urban dwelling (0.202 万 a year)
    formation = household_formation_default(dataset, *stock, None)[0] if stock else 0.0
    out["household_formation_10k_per_year"] = max(formation, 0.0)
    villages = _target(dataset, "urban_village_households", dataset.city.region_id)
    out["demolitions_10k_per_year"] = villages / len(dataset.plan_years) / 1e4 if villages else 0.0
    if out["household_formation_10k_per_year"] == 0.0:
        log.debug("replay: dataset %s lacks the population or vacancy facts for household "
                    "formation; using 0", dataset.name)
    return out


def _vacancy_stock(dataset: Dataset, scope: str) -> tuple[float, float] | None:
    """(dwellings, vacant dwellings) in 万 for a scope in the base year, as the optimiser
    derives them (§2.4.2); None where the dataset prints no (non-zero) vacancy."""
    stock = dwelling_stock(dataset, scope)
    return stock if stock is not None and stock[1] > 0 else None


# ---------------------------------------------------------------------------------------------
# Plans: the plan's annual arithmetic, and the plan as written
# ---------------------------------------------------------------------------------------------
def destocking_cycle(inventory_10k_m2: np.ndarray, mean_monthly_sales_10k_m2: np.ndarray,
                     cap_months: float = 600.0) -> np.ndarray:
    """Cycle = unsold inventory ÷ average monthly sales of the previous 12 months (footnote 4),
    capped at ``cap_months``; no sales and some stock → the cap; no stock → 0."""
    inventory = np.asarray(inventory_10k_m2, dtype=float)
    sales = np.asarray(mean_monthly_sales_10k_m2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cycle = inventory / sales
    cycle = np.where(sales > 0, cycle, np.where(inventory > 0, cap_months, 0.0))
    return np.minimum(cycle, cap_months)


def annual_plan(dataset: Dataset, supply_10k_m2: Mapping[tuple[str, int], float],
                land_ha: Mapping[tuple[str, int], float],
                demand_10k_m2: Mapping[tuple[str, int], float],
                purchased_10k_m2: Mapping[tuple[str, int], float] | None = None,
                level: str = "region") -> pd.DataFrame:
    """A plan table (plan.csv columns) from yearly supply, land, demand and planned purchases,
    by the plan's own arithmetic per region r and year y, starting from 表19 inventory:

        available = inventory[y−1] + supply[y];  purchased = min(planned purchases, available)
        sales = min(demand, available − purchased);  unmet = demand − sales
        inventory[y] = available − purchased − sales;  cycle = inventory[y] ÷ (sales ÷ 12)
    """
    purchased_10k_m2 = purchased_10k_m2 or {}
    opening = by_level(dataset, level, dataset.inventory_10k_m2, dataset.inventory_10k_m2)
    ids = level_regions(dataset, level)[0]
    years = tuple(dataset.plan_years)
    rows = []
    for r in ids:
        path = annual_path(opening[r], {y: supply_10k_m2[(r, y)] for y in years},
                           {y: demand_10k_m2[(r, y)] for y in years}, years,
                           {y: purchased_10k_m2.get((r, y), 0.0) for y in years})
        for y, step in zip(years, path):
            rows.append({
                "region": r, "year": int(y), "land_ha": float(land_ha[(r, y)]),
                "supply_10k_m2": step["supply"], "sales_10k_m2": step["sales"],
                "unmet_demand_10k_m2": step["unmet"], "purchased_10k_m2": step["purchased"],
                "subsidised_new_10k_m2": 0.0, "inventory_end_10k_m2": step["inventory_end"],
                "cycle_end_months": float(destocking_cycle(step["inventory_end"],
                                                           step["sales"] / MONTHS_PER_YEAR)),
            })
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


def plan_as_written(dataset: Dataset, level: str = "region") -> pd.DataFrame:
    """The plan as printed, in plan.csv format: supply 表45 (表46 for districts), land 表48
    (表49), demand 表31 (表32), no public purchases, sales = min(demand, available)."""
    def merged(getter):
        return by_level(dataset, level, getter, getter)

    return annual_plan(dataset, merged(dataset.supply_guidance_10k_m2),
                       merged(dataset.land_guidance_ha), merged(dataset.demand_10k_m2), None, level)


# ---------------------------------------------------------------------------------------------
# Inputs: the plan and dataset as monthly arrays
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LandRule:
    """Thresholds of the land rule (months) and what each verdict lets through (× planned land).

    §2.2.3: cycle > suspend_above → suspend (0); trim_above < cycle ≤ suspend_above → only the
    revitalised land (trim_share). §9.3: cycle > suspend_above → suspend; cycle < add_below →
    planned land × (1 + add_share)."""

    name: str
    suspend_above_months: float
    trim_above_months: float = math.inf
    add_below_months: float = -math.inf
    trim_share: float = 0.0
    add_share: float = 0.0


def land_rule_from(dataset: Dataset, params: ReplayParams) -> LandRule:
    """The rule named by ``params.land_rule`` with the thresholds printed in the dataset."""
    def threshold(fact: str, default: float) -> float:
        value = _fact(dataset, fact)
        if value is None:
            # the national 2024 rule's thresholds (model.inputs.NATIONAL_LAND_RULE); the run's
            # dataset notes say so once
            log.debug("replay: dataset %s has no fact %s; using %s months",
                        dataset.name, fact, default)
            return default
        return value

    if params.land_rule == "national":
        return LandRule("national", threshold("land_rule_suspend_above_months", 36.0),
                        trim_above_months=threshold("land_rule_revitalise_above_months", 18.0),
                        trim_share=params.revitalised_land_share)
    return LandRule("strict", threshold("strict_rule_suspend_above_months", 18.0),
                    add_below_months=threshold("strict_rule_add_below_months", 6.0),
                    add_share=params.strict_rule_add_share)


def land_verdict(cycle_months: np.ndarray, rule: LandRule) -> tuple[np.ndarray, np.ndarray]:
    """(factor × planned land, verdict code) for each observed cycle under ``rule``."""
    cycle = np.asarray(cycle_months, dtype=float)
    verdict = np.full(cycle.shape, ALLOW, dtype=np.int8)
    verdict[cycle < rule.add_below_months] = ADD
    verdict[cycle > rule.trim_above_months] = TRIM
    verdict[cycle > rule.suspend_above_months] = SUSPEND
    factor = np.ones(cycle.shape)
    factor[verdict == ADD] = 1.0 + rule.add_share
    factor[verdict == TRIM] = rule.trim_share
    factor[verdict == SUSPEND] = 0.0
    return factor, verdict


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class VacancyScope:
    """An area whose vacancy is tracked: members are regions of the replay (万 dwellings)."""

    scope_id: str
    members: tuple[str, ...]
    dwellings_10k: float
    vacant_10k: float
    formation_10k_per_year: float
    demolitions_10k_per_year: float
    base_year_supply_10k_m2: float
    vacancy_target_share: float


@dataclass(frozen=True)
class ReplayStart:
    """An observed state the replay starts from (the mid-term review): stock at the end of the
    year before ``first_year`` and the trailing mean monthly sales (万m²) per region, and the
    price index (None: 1)."""

    first_year: int
    inventory_10k_m2: Mapping[str, float]
    sales_10k_m2_per_month: Mapping[str, float]
    price_index: Mapping[str, float] | None = None


@dataclass(frozen=True)
class ReplayInputs:
    """The plan and dataset as monthly arrays (T months × N regions); read-only."""

    level: str
    region_ids: tuple[str, ...]
    aggregate_id: str                            # city (region level) or main city (districts)
    main_city_id: str | None                     # None: the city has no main city
    months: tuple[str, ...]                      # YYYY-MM
    years: tuple[int, ...]
    opening_inventory_10k_m2: np.ndarray         # (N,) 表19
    opening_cycle_months: np.ndarray             # (N,) 表19, what the first land review sees
    history_sales_10k_m2_per_month: np.ndarray   # (N,) inventory ÷ cycle, 2025
    demand_10k_m2_per_month: np.ndarray          # (T, N) (sales + unmet) ÷ 12
    supply_10k_m2_per_month: np.ndarray          # (T, N) the plan's presale schedule ÷ 12
    purchases_10k_m2_per_month: np.ndarray       # (T, N) purchased ÷ 12
    land_ha_per_month: np.ndarray                # (T, N) land ÷ 12
    plot_ratio_10k_m2_per_ha: np.ndarray         # (N,) floor area of a hectare of land sold
    ready_shares: tuple[float, ...]              # a_k of the timing model (deterministic mode)
    pipeline_months: np.ndarray                  # (K,) months (< 0) land before the plan was sold
    pipeline_10k_m2: np.ndarray                  # (K, N) its floor area, per month sold
    pipeline_ready_10k_m2: np.ndarray            # (Y, N) the part ready in each plan year
    held_back_10k_m2: np.ndarray                 # (N,) ready at the start, not yet presold
    opening_price_index: np.ndarray              # (N,) 1, or the observed index (review)
    rule: LandRule
    cycle_target_months: np.ndarray              # (N,) target at the end of the last plan year
    aggregate_cycle_target_months: float
    scopes: tuple[VacancyScope, ...]
    # §2.2.3 18–36 band: land revitalised per year (Y, N), ha; empty → rule.trim_share × planned
    revitalised_ha: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def n_months(self) -> int:
        return len(self.months)


def _plan_matrix(plan: pd.DataFrame, column: str, ids: tuple[str, ...], years: tuple[int, ...]):
    table = plan.pivot(index="year", columns="region", values=column)
    return table.loc[list(years), list(ids)].to_numpy(dtype=float)   # (Y, N)


def check_plan(plan: pd.DataFrame, ids: Iterable[str], years: Iterable[int]) -> list[str]:
    """Problems that stop a plan table from being replayed, one line each."""
    ids, years = tuple(ids), tuple(years)
    problems = [f"plan: missing column {c!r} (plan.csv needs {', '.join(PLAN_INPUT_COLUMNS)})"
                for c in PLAN_INPUT_COLUMNS if c not in plan.columns]
    if problems:
        return problems
    year = pd.to_numeric(plan["year"], errors="coerce")
    for i in np.flatnonzero(~(year == year.round())):
        problems.append(f"plan row {i}: year = {plan['year'].iloc[i]!r} — expected a year "
                        f"like {years[0]}")
    if problems:
        return problems
    keys = list(zip(plan["region"], year.astype(int)))
    seen: set[tuple[str, int]] = set()
    for key in keys:
        if key in seen:
            problems.append(f"plan: duplicate row for region {key[0]!r}, year {key[1]}")
        seen.add(key)
    for r in sorted({k[0] for k in keys} - set(ids)):
        problems.append(f"plan: region {r!r} is not a region of the dataset ({', '.join(ids)})")
    for r in ids:
        for y in years:
            if (r, y) not in seen:
                problems.append(f"plan: no row for region {r!r}, year {y}")
    for c in PLAN_INPUT_COLUMNS[2:]:
        values = pd.to_numeric(plan[c], errors="coerce")
        for i in np.flatnonzero(~(values >= 0)):
            problems.append(f"plan row {i}: {c} = {plan[c].iloc[i]!r} — expected a number >= 0")
    return problems


def replay_inputs(plan: pd.DataFrame, dataset: Dataset, params: ReplayParams,
                  level: str = "region",
                  revitalised_ha: Mapping[tuple[str, int], float] | None = None,
                  plot_ratio: Mapping[str, float] | None = None,
                  pipeline: tm.Pipeline | None = None,
                  demand_10k_m2: Mapping[tuple[str, int], float] | None = None,
                  start: "ReplayStart | None" = None) -> ReplayInputs:
    """Monthly arrays from a plan table and the dataset; ``params`` must be resolved.

    ``revitalised_ha`` ((region, year) → ha, the optimiser's assumption) caps the land the §2.2.3
    rule lets through in the 18–36 month band; without it the cap is
    ``params.revitalised_land_share`` × planned land. ``plot_ratio`` (region → 万m² per ha) and
    ``pipeline`` (the opening pipeline, :func:`model.timing.opening_pipeline`) are the
    optimiser's; without them they are derived from the dataset the same way
    (Σ表45 ÷ Σ表48 per region; 表21 land under ``params.timing``). ``demand_10k_m2`` ((region,
    year) → 万m² a year) replaces the plan's own demand (its sales + unmet): a fixed plan stressed
    under another demand case. ``start`` (the mid-term review) replays only the years from
    ``start.first_year`` on, from an observed state: its stock, its trailing sales (the cycle the
    land rule reads) and its price index; ``pipeline`` must then be the pipeline at that point."""
    ids = level_regions(dataset, level)[0]
    years = tuple(dataset.plan_years)
    if start is not None:
        years = tuple(y for y in years if y >= start.first_year)
        plan = plan[pd.to_numeric(plan["year"], errors="coerce").isin(years)]
    problems = check_plan(plan, ids, years)
    if problems:
        raise ValueError("; ".join(problems))
    plan = plan.assign(year=plan["year"].astype(int))
    twelfth = 1.0 / MONTHS_PER_YEAR

    def monthly(column: str) -> np.ndarray:
        return np.repeat(_plan_matrix(plan, column, ids, years), MONTHS_PER_YEAR, axis=0) * twelfth

    demand = monthly("sales_10k_m2") + monthly("unmet_demand_10k_m2")
    if demand_10k_m2 is not None:
        annual = np.array([[float(demand_10k_m2[(r, y)]) for r in ids] for y in years])
        demand = np.repeat(annual, MONTHS_PER_YEAR, axis=0) * twelfth
    supply = monthly("supply_10k_m2")
    months = tuple(f"{y}-{m:02d}" for y in years for m in range(1, 13))

    if start is None:
        opening_inventory = by_level(dataset, level, dataset.inventory_10k_m2,
                                     dataset.inventory_10k_m2)
        opening_cycle = by_level(dataset, level, dataset.cycle_months, dataset.cycle_months)
        inventory = np.array([opening_inventory[r] for r in ids], dtype=float)
        cycle = np.array([opening_cycle[r] for r in ids], dtype=float)
    else:
        inventory = np.array([float(start.inventory_10k_m2[r]) for r in ids])
        monthly_sales = np.array([float(start.sales_10k_m2_per_month[r]) for r in ids])
        cycle = destocking_cycle(inventory, monthly_sales, params.cycle_cap_months)
        cycle = np.where(monthly_sales > 0, cycle, 0.0)
    history = np.where(cycle > 0, inventory / np.where(cycle > 0, cycle, 1.0), demand[0])
    for r, c in zip(ids, cycle):
        if c <= 0:
            log.warning("replay: %s has no base-year cycle; seeding its sales history with the plan's "
                        "first-month demand", r)

    shares = tm.annual_shares(params.timing)
    if plot_ratio is None:
        plot_ratio = derived_plot_ratio(
            by_level(dataset, level, dataset.supply_guidance_10k_m2,
                     dataset.supply_guidance_10k_m2),
            by_level(dataset, level, dataset.land_guidance_ha, dataset.land_guidance_ha), ids)
    if pipeline is None:
        pipeline = default_pipeline(dataset, level, ids, plot_ratio, shares)
    pipe_months, pipe_amounts = _pipeline_tranches(pipeline, ids, years[0])
    price0 = np.ones(len(ids)) if start is None or start.price_index is None else np.array(
        [float(start.price_index.get(r, 1.0)) for r in ids])
    target = _target(dataset, "cycle_months", dataset.city.region_id)
    target = float(target) if target is not None else float(params.cycle_threshold_months)
    targets = np.array([_target(dataset, "cycle_months", r) or target for r in ids], dtype=float)
    aggregate_id = dataset.city.region_id
    aggregate_target = float(_target(dataset, "cycle_months", aggregate_id) or target)
    if params.cycle_target_months is not None:      # the run's own target wins (optimiser alike)
        targets = np.full(len(ids), float(params.cycle_target_months))
        aggregate_target = float(params.cycle_target_months)
    return ReplayInputs(
        level=level, region_ids=tuple(ids), aggregate_id=aggregate_id,
        main_city_id=dataset.main_city_id, months=months, years=years,
        opening_inventory_10k_m2=_frozen(inventory),
        opening_cycle_months=_frozen(np.where(cycle > 0, cycle, destocking_cycle(
            inventory, history, params.cycle_cap_months))),
        history_sales_10k_m2_per_month=_frozen(history),
        demand_10k_m2_per_month=_frozen(demand), supply_10k_m2_per_month=_frozen(supply),
        purchases_10k_m2_per_month=_frozen(monthly("purchased_10k_m2")),
        land_ha_per_month=_frozen(monthly("land_ha")),
        plot_ratio_10k_m2_per_ha=_frozen(np.array([float(plot_ratio[r]) for r in ids])),
        ready_shares=tuple(shares),
        pipeline_months=_frozen(pipe_months), pipeline_10k_m2=_frozen(pipe_amounts),
        pipeline_ready_10k_m2=_frozen(np.array(
            [[float(pipeline.ready.get((r, y), 0.0)) for r in ids] for y in years])),
        held_back_10k_m2=_frozen(np.array([float(pipeline.held_back.get(r, 0.0)) for r in ids])),
        opening_price_index=_frozen(price0),
        rule=land_rule_from(dataset, params),
        cycle_target_months=_frozen(targets),
        aggregate_cycle_target_months=aggregate_target,
        scopes=_vacancy_scopes(dataset, params, ids, level),
        revitalised_ha=_frozen(np.array(
            [[float(revitalised_ha.get((r, y), 0.0)) for r in ids] for y in years]))
        if revitalised_ha is not None else np.zeros((0, 0)),
    )


def default_pipeline(dataset: Dataset, level: str, ids: tuple[str, ...],
                     plot_ratio: Mapping[str, float], shares: tuple[float, ...]) -> tm.Pipeline:
    """The opening pipeline as the optimiser derives it (model.inputs.pipeline_fields): land
    sold in the history years (表21) × plot ratio under the timing model; none without a land
    history."""
    from model.inputs import held_back_pipeline

    sold = land_sold_by_level(dataset, level) if dataset.has_table("land_sold") else {}
    area = {(r, y): v * plot_ratio[r] for (r, y), v in sold.items() if r in plot_ratio}
    pipe = tm.opening_pipeline(area, tuple(ids), dataset.base_year, tuple(dataset.plan_years),
                               shares)
    return held_back_pipeline(dataset, level, ids, tuple(dataset.plan_years), pipe, shares,
                              []) if sold else pipe


def _pipeline_tranches(pipeline: tm.Pipeline, ids: tuple[str, ...], first_year: int):
    """(months, amounts): each history year's floor area spread evenly over its twelve months,
    month index relative to January of the first plan year (so negative), shape (K,), (K, N)."""
    years = sorted({h for (_r, h) in pipeline.tranches})
    months, amounts = [], []
    for h in years:
        area = np.array([pipeline.tranches.get((r, h), 0.0) for r in ids]) / MONTHS_PER_YEAR
        for j in range(MONTHS_PER_YEAR):
            months.append(MONTHS_PER_YEAR * (h - first_year) + j)
            amounts.append(area)
    return np.array(months, dtype=int), np.array(amounts, dtype=float).reshape(-1, len(ids))


def _vacancy_scopes(dataset, params, ids, level) -> tuple[VacancyScope, ...]:
    """City (all regions) and main city (the main city, or its districts at district level) —
    where the dataset prints the 2025 vacancy (§2.4.2)."""
    city_id, main_id = dataset.city.region_id, dataset.main_city_id
    wanted = [(city_id, tuple(ids))]
    if main_id:
        wanted.append((main_id, level_regions(dataset, level)[1]))
    city_stock = _vacancy_stock(dataset, city_id)
    scopes = []
    for scope_id, members in wanted:
        stock = _vacancy_stock(dataset, scope_id)
        if stock is None:
            log.debug("replay: no base-year vacancy for %s; vacancy not tracked there", scope_id)
            continue
        dwellings, vacant = stock
        if city_stock is not None:
            occupied_share = (dwellings - vacant) / (city_stock[0] - city_stock[1])
            dwelling_share = dwellings / city_stock[0]
        else:
            occupied_share = dwelling_share = 1.0
        target = _target(dataset, "vacancy_share", scope_id)
        scopes.append(VacancyScope(
            scope_id=scope_id, members=members, dwellings_10k=dwellings, vacant_10k=vacant,
            formation_10k_per_year=params.household_formation_10k_per_year * occupied_share,
            demolitions_10k_per_year=params.demolitions_10k_per_year * dwelling_share,
            base_year_supply_10k_m2=_fact(dataset, "new_supply_10k_m2", scope_id) or 0.0,
            vacancy_target_share=float("nan") if target is None else float(target),
        ))
    return tuple(scopes)


# ---------------------------------------------------------------------------------------------
# Small pure functions the processes use
# ---------------------------------------------------------------------------------------------
def correlated_normals(rng: np.random.Generator, replications: int, regions: int,
                       correlation: float) -> np.ndarray:
    """Standard normals (replications, regions) with equal correlation across regions: one
    common factor plus an idiosyncratic part."""
    common = rng.standard_normal((replications, 1))
    own = rng.standard_normal((replications, regions))
    return math.sqrt(correlation) * common + math.sqrt(1.0 - correlation) * own


def demand_level(rng: np.random.Generator, replications: int, regions: int, sd: float,
                 correlation: float) -> np.ndarray:
    """The persistent demand level (replications, regions): L = exp(σ_L z − σ_L²/2), mean 1, z
    standard normal, equicorrelated across regions (``correlation``); ones when σ_L = 0. The
    replay draws one per replication for the whole horizon; the robust plan samples its
    scenarios' levels with the same function (docs/robust.md)."""
    z = correlated_normals(rng, replications, regions, correlation)
    return np.exp(sd * z - 0.5 * sd * sd) if sd > 0 else np.ones((replications, regions))


def shock_multiplier(z: np.ndarray, sd: float, distribution: str) -> np.ndarray:
    """Demand multiplier with mean 1 from a standard-normal state z: exp(sd z − sd²/2)
    (lognormal) or max(0, 1 + sd z) (normal)."""
    if distribution == "lognormal":
        return np.exp(sd * z - 0.5 * sd * sd)
    return np.maximum(0.0, 1.0 + sd * z)


def next_price_index(price_index: np.ndarray, cycle_months: np.ndarray, band_low_months: float,
                     band_high_months: float, sensitivity: float) -> np.ndarray:
    """price[t+1] = price[t] × exp(−sensitivity × gap), gap = ln(cycle ÷ high) above the
    reasonable band, ln(cycle ÷ low) below it, 0 inside: prices hold while the market is in
    the band, fall while stock is too slow to sell, rise while it sells out (cycle clipped to
    1–120 months here)."""
    if sensitivity == 0:
        return price_index
    cycle = np.clip(cycle_months, *PRICE_CYCLE_CLIP_MONTHS)
    gap = np.log(np.maximum(cycle / band_high_months, 1.0)) \
        - np.log(np.maximum(band_low_months / cycle, 1.0))
    return price_index * np.exp(-sensitivity * gap)


def rolling_cycle_months(inventory_10k_m2: np.ndarray, sales_10k_m2: np.ndarray,
                         history_10k_m2_per_month: np.ndarray | float,
                         cap_months: float) -> np.ndarray:
    """Cycle for series (T, …): inventory[t] ÷ mean(sales[t−11..t]), months before the start
    filled with the 2025 monthly sales rate."""
    t = sales_10k_m2.shape[0]
    history = np.broadcast_to(history_10k_m2_per_month, sales_10k_m2.shape[1:])
    padded = np.concatenate([np.broadcast_to(history, (MONTHS_PER_YEAR - 1, *history.shape)),
                             sales_10k_m2])
    csum = np.concatenate([np.zeros((1, *history.shape)), np.cumsum(padded, axis=0)])
    window = csum[MONTHS_PER_YEAR:MONTHS_PER_YEAR + t] - csum[:t]
    return destocking_cycle(inventory_10k_m2, window / MONTHS_PER_YEAR, cap_months)


# ---------------------------------------------------------------------------------------------
# The simulation: one SimPy environment, state as arrays over replications
# ---------------------------------------------------------------------------------------------
#: Monthly arrays the processes record, each (months, replications, regions).
RECORDED_ARRAYS = ("supply_10k_m2", "ready_10k_m2", "purchases_10k_m2", "demand_10k_m2", "sales_10k_m2",
                   "inventory_10k_m2", "cycle_months", "price_index", "land_sold_ha")
#: Monthly arrays derived on first use from the recorded ones and the land reviews (saves
#: memory and time at 1,000 replications).
DERIVED_ARRAYS = ("inventory_open_10k_m2", "unmet_demand_10k_m2", "land_review_cycle_months",
                  "land_verdict")
MONTHLY_ARRAYS = RECORDED_ARRAYS + DERIVED_ARRAYS
#: Monthly vacancy arrays, each (months, replications, scopes).
SCOPE_ARRAYS = ("dwellings_10k", "vacant_10k", "vacancy_share")


class _Market:
    """The mutable state of one replay (private to :func:`simulate`): every array is shaped
    (replications, regions) or (replications, scopes); processes read and write it."""

    def __init__(self, inputs: ReplayInputs, params: ReplayParams):
        self.x, self.p = inputs, params
        R, N, T = params.replications, len(inputs.region_ids), inputs.n_months
        S = len(inputs.scopes)
        self.R, self.N, self.T = R, N, T
        shock_seed, lag_seed, level_seed = np.random.SeedSequence(params.seed).spawn(3)
        self.rng_shock = np.random.default_rng(shock_seed)   # buyers' stream
        self.rng_lag = np.random.default_rng(lag_seed)       # developers' stream
        # the persistent demand level: one draw per replication and region for the horizon
        self.level = demand_level(np.random.default_rng(level_seed), R, N,
                                  params.demand_level_sd, params.shock_correlation)
        self.lag_table = tm.lag_table(params.timing)
        self.rows = np.arange(R)[:, None]
        self.cols = np.arange(N)[None, :]
        # market state
        self.inventory = np.tile(inputs.opening_inventory_10k_m2, (R, 1))
        self.sales_window = np.tile(inputs.history_sales_10k_m2_per_month, (MONTHS_PER_YEAR, R, 1))
        self.cycle = np.tile(inputs.opening_cycle_months, (R, 1))
        self.price_index = np.tile(inputs.opening_price_index, (R, 1))
        self.shock_state: np.ndarray | None = None
        self.land_factor = np.ones((R, N))
        # floor area becoming ready for presale, by month (index T: after the horizon); the ready
        # pool not yet presold; the planned presale not yet delivered (backlog)
        self.arrivals = np.zeros((T + 1, R, N))
        self.ready_pool = np.zeros((R, N))
        self.backlog = np.zeros((R, N))
        # dwellings state
        self.members = np.array([[r in s.members for r in inputs.region_ids]
                                 for s in inputs.scopes], dtype=float).reshape(S, N)
        self.dwellings = np.tile([s.dwellings_10k for s in inputs.scopes], (R, 1)).reshape(R, S)
        vacant = np.array([s.vacant_10k for s in inputs.scopes]).reshape(1, S)
        self.occupied = self.dwellings - vacant
        self.completions = np.zeros((T + 1, R, S))
        self._schedule_prior_completions()
        scopes = inputs.scopes
        self.formation_10k_per_month = np.array([s.formation_10k_per_year for s in scopes]) / 12
        self.demolitions_10k_per_month = np.array([s.demolitions_10k_per_year for s in scopes]) / 12
        # records
        self.out = {name: np.zeros((T, R, N)) for name in RECORDED_ARRAYS}
        self.out_scope = {name: np.zeros((T, R, S)) for name in SCOPE_ARRAYS}
        self.reviews: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    # -- government -------------------------------------------------------------------------
    def review_land(self, t: int) -> None:
        """Apply the land rule to the cycle at the end of last month; it holds until the next
        review. Not enforced → the verdict is recorded and all planned land goes through."""
        observed = self.cycle.copy()
        factor, verdict = land_verdict(observed, self.x.rule)
        if self.x.revitalised_ha.size:
            # 盘活多少、供应多少: the year's planned land, capped at the land revitalised that year.
            year = t // MONTHS_PER_YEAR
            planned = self.x.land_ha_per_month[t] * MONTHS_PER_YEAR
            cap = np.where(planned > 0, np.minimum(
                1.0, self.x.revitalised_ha[year] / np.where(planned > 0, planned, 1.0)), 1.0)
            factor = np.where(verdict == TRIM, cap, factor)
        if not self.p.enforce_land_rule:
            factor = np.ones_like(factor)
        self.land_factor = factor
        self.reviews.append((t, observed, verdict, factor))

    def purchase(self, t: int) -> None:
        """Public purchase programme: the plan's monthly purchases, as far as stock allows."""
        bought = np.minimum(self.x.purchases_10k_m2_per_month[t], self.inventory)
        self.inventory = self.inventory - bought
        self.out["purchases_10k_m2"][t] = bought

    # -- developers -------------------------------------------------------------------------
    def sell_land(self, t: int) -> None:
        """Land sold this month (plan ÷ 12 × the review's factor); its floor area (× plot ratio)
        becomes ready for presale after a lag drawn from the timing model (stochastic), or in
        the timing model's annual shares (deterministic, see :meth:`credit_year`)."""
        sold = self.x.land_ha_per_month[t] * self.land_factor
        self.out["land_sold_ha"][t] = sold
        if not self.p.deterministic:
            area = sold * self.x.plot_ratio_10k_m2_per_ha
            lag = tm.draw_lag_months(self.rng_lag, (self.R, self.N), self.lag_table)
            self.arrivals[np.minimum(t + lag, self.T), self.rows, self.cols] += area

    def schedule_pipeline(self) -> None:
        """Stochastic: floor area on land sold before the plan (monthly tranches of the history
        years), each with its own lag draw; parts that were ready before the plan are dropped
        (already presold, in the base-year stock)."""
        if self.p.deterministic:
            return
        self.arrivals[0] += self.x.held_back_10k_m2    # ready at the start, not yet presold
        months, amounts = self.x.pipeline_months, self.x.pipeline_10k_m2
        keep = amounts.any(axis=1) & (months + tm.max_lag_months(self.p.timing) >= 0)
        months, amounts = months[keep], amounts[keep]
        if not len(months):
            return
        lag = tm.draw_lag_months(self.rng_lag, (len(months), self.R, self.N), self.lag_table)
        arrival = months[:, None, None] + lag
        amount = np.where(arrival >= 0, np.broadcast_to(amounts[:, None, :], lag.shape), 0.0)
        arrival = np.clip(arrival, 0, self.T)
        flat = (arrival * self.R + self.rows) * self.N + self.cols
        self.arrivals += np.bincount(flat.ravel(), weights=amount.ravel(),
                                     minlength=self.arrivals.size).reshape(self.arrivals.shape)

    def credit_year(self, t: int) -> None:
        """Deterministic mode, each January: the floor area the timing model makes ready in this
        year, as the optimiser counts it — the pipeline's part, Σ a_{y−τ} × land sold in earlier
        plan years τ, and a_0 × this year's planned land × the review's factor."""
        if not self.p.deterministic or t % MONTHS_PER_YEAR:
            return
        y = t // MONTHS_PER_YEAR
        shares, ratio = self.x.ready_shares, self.x.plot_ratio_10k_m2_per_ha
        ready = np.broadcast_to(self.x.pipeline_ready_10k_m2[y], (self.R, self.N)).copy()
        for k in range(1, y + 1):
            sold = self.out["land_sold_ha"][MONTHS_PER_YEAR * (y - k):MONTHS_PER_YEAR * (y - k + 1)]
            ready += tm.share_at(shares, k) * ratio * sold.sum(axis=0)
        this_year = self.x.land_ha_per_month[t:t + MONTHS_PER_YEAR].sum(axis=0) * self.land_factor
        ready += tm.share_at(shares, 0) * ratio * this_year
        self.arrivals[t] += ready

    def presell(self, t: int) -> None:
        """This month's presale: the plan's schedule plus any backlog, as far as ready floor area
        allows (``enforce_presale_timing``), else the schedule as planned; it joins the unsold
        inventory and completes ``completion_lag_months`` later (vacancy)."""
        self.ready_pool = self.ready_pool + self.arrivals[t]
        schedule = self.x.supply_10k_m2_per_month[t]
        if self.p.enforce_presale_timing:
            want = np.maximum(schedule + self.backlog, 0.0)
            if self.p.presell_below_months is not None and not self.p.deterministic:
                # stock short of the aim: ready floor area is presold ahead of the schedule
                mean_sales = self.sales_window.sum(axis=0) / MONTHS_PER_YEAR
                want = want + np.maximum(
                    self.p.presell_below_months * mean_sales - self.inventory, 0.0)
            presold = np.minimum(want, np.maximum(self.ready_pool, 0.0))
            self.backlog = self.backlog + schedule - presold    # < 0: ahead of the schedule
        else:
            presold = schedule
        self.ready_pool = self.ready_pool - presold
        self.out["supply_10k_m2"][t] = presold
        self.out["ready_10k_m2"][t] = self.arrivals[t]
        self.inventory = self.inventory + presold
        done = t + self.p.completion_lag_months
        if self.members.size and done < self.T:
            self.completions[done] += (presold @ self.members.T) / self.p.dwelling_size_m2

    # -- buyers -----------------------------------------------------------------------------
    def demand(self, t: int) -> np.ndarray:
        """Plan demand ÷ 12 × seasonality × price_index^elasticity × shock."""
        base = self.x.demand_10k_m2_per_month[t] * self.p.seasonality[t % MONTHS_PER_YEAR]
        multiplier = self.level
        if self.p.price_response:
            multiplier = multiplier * self.price_index ** (-self.p.price_response)
        if self.p.shock_sd > 0:
            eps = correlated_normals(self.rng_shock, self.R, self.N, self.p.shock_correlation)
            phi = self.p.shock_persistence
            self.shock_state = eps if self.shock_state is None else \
                phi * self.shock_state + math.sqrt(1.0 - phi * phi) * eps
            multiplier = multiplier * shock_multiplier(self.shock_state, self.p.shock_sd,
                                                       self.p.shock_distribution)
        return np.broadcast_to(base * multiplier, (self.R, self.N))

    def buy(self, t: int) -> None:
        """Sales = min(demand, unsold stock); then the cycle over the last 12 months."""
        demand = self.demand(t)
        sales = np.minimum(demand, self.inventory)
        self.inventory = self.inventory - sales
        self.sales_window[t % MONTHS_PER_YEAR] = sales
        mean_sales = self.sales_window.sum(axis=0) / MONTHS_PER_YEAR
        self.cycle = destocking_cycle(self.inventory, mean_sales, self.p.cycle_cap_months)
        out = self.out
        out["demand_10k_m2"][t] = demand
        out["sales_10k_m2"][t] = sales
        out["inventory_10k_m2"][t] = self.inventory
        out["cycle_months"][t] = self.cycle
        out["price_index"][t] = self.price_index

    # -- prices -----------------------------------------------------------------------------
    def update_prices(self) -> None:
        p = self.p
        self.price_index = next_price_index(self.price_index, self.cycle, p.price_band_low_months,
                                            p.price_band_high_months, PRICE_ADJUSTMENT_PER_MONTH)

    # -- dwellings --------------------------------------------------------------------------
    def _schedule_prior_completions(self) -> None:
        """Base-year new supply (for sale in 2025, not yet completed) completes in the plan."""
        lag = self.p.completion_lag_months
        for j in range(MONTHS_PER_YEAR):
            done = j - MONTHS_PER_YEAR + lag
            if 0 <= done < self.T:
                self.completions[done] += np.array(
                    [s.base_year_supply_10k_m2 / MONTHS_PER_YEAR / self.p.dwelling_size_m2
                     for s in self.x.scopes])

    def update_dwellings(self, t: int) -> None:
        """dwellings += completions − demolitions; occupied += household formation (≤ dwellings).
        Demolished dwellings' households move into the remaining stock."""
        self.dwellings = np.maximum(
            self.dwellings + self.completions[t] - self.demolitions_10k_per_month, 0.0)
        self.occupied = np.minimum(self.occupied + self.formation_10k_per_month, self.dwellings)
        vacant = self.dwellings - self.occupied
        self.out_scope["dwellings_10k"][t] = self.dwellings
        self.out_scope["vacant_10k"][t] = vacant
        with np.errstate(divide="ignore", invalid="ignore"):
            self.out_scope["vacancy_share"][t] = np.where(self.dwellings > 0,
                                                          vacant / self.dwellings, 0.0)


# -- the SimPy processes ------------------------------------------------------------------------
def _government_land_review(env: simpy.Environment, m: _Market):
    """Each January (and July with a mid-year review): the land review."""
    yield env.timeout(PHASE["review"])
    interval = 6 if m.p.mid_year_review else MONTHS_PER_YEAR
    while True:
        m.review_land(int(env.now))
        yield env.timeout(interval)


def _government_purchases(env: simpy.Environment, m: _Market):
    """Every month: the public purchase programme buys unsold stock at the plan's pace."""
    yield env.timeout(PHASE["purchases"])
    while True:
        m.purchase(int(env.now))
        yield env.timeout(1)


def _developers(env: simpy.Environment, m: _Market):
    """Every month: sell the land the review allows; presell what is ready, up to the plan."""
    yield env.timeout(PHASE["developers"])
    m.schedule_pipeline()
    while True:
        t = int(env.now)
        m.sell_land(t)
        m.credit_year(t)
        m.presell(t)
        yield env.timeout(1)


def _buyers(env: simpy.Environment, m: _Market):
    """Every month: demand arrives and buys from the unsold stock."""
    yield env.timeout(PHASE["buyers"])
    while True:
        m.buy(int(env.now))
        yield env.timeout(1)


def _prices(env: simpy.Environment, m: _Market):
    """Every month: the price index responds to the destocking cycle just observed."""
    yield env.timeout(PHASE["prices"])
    while True:
        m.update_prices()
        yield env.timeout(1)


def _dwellings(env: simpy.Environment, m: _Market):
    """Every month: completions, household formation and demolitions → vacancy."""
    yield env.timeout(PHASE["dwellings"])
    while True:
        m.update_dwellings(int(env.now))
        yield env.timeout(1)


PROCESSES = (_government_land_review, _government_purchases, _developers, _buyers, _prices,
             _dwellings)


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
class _MonthlyArrays(Mapping):
    """Read-only monthly arrays: the recorded ones, and the derived ones computed on first use:

    * inventory_open[t] = inventory[t − 1] (表19 inventory in the first month);
    * unmet_demand = demand − sales;
    * land_review_cycle_months[t], land_verdict[t] = the cycle seen and the verdict given by the
      land review in force in month t."""

    def __init__(self, recorded: Mapping[str, np.ndarray], opening_10k_m2: np.ndarray,
                 review_months: tuple[int, ...], reviews: Mapping[str, np.ndarray]):
        self._arrays = dict(recorded)
        self._opening = opening_10k_m2
        self._review_months = review_months
        self._reviews = reviews

    def _derive(self, name: str) -> np.ndarray:
        a = self._arrays
        if name == "inventory_open_10k_m2":
            first = np.broadcast_to(self._opening, a["inventory_10k_m2"].shape[1:])[None]
            return np.concatenate([first, a["inventory_10k_m2"][:-1]])
        if name == "unmet_demand_10k_m2":
            return a["demand_10k_m2"] - a["sales_10k_m2"]
        in_force = np.searchsorted(self._review_months, np.arange(a["sales_10k_m2"].shape[0]),
                                   side="right") - 1
        key = "cycle_months" if name == "land_review_cycle_months" else "verdict"
        return self._reviews[key][in_force]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            if name not in DERIVED_ARRAYS:
                raise KeyError(f"no monthly array {name!r} (known: {', '.join(MONTHLY_ARRAYS)})")
            self._arrays[name] = _frozen(self._derive(name))
        return self._arrays[name]

    def __iter__(self):
        return iter(MONTHLY_ARRAYS)

    def __len__(self) -> int:
        return len(MONTHLY_ARRAYS)


@dataclass(frozen=True)
class ReplayResult:
    """Monthly state over replications (read-only arrays) plus the inputs and parameters that
    produced it. ``monthly[name]`` is (months, replications, regions); ``vacancy[name]`` is
    (months, replications, scopes); ``reviews[name]`` is (reviews, replications, regions)."""

    inputs: ReplayInputs
    params: ReplayParams            # resolved, as configured
    effective_params: ReplayParams  # what was simulated (deterministic switches applied)
    monthly: Mapping[str, np.ndarray]
    vacancy: Mapping[str, np.ndarray]
    review_months: tuple[int, ...]
    reviews: Mapping[str, np.ndarray]
    pipeline_after_horizon_10k_m2: np.ndarray   # (replications, regions) ready after the horizon
    presale_backlog_end_10k_m2: np.ndarray      # (replications, regions) planned, not presold

    @property
    def replications(self) -> int:
        return self.params.replications

    @property
    def region_ids(self) -> tuple[str, ...]:
        return self.inputs.region_ids

    @property
    def months(self) -> tuple[str, ...]:
        return self.inputs.months


def simulate(inputs: ReplayInputs, params: ReplayParams) -> ReplayResult:
    """Run every replication in one SimPy environment; ``params`` must be resolved."""
    effective = params.effective()
    market = _Market(inputs, effective)
    env = simpy.Environment()
    for process in PROCESSES:
        env.process(process(env, market))
    env.run(until=inputs.n_months)
    reviews = MappingProxyType({
        "cycle_months": _frozen(np.stack([r[1] for r in market.reviews])),
        "verdict": _frozen(np.stack([r[2] for r in market.reviews])),
        "land_factor": _frozen(np.stack([r[3] for r in market.reviews])),
    })
    review_months = tuple(r[0] for r in market.reviews)
    monthly = _MonthlyArrays({k: _frozen(v) for k, v in market.out.items()},
                             inputs.opening_inventory_10k_m2, review_months, reviews)
    return ReplayResult(
        inputs=inputs, params=params, effective_params=effective, monthly=monthly,
        vacancy=MappingProxyType({k: _frozen(v) for k, v in market.out_scope.items()}),
        review_months=review_months, reviews=reviews,
        pipeline_after_horizon_10k_m2=_frozen(market.arrivals[inputs.n_months]),
        presale_backlog_end_10k_m2=_frozen(np.maximum(market.backlog, 0.0)),
    )


def replay(plan: pd.DataFrame, dataset: Dataset, params: ReplayParams | None = None,
           level: str = "region",
           revitalised_ha: Mapping[tuple[str, int], float] | None = None,
           plot_ratio: Mapping[str, float] | None = None,
           pipeline: tm.Pipeline | None = None,
           demand_10k_m2: Mapping[tuple[str, int], float] | None = None,
           start: ReplayStart | None = None) -> ReplayResult:
    """Replay a plan table (plan.csv format) month by month over ``params.replications``
    (arguments: :func:`replay_inputs`)."""
    params = (params or ReplayParams()).resolve(dataset, level)
    started = time.perf_counter()
    inputs = replay_inputs(plan, dataset, params, level, revitalised_ha, plot_ratio, pipeline,
                           demand_10k_m2, start)
    result = simulate(inputs, params)
    log.debug("replay: %d replications × %d %ss × %d months in %.2f s (seed %d, rule §%s, %s)",
             params.replications, len(inputs.region_ids), level, inputs.n_months,
             time.perf_counter() - started, params.seed, params.land_rule,
             "deterministic" if params.deterministic else "stochastic")
    return result


# -- aggregates ---------------------------------------------------------------------------------
def aggregate_series(result: ReplayResult, members: np.ndarray | None = None
                     ) -> dict[str, np.ndarray]:
    """Monthly series of a group of regions (default: the whole city), each (months,
    replications): sums of floor area, the cycle of the sums, and the price index weighted by
    2025 sales."""
    m, x = result.monthly, result.inputs
    idx = np.ones(len(result.region_ids), dtype=bool) if members is None else members
    out = {name: m[name][:, :, idx].sum(axis=2) for name in
           ("supply_10k_m2", "purchases_10k_m2", "demand_10k_m2", "sales_10k_m2",
            "unmet_demand_10k_m2", "inventory_10k_m2", "land_sold_ha")}
    history = x.history_sales_10k_m2_per_month[idx]
    out["cycle_months"] = rolling_cycle_months(
        out["inventory_10k_m2"], out["sales_10k_m2"], history.sum(),
        result.params.cycle_cap_months)
    out["price_index"] = m["price_index"][:, :, idx] @ (history / history.sum())
    return out


def _series(result: ReplayResult) -> list[tuple[str, dict[str, np.ndarray], float, np.ndarray]]:
    """(row id, {quantity: (months, replications)}, cycle target, member mask) per region, then
    the city and — when the main city is split into districts — the main city."""
    m, x = result.monthly, result.inputs
    names = ("sales_10k_m2", "inventory_10k_m2", "cycle_months", "price_index",
             "unmet_demand_10k_m2", "land_sold_ha")
    n_regions = len(result.region_ids)
    rows = [(r, {k: m[k][:, :, n] for k in names}, float(x.cycle_target_months[n]),
             np.arange(n_regions) == n) for n, r in enumerate(result.region_ids)]
    everyone = np.ones(n_regions, dtype=bool)
    rows.append((x.aggregate_id, aggregate_series(result), x.aggregate_cycle_target_months,
                 everyone))
    main = next((s for s in x.scopes if s.scope_id == x.main_city_id), None)
    if x.main_city_id not in result.region_ids and main is not None:
        mask = np.array([r in main.members for r in result.region_ids])
        rows.append((x.main_city_id, aggregate_series(result, mask),
                     x.aggregate_cycle_target_months, mask))
    return rows


def _scope_index(result: ReplayResult) -> dict[str, int]:
    return {s.scope_id: i for i, s in enumerate(result.inputs.scopes)}


def monthly_table(result: ReplayResult) -> pd.DataFrame:
    """monthly.csv: region, month (YYYY-MM), and p10/p50/p90 across replications of sales,
    inventory, cycle, price index and vacancy (vacancy where tracked: city and main city)."""
    quantities = ("sales_10k_m2", "inventory_10k_m2", "cycle_months", "price_index")
    scopes = _scope_index(result)
    frames = []
    for row_id, series, _, _ in _series(result):
        frame = {"region": row_id, "month": list(result.months)}
        for q in quantities:
            for p, values in zip(PERCENTILES, np.percentile(series[q], PERCENTILES, axis=1)):
                frame[f"{q}_p{p}"] = values
        if row_id in scopes:
            vac = result.vacancy["vacancy_share"][:, :, scopes[row_id]]
            pct = np.percentile(vac, PERCENTILES, axis=1)
        else:
            pct = np.full((len(PERCENTILES), len(result.months)), np.nan)
        for p, values in zip(PERCENTILES, pct):
            frame[f"vacancy_share_p{p}"] = values
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)


def _review_flags(result: ReplayResult) -> tuple[np.ndarray, np.ndarray]:
    """(suspended, cut) per review × replication × region, counted only where the review's
    period had planned land: suspended = the rule's suspend verdict; cut = suspend or a trim
    that lets through less than planned."""
    months = list(result.review_months) + [result.inputs.n_months]
    land = result.inputs.land_ha_per_month
    planned = np.stack([land[a:b].sum(axis=0) for a, b in zip(months[:-1], months[1:])])  # (V, N)
    has_land = (planned > 0)[:, None, :]
    verdict = result.reviews["verdict"]
    suspended = (verdict == SUSPEND) & has_land
    trimmed = (verdict == TRIM) & (result.inputs.rule.trim_share < 1)
    cut = ((verdict == SUSPEND) | trimmed) & has_land
    return suspended, cut


def _first_month_at_or_below(cycle: np.ndarray, threshold: float) -> np.ndarray:
    """Index of the first month with cycle ≤ threshold per replication; T when never."""
    hit = cycle <= threshold
    return np.where(hit.any(axis=0), hit.argmax(axis=0), cycle.shape[0])


def replay_summary(result: ReplayResult) -> pd.DataFrame:
    """replay_summary.csv, one row per region and one for the aggregate ('city'):

    * ``p_cycle_le_target_end`` – share of replications whose cycle in December of the last
      plan year is ≤ the target (第五章: 18 months);
    * ``p_land_suspended_any_year`` – share in which a land review suspends planned land at
      least once (aggregate: in any region);
    * ``expected_unmet_demand_10k_m2`` – mean over replications of the demand not met;
    * ``median_month_cycle_below_18`` – median over replications of the first month whose cycle
      is ≤ ``cycle_threshold_months`` (18), "never" when the median replication never gets there.
    Extra columns: ``p_land_cut_any_year`` (suspended or trimmed), planned and expected land
    sold, the median end cycle, and for city and main city the median end vacancy and the
    probability it meets its target."""
    suspended, cut = _review_flags(result)
    threshold = result.params.cycle_threshold_months
    band = (result.params.price_band_low_months, result.params.price_band_high_months)
    scopes = _scope_index(result)
    end = result.inputs.n_months - 1
    land_planned = result.inputs.land_ha_per_month.sum(axis=0)
    rows = []
    for row_id, series, target, members in _series(result):
        sus = suspended[:, :, members].any(axis=2)
        cuts = cut[:, :, members].any(axis=2)
        first = _first_month_at_or_below(series["cycle_months"], threshold)
        median_first = int(np.quantile(first, 0.5, method="inverted_cdf"))
        row = {
            "region": row_id,
            "p_cycle_le_target_end": float(np.mean(series["cycle_months"][end] <= target)),
            "p_land_suspended_any_year": float(np.mean(sus.any(axis=0))),
            "expected_unmet_demand_10k_m2": float(series["unmet_demand_10k_m2"].sum(axis=0).mean()),
            "median_month_cycle_below_18": (result.months[median_first]
                                            if median_first < len(result.months) else "never"),
            "p_land_cut_any_year": float(np.mean(cuts.any(axis=0))),
            "planned_land_ha": float(land_planned[members].sum()),
            "expected_land_sold_ha": float(series["land_sold_ha"].sum(axis=0).mean()),
            "cycle_target_months": target,
            "cycle_end_months_p50": float(np.median(series["cycle_months"][end])),
            "cycle_end_months_p10": float(np.percentile(series["cycle_months"][end], 10)),
            "cycle_end_months_p90": float(np.percentile(series["cycle_months"][end], 90)),
            "p_cycle_in_band_end": float(np.mean(
                (series["cycle_months"][end] >= band[0]) & (series["cycle_months"][end] <= band[1]))),
            "p_cycle_below_band_end": float(np.mean(series["cycle_months"][end] < band[0])),
            # some member region has no unsold stock at the end of some month (a sell-out)
            "p_stock_out_any_month": float(np.mean(
                (result.monthly["inventory_10k_m2"][:, :, members] <= 1e-9).any(axis=(0, 2)))),
            "price_index_end_p10": float(np.percentile(series["price_index"][end], 10)),
            "price_index_end_p50": float(np.percentile(series["price_index"][end], 50)),
            "price_index_end_p90": float(np.percentile(series["price_index"][end], 90)),
            "expected_presale_backlog_end_10k_m2": float(
                result.presale_backlog_end_10k_m2[:, members].sum(axis=1).mean()),
            "vacancy_end_share_p50": np.nan,
            "vacancy_target_share": np.nan,
            "p_vacancy_le_target_end": np.nan,
        }
        if row_id in scopes:
            i = scopes[row_id]
            vac = result.vacancy["vacancy_share"][end, :, i]
            goal = result.inputs.scopes[i].vacancy_target_share
            row["vacancy_end_share_p50"] = float(np.median(vac))
            row["vacancy_target_share"] = goal
            row["p_vacancy_le_target_end"] = float(np.mean(vac <= goal)) if goal == goal else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def replay_money_table(result: ReplayResult, price_yuan_m2: Mapping[str, float],
                       land_value: Any, purchase_price_factor: float) -> pd.DataFrame:
    """replay_money.csv: land revenue and public purchase spending (亿元) per year for the city
    and the main city, p10/p50/p90 across replications, following each replication's simulated
    price path: land sold × plot ratio × land value(price × price index) and purchases × price ×
    price index × purchase_price_factor. ``land_value`` maps a price (元/m²) to the residual land
    value per m² of floor area (model.inputs.residual_land_value_yuan_m2 with the run's costs)."""
    m, x = result.monthly, result.inputs
    ids = result.region_ids
    price = np.array([float(price_yuan_m2[r]) for r in ids])            # (N,)
    path = m["price_index"] * price                                     # (T, R, N) 元/m²
    value = np.vectorize(land_value, otypes=[float])(path)
    k = 1e-4                                                             # 万元 → 亿元
    revenue = m["land_sold_ha"] * x.plot_ratio_10k_m2_per_ha * value * k
    spending = m["purchases_10k_m2"] * path * purchase_price_factor * k
    scopes = [(x.aggregate_id, np.ones(len(ids), dtype=bool))]
    main = next((s for s in x.scopes if s.scope_id == x.main_city_id), None)
    members = main.members if main is not None else (x.main_city_id,)
    mask = np.array([r in members for r in ids])
    if mask.any() and not mask.all():
        scopes.append((x.main_city_id, mask))
    rows = []
    for scope, mask in scopes:
        for i, y in enumerate(x.years):
            months = slice(MONTHS_PER_YEAR * i, MONTHS_PER_YEAR * (i + 1))
            row = {"scope": scope, "year": y}
            for name, arr in (("land_revenue_100m_yuan", revenue),
                              ("purchase_spending_100m_yuan", spending)):
                per_rep = arr[months][:, :, mask].sum(axis=(0, 2))
                for p, v in zip(PERCENTILES, np.percentile(per_rep, PERCENTILES)):
                    row[f"{name}_p{p}"] = float(v)
            rows.append(row)
    return pd.DataFrame(rows)


def land_review_table(result: ReplayResult) -> pd.DataFrame:
    """replay_land.csv: per region and review, the land planned for the review's period, the
    probability of each verdict, the median cycle observed and the expected land sold."""
    months = list(result.review_months) + [result.inputs.n_months]
    verdict = result.reviews["verdict"]
    cycle = result.reviews["cycle_months"]
    sold = result.monthly["land_sold_ha"]
    land = result.inputs.land_ha_per_month
    rows = []
    for v, (a, b) in enumerate(zip(months[:-1], months[1:])):
        for n, r in enumerate(result.region_ids):
            row = {"region": r, "review_month": result.months[a],
                   "planned_land_ha": float(land[a:b, n].sum()),
                   "cycle_observed_months_p50": float(np.median(cycle[v, :, n]))}
            for code, name in VERDICT_NAMES.items():
                row[f"p_{name}"] = float(np.mean(verdict[v, :, n] == code))
            row["expected_land_sold_ha"] = float(sold[a:b, :, n].sum(axis=0).mean())
            rows.append(row)
    return pd.DataFrame(rows)


def write_replay(result: ReplayResult, run_dir: str | Path) -> dict[str, Path]:
    """Write monthly.csv, replay_summary.csv and replay_land.csv into ``run_dir``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tables = {"monthly": monthly_table(result), "replay_summary": replay_summary(result),
              "replay_land": land_review_table(result)}
    paths = {}
    for name, frame in tables.items():
        path = run_dir / f"{name}.csv"
        write_csv(frame, path)
        paths[name] = path
    log.info("replay: wrote %s", ", ".join(str(p) for p in paths.values()))
    return paths


def summary_lines(result: ReplayResult, L: Labels | None = None,
                  table: pd.DataFrame | None = None) -> list[str]:
    """Lines for the printed run summary: the aggregate and main city first, then regions at
    risk of missing the cycle target (in the language of ``L``; English without)."""
    L = L or Labels()
    p = result.params
    summary = (replay_summary(result) if table is None else table).set_index("region")
    end_month = result.months[-1]
    mode = "deterministic" if p.deterministic else "stochastic"
    enforced = "enforced" if result.effective_params.enforce_land_rule else "recorded, not enforced"
    rule = result.inputs.rule
    if L.zh:
        mode = "确定性" if p.deterministic else "随机"
        enforced = "执行" if result.effective_params.enforce_land_rule else "仅记录，不执行"
        limits = f"去化周期{rule.suspend_above_months:g}个月以上暂停新增商品住宅用地" + (
            f"，{rule.trim_above_months:g}个月以上只供应盘活存量用地"
            if math.isfinite(rule.trim_above_months) else "")
        lines = [(f"市场模拟：{p.replications}次重复（随机种子 {p.seed}，{mode}），供地规则 "
                  f"{p.land_rule}（{limits}；{enforced}），{result.months[0]}..{end_month}")]
    else:
        limits = f"none above {rule.suspend_above_months:g} months" + (
            f", revitalised land only above {rule.trim_above_months:g}"
            if math.isfinite(rule.trim_above_months) else "")
        lines = [(f"Market replay: {p.replications} replications (seed {p.seed}, {mode}), land "
                  f"rule {p.land_rule} ({limits}; {enforced}), {result.months[0]}..{end_month}")]
    main = [result.inputs.aggregate_id]
    if result.inputs.main_city_id in summary.index:
        main.append(result.inputs.main_city_id)
    for row_id in main:
        s = summary.loc[row_id]
        band = f"{p.price_band_low_months:g}–{p.price_band_high_months:g}"
        if L.zh:
            first = s.median_month_cycle_below_18
            line = (f"  {L.region(row_id)}：{end_month} 去化周期中位数 "
                    f"{s.cycle_end_months_p50:.1f}个月（p10–p90 {s.cycle_end_months_p10:.1f}–"
                    f"{s.cycle_end_months_p90:.1f}）；P(处于{band}个月合理区间) "
                    f"{s.p_cycle_in_band_end:.2f}，P(低于合理区间) {s.p_cycle_below_band_end:.2f}，"
                    f"P(某区县某月售罄) {s.p_stock_out_any_month:.2f}；"
                    f"P(去化周期 ≤ {s.cycle_target_months:g}个月，含库存不足) "
                    f"{s.p_cycle_le_target_end:.2f}；"
                    f"P(至少一年暂停 / 削减供地) {s.p_land_suspended_any_year:.2f} / "
                    f"{s.p_land_cut_any_year:.2f}；未满足需求期望值 "
                    f"{s.expected_unmet_demand_10k_m2:.1f}万㎡；去化周期中位数首次不超过"
                    f"{p.cycle_threshold_months:g}个月：{'从未' if first == 'never' else first}")
            if s.vacancy_end_share_p50 == s.vacancy_end_share_p50:
                line += (f"；{end_month} 空置率中位数 {s.vacancy_end_share_p50:.1%}（目标 "
                         f"{s.vacancy_target_share:.0%}，达标概率 {s.p_vacancy_le_target_end:.2f}）")
            lines.append(line)
            continue
        line = (f"  {row_id}: {end_month} cycle median {s.cycle_end_months_p50:.1f} months "
                f"(p10–p90 {s.cycle_end_months_p10:.1f}–{s.cycle_end_months_p90:.1f}); "
                f"P(in the {band}-month band) {s.p_cycle_in_band_end:.2f}, "
                f"P(below the band) {s.p_cycle_below_band_end:.2f}, P(a region sells out in some "
                f"month) {s.p_stock_out_any_month:.2f}; "
                f"P(cycle <= {s.cycle_target_months:g}, stock-outs included) "
                f"{s.p_cycle_le_target_end:.2f}; "
                f"P(land rule suspends / cuts land in >= 1 year) "
                f"{s.p_land_suspended_any_year:.2f} / {s.p_land_cut_any_year:.2f}; "
                f"E[unmet demand] {s.expected_unmet_demand_10k_m2:.1f} 万m²; "
                f"median first month cycle <= {p.cycle_threshold_months:g}: "
                f"{s.median_month_cycle_below_18}")
        if s.vacancy_end_share_p50 == s.vacancy_end_share_p50:
            line += (f"; vacancy {end_month} median {s.vacancy_end_share_p50:.1%} "
                     f"(target {s.vacancy_target_share:.0%}, P {s.p_vacancy_le_target_end:.2f})")
        lines.append(line)
    regions = summary.loc[list(result.region_ids)]
    risky = regions[regions.p_cycle_le_target_end < 0.5].sort_values("p_cycle_le_target_end")
    if not risky.empty:
        lines.append(L.pick(
            zh="  {month} 去化周期可能高于{m:g}个月的区县（达标概率低于0.5；规划目标针对全市）：",
            en="  regions likely above {m:g} months in {month} (P below 0.5; the plan's goal is "
               "city-wide): ", m=result.inputs.aggregate_cycle_target_months, month=end_month)
            + L.pick(zh="，", en=", ").join(
                f"{L.region(r) if L.zh else r} {v:.2f}"
                for r, v in risky.p_cycle_le_target_end.items()))
    return lines
