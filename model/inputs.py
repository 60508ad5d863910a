"""Config + dataset → the numbers the optimiser needs (a pure step: no Pyomo, no solver).

Every derived default lives here as a small function whose docstring says where it comes from;
:func:`build_inputs` records each one it used as a :class:`Derivation` so that a run's
summary.json states the number and its source. docs/formulation.md has the maths with the
Chifeng values.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from model import timing as tm
from model.config import RunConfig
from model.data import Dataset, read_demand_csv, read_fixed_plan
from model.errors import UserError

log = logging.getLogger(__name__)

M2_PER_10K_M2 = 1e4
MU_PER_HA = 15.0
YUAN_PER_100M_YUAN = 1e8


class InputError(UserError):
    """Config and dataset that cannot make a model; ``problems`` holds one line per failure."""


@dataclass(frozen=True)
class Derivation:
    """One derived input: its name, value, unit and how it was obtained."""

    name: str
    value: float
    unit: str
    how: str


@dataclass(frozen=True)
class TargetRow:
    """One target as the optimiser sees it. ``value`` is in ``unit`` (the policy unit)."""

    key: str  # unique id, e.g. cycle_months[city,2030]
    target_id: str  # cycle_months, vacancy_share, supply_total_10k_m2, land_total_ha, ...
    scope: str  # city, main_city or a region id
    period: str  # "2030" or "2026-2030"
    year: int | None  # the year a per-year row constrains; None for a period total
    value: float
    unit: str  # months, share, 10k_m2, ha, 100m_yuan
    sense: str  # max | min
    mode: str  # hard | soft | off | evaluate
    penalty: float  # objective points per unit of slack
    slack_unit: str  # unit of the model's slack variable
    scale: float  # a reference size in slack units, to compare relaxations across targets
    source: str


@dataclass(frozen=True)
class ModelInputs:
    """Everything the optimiser reads, keyed by region id and year. Immutable."""

    dataset_name: str
    data_hash: str
    level: str
    regions: tuple[str, ...]
    names_zh: Mapping[str, str]
    years: tuple[int, ...]
    base_year: int
    main_city_id: str
    main_city_members: tuple[str, ...]
    # market
    inventory0_10k_m2: Mapping[str, float]
    cycle0_months: Mapping[str, float]
    demand_10k_m2: Mapping[tuple[str, int], float]
    # land
    plot_ratio_10k_m2_per_ha: Mapping[str, float]
    # land → presale timing (model/timing.py): a_k, the share of a year's land floor area first
    # presaleable k years later; the opening pipeline (万m²) and the part of it ready each year
    timing: tm.Timing
    ready_shares: tuple[float, ...]
    pipeline: tm.Pipeline
    land_max_ha: Mapping[tuple[str, int], float]
    supply_max_10k_m2: Mapping[tuple[str, int], float]
    inventory_max_10k_m2: Mapping[tuple[str, int], float]
    land_rule: str
    land_rule_source: str          # where the rule comes from (dataset source, national default)
    rule_margin_months: float
    suspend_above_months: float
    revitalise_above_months: float | None
    add_below_months: float | None
    revitalised_ha: Mapping[tuple[str, int], float]
    land_allowed_first_year_ha: Mapping[str, float]
    # a fixed plan (plan_as_written), or None
    fixed_land_ha: Mapping[tuple[str, int], float] | None
    fixed_supply_10k_m2: Mapping[tuple[str, int], float] | None
    fixed_purchased_10k_m2: Mapping[tuple[str, int], float] | None
    fixed_subsidised_new_10k_m2: Mapping[tuple[str, int], float] | None
    evaluate_only: bool
    # money
    price_yuan_m2: Mapping[str, float]
    land_price_10k_yuan_per_ha: Mapping[str, float]
    purchase_price_factor: float
    build_cost_yuan_m2: float
    dev_finance_share: float
    allow_new_build: bool
    max_purchase_share_of_stock: float
    # vacancy stock-flow, by scope (city, main_city)
    vacancy_scopes: tuple[str, ...]
    dwellings0_10k: Mapping[str, float]
    vacant0_10k: Mapping[str, float]
    dwelling_size_m2: Mapping[str, float]
    household_formation_10k: Mapping[tuple[str, int], float]
    removals_10k: Mapping[tuple[str, int], float]
    # objective
    band_low_months: float
    band_high_months: float
    aim_cycle_months: float
    weight_aim_below: float
    weight_aim_above: float
    weight_unmet_demand: float
    weight_inventory_above_band: float
    weight_inventory_below_band: float
    weight_inventory_holding: float
    weight_land: float
    weight_public_money: float
    targets: tuple[TargetRow, ...]
    # a realistic pace (ramp.*) and the end of the horizon (terminal.*); modes hard|soft|off
    ramp_mode: str = "off"
    # presale is paced over these scopes (name → member regions), from these base-year levels
    ramp_scopes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    presale_base_10k_m2: Mapping[str, float] = field(default_factory=dict)
    presale_change_share: float = 1.0
    land_cap_ha: Mapping[str, float] = field(default_factory=dict)
    land_cap_source: str = ""  # how land_cap_ha was set (targets.csv land_ramp rows' source)
    weight_presale_ramp: float = 0.0
    weight_land_ramp: float = 0.0
    terminal_mode: str = "off"
    terminal_feed_share: float = 0.0
    pipeline_ready_next_10k_m2: Mapping[str, float] = field(default_factory=dict)
    weight_terminal: float = 0.0
    # subsidised building's land (万m² per ha) and the residual land value's terms (元/m², shares)
    subsidised_plot_ratio: Mapping[str, float] = field(default_factory=dict)
    developer_build_cost_yuan_m2: float = 0.0
    tax_share_of_price: float = 0.0
    margin_share_of_price: float = 0.0
    derivations: tuple[Derivation, ...] = field(default=())
    # one line each: what the dataset lacks and what the run did instead (no land history, no
    # demand forecast, no main city, city-total guidance split, national land rule, targets not
    # modelled); printed with the run summary and kept in summary.json
    # the mid-term review (review.enabled): years fixed to the actuals, their sales, and the
    # observed values as read (see observed_fields)
    observed_years: tuple[int, ...] = ()
    fixed_sales_10k_m2: Mapping[tuple[str, int], float] | None = None
    # ready floor area not yet presold at the end of the observed years (mid-term review)
    carry_ready_10k_m2: Mapping[str, float] = field(default_factory=dict)

    # -- helpers --------------------------------------------------------------------------
    @property
    def first_year(self) -> int:
        return self.years[0]

    @property
    def final_year(self) -> int:
        return self.years[-1]

    @property
    def period(self) -> str:
        return f"{self.years[0]}-{self.years[-1]}"

    @property
    def pipeline_10k_m2(self) -> Mapping[str, float]:
        """Opening pipeline per region at the end of the base year (万m²)."""
        return self.pipeline.remaining

    @property
    def pipeline_ready_10k_m2(self) -> Mapping[tuple[str, int], float]:
        """The part of the opening pipeline ready for presale in each plan year (万m²)."""
        return self.pipeline.ready

    @property
    def plan_fixed(self) -> bool:
        """True when land and supply are given for every region and year (a fixed plan, possibly
        with observed years in front); False for a free plan or one with only observed years fixed.
        """
        return self.fixed_land_ha is not None and len(self.fixed_land_ha) == len(
            self.regions
        ) * len(self.years)

    def scope_members(self, scope: str) -> tuple[str, ...]:
        """Regions a scope adds up: city = all regions, main_city = its members, else itself."""
        if scope == "city":
            return self.regions
        if scope == "main_city":
            return self.main_city_members
        return (scope,)

    def structure(self) -> tuple:
        """What fixes the model's shape; inputs with the same structure can share a built model."""
        return (
            self.regions,
            self.years,
            self.main_city_members,
            self.land_rule,
            self.evaluate_only,
            self.plan_fixed,
            self.vacancy_scopes,
            tuple((t.key, t.target_id, t.scope, t.year, t.sense) for t in self.targets),
            self.observed_years,
            self.ramp_scopes,
        )


def _frozen(d: dict) -> Mapping:
    return MappingProxyType(dict(d))


# ---------------------------------------------------------------------------------------------
# Small lookups
# ---------------------------------------------------------------------------------------------
def target_value(ds: Dataset, target_id: str, scope: str = "city") -> tuple[float, str] | None:
    """(value, source) of a dataset target, or None."""
    t = ds.target_or_none(target_id, scope)
    return None if t is None else (t.value, f"targets.csv {t.source}")


def level_regions(ds: Dataset, level: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The model's regions and the members of the main city at a level.

    ``region``: the planning regions of regions.csv (11 for Chifeng), the main city one of them.
    ``district``: the main city replaced by its districts (8 for Chifeng, §8.2.1 / 表32).
    """
    if level == "region":
        return ds.region_ids, ((ds.main_city_id,) if ds.has_main_city else ())
    if not ds.has_districts:
        raise InputError(
            [
                f"level = 'district' but dataset {ds.name!r} has no district tables "
                f"(district_base_inventory, district_demand, district_supply_guidance, "
                f"district_land_guidance); use level=region"
            ]
        )
    others = tuple(r for r in ds.region_ids if r != ds.main_city_id)
    return others + ds.district_ids, ds.district_ids


def by_level(ds: Dataset, level: str, region_getter, district_getter) -> dict:
    """Merge a region-level mapping with the district-level one (districts replace the main
    city)."""
    values = dict(region_getter("region"))
    if level == "district":
        values = {
            k: v
            for k, v in values.items()
            if (k[0] if isinstance(k, tuple) else k) != ds.main_city_id
        }
        values.update(district_getter("district"))
    return values


# ---------------------------------------------------------------------------------------------
# Demand
# ---------------------------------------------------------------------------------------------
def sales_rate_base(inventory: Mapping[str, float], cycle: Mapping[str, float]) -> dict[str, float]:
    """The 2025 annual sales implied by 表19: inventory ÷ cycle × 12 (万m² per year)."""
    out, bad = {}, []
    for r, inv in inventory.items():
        c = cycle[r]
        if c <= 0:
            if inv > 0:
                bad.append(
                    f"demand.source = 'sales_base': region {r!r} has inventory {inv} but a "
                    f"cycle of {c} months, so its base-year sales rate is undefined"
                )
            out[r] = 0.0
        else:
            out[r] = inv / c * 12.0
    if bad:
        raise InputError(bad)
    return out


def demand_by_source(
    cfg: RunConfig, ds: Dataset, regions, years, inventory0, cycle0
) -> tuple[dict, str]:
    """Demand per region and year (万m²): the plan's forecast (表31, 表32 for districts), the 2025
    sales rate implied by 表19 growing at ``demand.growth`` a year, or a user CSV — times
    ``demand.multiplier``."""
    source = cfg.demand.source
    fallback = ""
    if source == "plan" and not ds.has_table("demand"):
        source, fallback = "sales_base", "the dataset prints no demand forecast (demand): "
    if source == "plan":
        base = by_level(ds, cfg.level, ds.demand_10k_m2, ds.demand_10k_m2)
        how = f"{ds.cite('demand')} forecast" + (
            f" with {ds.cite('district_demand')} for the districts"
            if cfg.level == "district" else "")
    elif source == "sales_base":
        rate = sales_rate_base(inventory0, cycle0)
        g = cfg.demand.growth
        base = {(r, y): rate[r] * (1.0 + g) ** (y - ds.base_year) for r in regions for y in years}
        how = (f"{fallback}{ds.base_year} sales rate from {ds.cite('base_inventory')} "
               f"(inventory ÷ cycle × 12) growing {g:+.1%} a year")
    else:
        base = read_demand_csv(cfg.demand.csv, regions, years)
        how = f"user CSV {cfg.demand.csv}"
    mult = cfg.demand.multiplier
    demand = {(r, y): base[(r, y)] * mult for r in regions for y in years}
    return demand, f"{how} × {mult}"


# ---------------------------------------------------------------------------------------------
# Land
# ---------------------------------------------------------------------------------------------
def derived_plot_ratio(supply: Mapping, land: Mapping, regions) -> dict[str, float]:
    """Floor area per hectare per region: Σ_y supply guidance (表45/表46) ÷ Σ_y land guidance
    (表48/表49), 万m² per ha. A region without land falls back to the ratio over all regions."""
    tot_s = {r: 0.0 for r in regions}
    tot_l = {r: 0.0 for r in regions}
    for (r, _y), v in supply.items():
        if r in tot_s:
            tot_s[r] += v
    for (r, _y), v in land.items():
        if r in tot_l:
            tot_l[r] += v
    overall = sum(tot_s.values()) / sum(tot_l.values()) if sum(tot_l.values()) > 0 else 2.0
    return {r: (tot_s[r] / tot_l[r] if tot_l[r] > 0 else overall) for r in regions}


def district_split(ds: Dataset) -> dict[str, float]:
    """Each district's share of the main city's 2025 inventory (§8.2.1), used to split main-city
    figures that the plan gives only for the main city as a whole (land sold, 表21)."""
    inv = ds.inventory_10k_m2("district")
    total = sum(inv.values())
    return {d: (inv[d] / total if total > 0 else 1.0 / len(inv)) for d in inv}


def land_sold_by_level(ds: Dataset, level: str) -> dict[tuple[str, int], float]:
    """Land sold 2021–2025 (表21) per model region; districts get the main city's, split by
    their share of its stock."""
    sold = dict(ds.land_sold_ha())
    if level == "district":
        share = district_split(ds)
        for (r, y), v in list(sold.items()):
            if r == ds.main_city_id:
                del sold[(r, y)]
                for d, s in share.items():
                    sold[(d, y)] = v * s
    return sold


def revitalised_default(ds: Dataset, level: str, regions, share: float) -> dict[str, float]:
    """Land revitalised per year (ha) in the 18–36 month band of §2.2.3, by default.

    §2.2.3 caps new land at what the year revitalised ("盘活多少、供应多少", including completed and
    reclaimed land) but gives no figure. Default: ``share`` × the region's average annual land sold
    in 2021–2025 (表21), i.e. every hectare sold in the last five years is completed within five
    years and so revitalises a fifth of it a year.
    """
    sold = land_sold_by_level(ds, level)
    n = len(ds.history_years)
    if not sold or not n:  # no land history: nothing to revitalise unless the config says
        return {r: 0.0 for r in regions}
    return {r: share * sum(v for (rr, _y), v in sold.items() if rr == r) / n for r in regions}


def pipeline_fields(
    cfg: RunConfig, ds: Dataset, level: str, regions, years, plot_ratio: Mapping, shares, notes: list
) -> tm.Pipeline:
    """The opening pipeline (model/timing.py :func:`~model.timing.opening_pipeline`): land sold
    in the history years (表21) × the region's plot ratio, less what the timing model has made
    presaleable by the end of the base year, calibrated to the printed base-year presale
    (:func:`held_back_pipeline`); or ``timing.pipeline_10k_m2`` — per region (the other regions
    keep the derived pipeline), or a city total split like the derived one. No land history →
    no pipeline, said so."""
    sold = land_sold_by_level(ds, level) if ds.has_table("land_sold") else {}
    area = {(r, y): v * plot_ratio[r] for (r, y), v in sold.items() if r in plot_ratio}
    override = cfg.timing.pipeline_10k_m2
    if not sold and override is None:
        area = steady_state_land(ds, level, regions, shares)
    pipe = tm.opening_pipeline(area, tuple(regions), ds.base_year, years, shares)
    if sold:
        pipe = held_back_pipeline(ds, level, regions, years, pipe, shares, notes)
    elif override is None and area:
        pipe = dataclasses.replace(pipe, how=(
            "no land history (land_sold) in the dataset: the steady state — land floor area "
            "sold at each region's base-year sales rate in every earlier year, under the timing "
            f"model ({sum(pipe.remaining.values()):.2f} 万m² not yet presaleable: about "
            f"{_years_in_pipeline(shares):.2f} years of sales); timing.pipeline_10k_m2=0 for none"))
    if override is not None:
        if isinstance(override, Mapping):
            totals = {str(r): float(v) for r, v in override.items()}
        else:
            derived = sum(pipe.remaining.values())
            weights = ({r: v / derived for r, v in pipe.remaining.items()} if derived > 0
                       else {r: 1.0 / len(regions) for r in regions})
            totals = {r: float(override) * w for r, w in weights.items()}
        pipe = tm.scale_regions(pipe, totals, ds.base_year, years, shares,
                                "config timing.pipeline_10k_m2 for " + ", ".join(sorted(totals)))
    how = pipe.how if sold or override is not None or area else \
        "no land history (land_sold) in the dataset: no pipeline"
    notes.append(
        Derivation("pipeline_10k_m2[city]", sum(pipe.remaining.values()), "10k_m2", how)
    )
    notes += [
        Derivation(f"pipeline_10k_m2[{r}]", pipe.remaining[r], "10k_m2", how) for r in regions
    ]
    notes.append(
        Derivation(
            "ready_shares",
            shares[0],
            "share",
            "share of a year's land floor area first presaleable in the same year; next years: "
            + ", ".join(f"{a:.4f}" for a in shares[1:])
            + " (timing model, docs/timing.md)",
        )
    )
    return pipe


def _years_in_pipeline(shares) -> float:
    """Years of a constant land flow not yet presaleable at a year's end: Σ_k (1 − F_k)."""
    return sum(1.0 - sum(shares[: k + 1]) for k in range(len(shares)))


def steady_state_land(ds: Dataset, level: str, regions, shares) -> dict[tuple[str, int], float]:
    """Land floor area (万m², by region and history year) for a dataset with no land history:
    the steady state in which developers bought land at the base-year sales rate (stock ÷ cycle
    × 12, or the printed monthly sales) every year, as far back as the timing model reaches.
    Then the pipeline at the end of the base year is that rate × Σ_k (1 − F_k) (about 1.3 years
    of sales at the default timing) — Little's law for the land → presale queue. A judgement
    with a range: 0 (``timing.pipeline_10k_m2=0``, nothing in the pipeline) up to this; a market
    that has been shrinking has less."""
    monthly = ds.monthly_sales_10k_m2(level)
    back = len(shares)
    return {(r, ds.base_year - k): 12.0 * float(monthly.get(r, 0.0) or 0.0)
            for r in regions for k in range(back)}


def held_back_pipeline(ds: Dataset, level: str, regions, years, pipe: tm.Pipeline, shares,
                       notes: list) -> tm.Pipeline:
    """The pipeline calibrated to the base year's printed presale (§2.2.1.1), both ways, for the
    main city and for the rest of the city (city − main city), each split over its regions by
    their model presale:

    * the timing model gives *more* presale from the history land than was printed: the
      difference was ready and not presold (developers wait in a falling market) — it stays
      presaleable from the first plan year;
    * it gives *less*: developers presold floor area the model still counts as pipeline — the
      remaining pipeline is cut by the difference (never below 0).

    Notes record both figures for each group."""
    base = ds.base_year
    main = _main_members(ds, level)
    main_printed = (ds.fact_or_none("new_supply_10k_m2", ds.main_city_id, base)
                    if ds.has_main_city else None)
    city = ds.fact_or_none("new_supply_10k_m2", "city", base)
    rest = tuple(r for r in regions if r not in main)
    groups = [("main_city", main, main_printed),
              ("rest_of_city", rest, None if city is None else city - (main_printed or 0.0))]
    held: dict[str, float] = {}
    cut: dict[str, float] = {}
    for name, members, printed in groups:
        implied = {r: tm.backcast_presale(pipe, base, shares, (r,)) for r in members}
        total = sum(implied.values())
        if printed is None or total <= 0:
            continue
        gap = total - printed
        for r in members:
            if gap > 0:
                held[r] = gap * implied[r] / total
            elif gap < 0:
                cut[r] = min(-gap * implied[r] / total, pipe.remaining[r])
        verb = ("was ready and not presold (held back): presaleable from " + str(years[0])
                if gap > 0 else "was presold beyond what the model made ready: the remaining "
                "pipeline is cut by as much")
        notes.append(Derivation(
            f"presale_base_year_implied_10k_m2[{name}]", total, "10k_m2",
            f"presale the timing model gives in {base} from {ds.history_years[0]}–{base} land, "
            f"against {printed:.2f} printed ({ds.fact_source('new_supply_10k_m2') or 'facts'}); "
            f"the difference {abs(gap):.2f} {verb}"))
    if cut:
        pipe = tm.scale_regions(pipe, {r: pipe.remaining[r] - c for r, c in cut.items()}, base,
                                years, shares,
                                f"less {sum(cut.values()):.2f} 万m² presold beyond the model in {base}")
    if any(v > 0 for v in held.values()):
        pipe = tm.with_held_back(pipe, held, years[0],
                                 f"plus floor area ready in {base} but not presold "
                                 f"({sum(held.values()):.2f} 万m² city-wide)")
    return pipe


def _history(ds: Dataset) -> str:
    """'2021–2025': the dataset's land-history years, for derivation notes."""
    h = ds.history_years
    return f"{h[0]}–{h[-1]}" if h else "no history years"


def _main_members(ds: Dataset, level: str) -> tuple[str, ...]:
    return level_regions(ds, level)[1]


#: The national rule every city falls under when its plan prints no thresholds of its own.
NATIONAL_LAND_RULE = {"land_rule_suspend_above_months": 36.0,
                      "land_rule_revitalise_above_months": 18.0}
NATIONAL_LAND_RULE_SOURCE = "自然资源部《关于做好2024年住宅用地供应有关工作的通知》(2024, national default)"


def rule_thresholds(cfg: RunConfig, ds: Dataset) -> tuple[float, float | None, float | None, list]:
    """(suspend above, revitalise above, add below) months for the chosen land rule.

    ``national``: the dataset's thresholds when it prints them (Chifeng §2.2.3: 36 / 18), else
    the national 2024 rule's 36 / 18 months (:data:`NATIONAL_LAND_RULE`); ``strict``: the
    stricter rule a plan may state (Chifeng §9.3: 18, more land below 6), which the dataset must
    print or the config set. Config values override both."""
    rule, problems = str(cfg.land.rule), []

    def need(fact: str) -> float:
        v = ds.fact_or_none(fact)
        if v is None:
            problems.append(
                f"land.rule = {rule!r} needs fact {fact!r} (scope city) in facts.csv, "
                f"or set it in the config (land.suspend_above_months)"
            )
            return 0.0
        return v

    def national(fact: str) -> float:
        v = ds.fact_or_none(fact)
        return NATIONAL_LAND_RULE[fact] if v is None else v

    if rule == "none":
        return math.inf, None, None, problems
    if rule == "strict":
        s = cfg.land.suspend_above_months
        s = need("strict_rule_suspend_above_months") if s is None else s
        add = ds.fact_or_none("strict_rule_add_below_months")
        return s, None, add, problems
    s = cfg.land.suspend_above_months
    s = national("land_rule_suspend_above_months") if s is None else s
    r = cfg.land.revitalise_above_months
    r = national("land_rule_revitalise_above_months") if r is None else r
    return s, r, None, problems


def land_rule_source(cfg: RunConfig, ds: Dataset) -> str:
    """Where the run's land rule comes from, for every line that cites it: the source the
    dataset gives for its threshold fact (Chifeng: §2.2.3), the national 2024 notice when the
    dataset prints none, or 'config' when the config sets the thresholds."""
    rule = str(cfg.land.rule)
    if rule == "none":
        return "none"
    fact = ("strict_rule_suspend_above_months" if rule == "strict"
            else "land_rule_suspend_above_months")
    if cfg.land.suspend_above_months is not None:
        return "config"
    return ds.fact_source(fact) or (NATIONAL_LAND_RULE_SOURCE if rule == "national" else "config")


def first_year_allowance(
    cycle0: Mapping,
    land_max: Mapping,
    revit: Mapping,
    first: int,
    rule: str,
    suspend: float,
    revitalise: float | None,
) -> dict[str, float]:
    """Land allowed in the first plan year, from the base-year cycle (表19 / §8.2.1) as data."""
    out = {}
    for r, c in cycle0.items():
        cap = land_max[(r, first)]
        if rule == "none" or c <= suspend and (revitalise is None or c <= revitalise):
            out[r] = cap
        elif c > suspend:
            out[r] = 0.0
        else:
            out[r] = min(revit[(r, first)], cap)
    return out


# ---------------------------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------------------------
def regional_prices(cfg: RunConfig, ds: Dataset, regions, main_members) -> tuple[dict, list]:
    """New-housing price per region (元/m², 2025, §2.2.1.2).

    A region with its own price fact uses it; districts use the main city's; other regions use
    the rest-of-city price implied by the city and main-city figures:
    (city sales × city price − main sales × main price) ÷ (city sales − main sales).
    """
    notes = []
    city_p = ds.fact("price_yuan_m2", "city")
    main = ds.main_city_id
    main_p = ds.fact("price_yuan_m2", main) if ds.has_fact("price_yuan_m2", main) else city_p
    rest_p = city_p
    if ds.has_fact("price_yuan_m2", main) and ds.has_fact("sales_10k_m2", main):
        cs, ms = ds.fact("sales_10k_m2", "city"), ds.fact("sales_10k_m2", main)
        if cs > ms:
            rest_p = (cs * city_p - ms * main_p) / (cs - ms)
            notes.append(
                Derivation(
                    "price_rest_of_city_yuan_m2",
                    rest_p,
                    "yuan_m2",
                    f"({cs} × {city_p} − {ms} × {main_p}) ÷ ({cs} − {ms}), "
                    f"{ds.fact_source('price_yuan_m2') or 'facts'}",
                )
            )
    out = {}
    for r in regions:
        if r in cfg.money.price_by_region_yuan_m2:
            out[r] = float(cfg.money.price_by_region_yuan_m2[r])
        elif ds.has_fact("price_yuan_m2", r):
            out[r] = ds.fact("price_yuan_m2", r)
        elif r in main_members:
            out[r] = main_p
        else:
            out[r] = rest_p
    return out, notes


# ---------------------------------------------------------------------------------------------
# Vacancy
# ---------------------------------------------------------------------------------------------
def dwelling_size_m2(ds: Dataset, scope: str) -> float:
    """Average new dwelling, m²: 2025 sales floor area ÷ dwellings sold (§2.2.1.2)."""
    if ds.has_fact("sales_10k_m2", scope) and ds.has_fact("sales_dwellings", scope):
        return ds.fact("sales_10k_m2", scope) * M2_PER_10K_M2 / ds.fact("sales_dwellings", scope)
    return ds.fact("sales_10k_m2", "city") * M2_PER_10K_M2 / ds.fact("sales_dwellings", "city")


def dwelling_stock(ds: Dataset, scope: str) -> tuple[float, float] | None:
    """(urban dwellings, vacant dwellings), 万, at the base year: low-use households (< 30 kWh a
    month) ÷ their share, and the low-use households themselves (§2.4.2)."""
    if not (ds.has_fact("low_use_households_10k", scope) and ds.has_fact("vacancy_share", scope)):
        return None
    vacant = ds.fact("low_use_households_10k", scope)
    share = ds.fact("vacancy_share", scope)
    if share <= 0:
        return None
    return vacant / share, vacant


def household_formation_default(
    ds: Dataset, dwellings: float, vacant: float, persons: float | None
) -> tuple[float, float | None, str]:
    """Net new urban households a year (万), from the plan's population figures.

    Urban population change a year = rural-to-urban migrants (§9.2: 2.3–2.5 万 a year, midpoint)
    − the urban share (urbanisation rate, §2.1.7) of the resident-population decline (3.4 万 in
    2024). Households = that ÷ persons per occupied urban dwelling, where persons = urban residents
    (393.1 万 × 56.67%) ÷ occupied dwellings (dwellings − vacant).
    Returns (households, persons, how).
    """
    pop = ds.fact_or_none("population_resident_10k")
    urb = ds.fact_or_none("urbanisation_share")
    decline = ds.fact_or_none("population_decline_10k")
    low = ds.fact_or_none("migrant_inflow_low_10k")
    high = ds.fact_or_none("migrant_inflow_high_10k")
    if persons is None and pop is not None and urb is not None and dwellings > vacant:
        persons = pop * urb / (dwellings - vacant)
    if None in (urb, decline, low, high) or not persons:
        return 0.0, persons, "population facts missing; assumed 0"
    inflow = (low + high) / 2.0
    hh = (inflow - decline * urb) / persons
    how = (
        f"(({low} + {high}) ÷ 2 − {decline} × {urb}) ÷ {persons:.3f} persons per household "
        f"({ds.fact_source('migrant_inflow_low_10k') or 'facts'}, "
        f"{ds.fact_source('urbanisation_share') or 'facts'})"
    )
    return hh, persons, how


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------
def _mode(cfg: RunConfig, group: str) -> tuple[str, float]:
    node = getattr(cfg.targets, group)
    if cfg.evaluate_only:
        if node.mode == "hard":
            log.warning(
                "targets.%s.mode = hard is ignored: evaluate_only = true reports every target "
                "without enforcing it (set evaluate_only=false to enforce it)",
                group,
            )
        return "evaluate", 0.0
    return node.mode, float(node.penalty)


def cycle_path(c0: float, target: float, years: tuple[int, ...], base: int, path: str) -> dict:
    """Cycle target per year: only the last year ('final'), or a straight line from the base-year
    cycle down to the target ('linear'; a region already below the target keeps the target)."""
    last = years[-1]
    if path == "final":
        return {last: target}
    return {y: max(target, c0 + (target - c0) * (y - base) / (last - base)) for y in years}


def _row(
    target_id: str,
    scope: str,
    year: int | None,
    value: float,
    unit: str,
    sense: str,
    mode_penalty: tuple[str, float],
    slack_unit: str,
    scale: float,
    source: str,
    period: str | None = None,
) -> TargetRow:
    period = period or str(year)
    mode, penalty = mode_penalty
    return TargetRow(
        key=f"{target_id}[{scope},{period}]",
        target_id=target_id,
        scope=scope,
        period=period,
        year=year,
        value=float(value),
        unit=unit,
        sense=sense,
        mode=mode,
        penalty=penalty,
        slack_unit=slack_unit,
        scale=scale,
        source=source,
    )


def _pick(ds: Dataset, value: float | None, target_id: str, scope: str = "city"):
    """(value, source): the config's value, else the dataset's target, else (None, None)."""
    if value is not None:
        return float(value), "config"
    return target_value(ds, target_id, scope) or (None, None)


def _scope_cycle0(p: dict, members) -> float | None:
    """The base-year cycle of a group of regions: Σ stock ÷ Σ (stock ÷ cycle) × 12."""
    inv = sum(p["inventory0"][r] for r in members)
    rate = sum(p["inventory0"][r] / p["cycle0"][r] * 12 for r in members if p["cycle0"][r] > 0)
    return inv / rate * 12 if rate else None


def cycle_scopes(cfg: RunConfig, ds: Dataset, p: dict) -> list[tuple[str, tuple[str, ...]]]:
    """The scopes a cycle target applies to (``targets.cycle_scope``): ``plan`` — the city and the
    main city, as 第五章 sets its goals; ``city``; ``region`` — each region; ``both`` — all of
    these. A region that is the main city by itself is not listed twice."""
    scope = cfg.targets.cycle_scope
    out: list[tuple[str, tuple[str, ...]]] = []
    if scope in ("plan", "city", "both"):
        out.append(("city", tuple(p["regions"])))
    main = tuple(p["main_members"])
    if scope in ("plan", "both") and main:
        out.append(("main_city", main))
    if scope in ("region", "both"):
        out += [(r, (r,)) for r in p["regions"] if not (scope == "both" and main == (r,))]
    return out


def cycle_targets(cfg: RunConfig, ds: Dataset, p: dict) -> list[TargetRow]:
    """Destocking cycle rows (第五章: 18 months by 2030) per scope (by default the city and the
    main city, ``targets.cycle_scope``) and year; and the band floor at the end of the last plan
    year (``targets.cycle_floor``: 12 months, §2.4.1) for the city and the main city."""
    t = cfg.targets
    T, src = _pick(ds, t.cycle_months_end, "cycle_months")
    if T is None:
        return []
    mode = _mode(cfg, "cycle")
    rows = []
    for scope, members in cycle_scopes(cfg, ds, p):
        data_scope = ds.main_city_id if scope == "main_city" else scope
        value_here, src_here = T, src
        if t.cycle_months_end is None and scope != "city":
            own = ds.target_or_none("cycle_months", data_scope)
            value_here, src_here = (
                (own.value, f"targets.csv {own.source}") if own is not None
                else (T, f"{src} (the city's goal applied to {scope})"))
        c0 = p["cycle0"][scope] if scope in p["cycle0"] else (
            ds.fact_or_none("cycle_months", data_scope) or _scope_cycle0(p, members) or value_here)
        path = cycle_path(c0, value_here, p["years"], ds.base_year, t.cycle_path)
        path.update({int(y): float(v) for y, v in t.cycle_months_by_year.items()})
        for y, value in sorted(path.items()):
            source = src_here if t.cycle_path == "final" else f"{src_here}; linear path"
            if y in t.cycle_months_by_year:
                source = "config cycle_months_by_year"
            scale = max(value / 12 * sum(p["demand"][(r, y)] for r in members), 1.0)
            rows.append(
                _row(
                    "cycle_months", scope, y, value, "months", "max", mode, "10k_m2", scale, source
                )
            )
    last = p["years"][-1]
    floor = p["band_low_months"] if t.cycle_floor_months is None else float(t.cycle_floor_months)
    floor_src = ("config" if t.cycle_floor_months is not None
                 else f"the reasonable band's floor "
                      f"({ds.fact_source('cycle_band_low_months') or 'default 12 months'}), "
                      f"terminal band")
    scopes = [("city", tuple(p["regions"]))]
    if p["main_members"]:
        scopes.append(("main_city", tuple(p["main_members"])))
    for scope, members in scopes:
        scale = max(floor / 12 * sum(p["demand"][(r, last)] for r in members), 1.0)
        rows.append(_row("cycle_floor_months", scope, last, floor, "months", "min",
                         _mode(cfg, "cycle_floor"), "10k_m2", scale, floor_src))
    return rows


def vacancy_targets(cfg: RunConfig, ds: Dataset, p: dict) -> list[TargetRow]:
    """Vacancy rows (第五章: below 20% city-wide, 18% in the main city, by 2030)."""
    t, last, rows = cfg.targets, p["years"][-1], []
    for scope, override in (
        ("city", t.vacancy_share_city_end),
        ("main_city", t.vacancy_share_main_city_end),
    ):
        if scope not in p["vacancy_scopes"]:
            continue
        data_scope = ds.main_city_id if scope == "main_city" else "city"
        value, src = _pick(ds, override, "vacancy_share", data_scope)
        if value is not None:
            rows.append(
                _row(
                    "vacancy_share",
                    scope,
                    last,
                    value,
                    "share",
                    "max",
                    _mode(cfg, "vacancy"),
                    "10k_dwellings",
                    max(p["vacant0"][scope], 1e-3),
                    src,
                )
            )
    return rows


def total_targets(cfg: RunConfig, ds: Dataset, p: dict) -> list[TargetRow]:
    """Five-year totals (第五章, 表34): new commercial supply 1089.46 万m², land 574.93 ha."""
    period, rows = f"{p['years'][0]}-{p['years'][-1]}", []
    for tid, group, override, unit in (
        ("supply_total_10k_m2", "supply_total", cfg.targets.supply_total_10k_m2, "10k_m2"),
        ("land_total_ha", "land_total", cfg.targets.land_total_ha, "ha"),
    ):
        value, src = _pick(ds, override, tid)
        if value is not None:
            rows.append(
                _row(
                    tid,
                    "city",
                    None,
                    value,
                    unit,
                    "max",
                    _mode(cfg, group),
                    unit,
                    max(value, 1.0),
                    src,
                    period=period,
                )
            )
    return rows


def subsidised_targets(cfg: RunConfig, ds: Dataset, p: dict) -> tuple[list[TargetRow], Derivation]:
    """Subsidised housing rows per year: a minimum share of new supply (if set) and a volume."""
    t, mode, rows = cfg.targets, _mode(cfg, "subsidised"), []
    if t.subsidised_share > 0:
        for y in p["years"]:
            scale = max(t.subsidised_share * sum(p["demand"][(r, y)] for r in p["regions"]), 1.0)
            rows.append(
                _row(
                    "subsidised_share",
                    "city",
                    y,
                    t.subsidised_share,
                    "share",
                    "min",
                    mode,
                    "10k_m2",
                    scale,
                    "config (the plan prints no subsidised share)",
                )
            )
    volume, how = subsidised_volume(cfg, ds, p["years"])
    # targets.subsidised_scope: the urban-village households are main-city renewal by default
    scope = cfg.targets.subsidised_scope if p["main_members"] else "city"
    if volume > 0:
        for y in p["years"]:
            rows.append(
                _row(
                    "subsidised_volume_10k_m2",
                    scope,
                    y,
                    volume,
                    "10k_m2",
                    "min",
                    mode,
                    "10k_m2",
                    max(volume, 1.0),
                    how,
                )
            )
    return rows, Derivation("subsidised_volume_10k_m2_per_year", volume, "10k_m2", how)


def money_targets(cfg: RunConfig, p: dict) -> list[TargetRow]:
    """Optional money limits per year (以房定钱, §9.4), each only when set in the config."""
    t, rows = cfg.targets, []
    for tid, group, value, sense in (
        (
            "purchase_spending_100m_yuan",
            "purchase_budget",
            t.purchase_budget_100m_yuan_per_year,
            "max",
        ),
        ("public_spending_100m_yuan", "public_budget", t.public_budget_100m_yuan_per_year, "max"),
        (
            "development_finance_100m_yuan",
            "dev_finance",
            t.dev_finance_max_100m_yuan_per_year,
            "max",
        ),
        ("land_revenue_100m_yuan", "land_revenue", t.land_revenue_min_100m_yuan_per_year, "min"),
    ):
        if value is None:
            continue
        for y in p["years"]:
            rows.append(
                _row(
                    tid,
                    "city",
                    y,
                    value,
                    "100m_yuan",
                    sense,
                    _mode(cfg, group),
                    "100m_yuan",
                    max(float(value), 1.0),
                    "config",
                )
            )
    return rows


def build_targets(cfg: RunConfig, ds: Dataset, p: dict) -> tuple[list[TargetRow], list[Derivation]]:
    """Every target row the run checks, from the config (or the dataset's targets.csv)."""
    subsidised, note = subsidised_targets(cfg, ds, p)
    rows = (
        cycle_targets(cfg, ds, p)
        + vacancy_targets(cfg, ds, p)
        + total_targets(cfg, ds, p)
        + subsidised
        + money_targets(cfg, p)
    )
    return rows, [note]


#: Dwelling-count targets the tool models as subsidised floor area (a dwelling of the base
#: year's average size): households to rehouse (Chifeng 表34: urban-village renewal) and
#: subsidised dwellings to provide (an annual plan's 保障性住房筹集).
SUBSIDISED_DWELLING_TARGETS = ("urban_village_households", "subsidised_dwellings")


def subsidised_volume(cfg: RunConfig, ds: Dataset, years) -> tuple[float, str]:
    """Subsidised housing to provide a year (万m²). Default: the dwellings the dataset's
    targets ask for (:data:`SUBSIDISED_DWELLING_TARGETS`; Chifeng: 表34's 2552 urban-village
    households) over the plan years, in dwellings of the base year's average size (sales floor
    area ÷ dwellings sold)."""
    if cfg.targets.subsidised_volume_10k_m2_per_year is not None:
        return float(cfg.targets.subsidised_volume_10k_m2_per_year), "config"
    hits = [(tid, target_value(ds, tid)) for tid in SUBSIDISED_DWELLING_TARGETS]
    hits = [(tid, hit) for tid, hit in hits if hit is not None]
    if not hits:
        return 0.0, "no subsidised dwelling target in targets.csv; 0"
    size = dwelling_size_m2(ds, "city")
    count = sum(hit[0] for _tid, hit in hits)
    vol = count * size / M2_PER_10K_M2 / len(years)
    what = " + ".join(f"{hit[0]:.0f} {tid} ({hit[1]})" for tid, hit in hits)
    return vol, f"{what} × {size:.2f} m² ÷ {len(years)} years"


#: Dataset target ids the optimiser and the replay check; any other target is listed as not
#: modelled (one line), never dropped.
MODELLED_TARGETS = ("cycle_months", "vacancy_share", "supply_total_10k_m2", "land_total_ha",
                    *SUBSIDISED_DWELLING_TARGETS)


def not_modelled_targets(ds: Dataset, vacancy_scopes, lang: str = "en") -> list[str]:
    """'id (name, scope period ≤/≥ value unit)' for each dataset target the tool does not model:
    a kind it has no quantity for, or a vacancy target where the dataset prints no vacancy
    (zh: 'name（id，scope，period ≤/≥ value unit）' with Chinese names and units)."""
    from model.labels import Labels

    L = Labels.for_dataset(ds, lang)
    out = []
    for t in ds.targets():
        modelled = t.target_id in MODELLED_TARGETS and not (
            t.target_id == "vacancy_share" and not vacancy_scopes)
        if not modelled:
            sense = "≤" if t.sense == "max" else "≥"
            name = ds.target_name_zh(t.target_id, t.scope, t.period)
            if L.zh:
                value = (f"{100 * t.value:g}%" if t.unit == "share" else
                         f"{t.value:g}{L.unit(t.unit)}")
                out.append(f"{name}（{t.target_id}，{L.region(t.scope)}，{L.period(t.period)} "
                           f"{sense} {value}）")
                continue
            out.append(f"{t.target_id} ({name}, {t.scope} {t.period} {sense} {t.value:g} "
                       f"{t.unit})")
    return out


def dataset_notes(cfg: RunConfig, ds: Dataset, inputs: "ModelInputs",
                  lang: str = "en") -> list[str]:
    """One line per thing the dataset lacks and what the run did instead, in ``lang`` (zh or en;
    config keys and file names kept as they are). Built when a run reports, not per evaluation
    (its target names are pandas look-ups: most of a build_inputs call if built there)."""
    from model.data import GUIDANCE_SPLITS
    from model.labels import Labels

    L = Labels.for_dataset(ds, lang)
    notes = []
    if not ds.has_table("land_sold"):
        given = cfg.timing.pipeline_10k_m2 is not None
        k = cfg.ramp.land_multiple_of_history
        notes.append(
            L.pick(zh="无历史供地数据（land_sold）：", en="no land history (land_sold): ")
            + (L.pick(zh="期初在途供应取 timing.pipeline_10k_m2",
                      en="the opening pipeline is timing.pipeline_10k_m2") if given else
               L.pick(zh="期初在途供应按稳态估算：此前每年按基期销售速度出让土地（判断假设，可用 "
                         "timing.pipeline_10k_m2 设定，设为0即不计）",
                      en="the opening pipeline is the steady state of land bought at the "
                         "base-year sales rate (a judgement: timing.pipeline_10k_m2 to set it, "
                         "0 for none)"))
            + L.pick(zh="；年度出让上限为各区县年度最大计划供地的{k:g}倍；"
                        "供地规则中间档没有可盘活存量用地",
                     en="; land take-up capped at {k:g} × each region's largest yearly land "
                        "guidance; no revitalised land in the land rule's middle band", k=k))
    if not ds.has_table("demand"):
        how = next(d.how for d in inputs.derivations if d.name == "demand_total_10k_m2")
        notes.append(L.pick(
            zh="无需求预测（demand）：需求按 demand.* 设定推算"
               "（见 summary.json 的 derived_inputs）；不确定性分析中没有规划预测情景",
            en="no demand forecast (demand): demand is {how}; the uncertainty table has no "
               "plan-forecast case", how=how))
    if not ds.has_main_city:
        notes.append(L.pick(zh="未设主城区（manifest main_city_id）：不输出主城区结果",
                            en="no main city (manifest main_city_id): main-city outputs are "
                               "omitted"))
    split = [t for t in ("supply_guidance", "land_guidance") if ds.guidance_is_city_total(t)]
    if split:
        by = ds.guidance_split
        w = ds.guidance_weights()
        how_zh = {"base_sales": "按各区县基期销售占比", "base_inventory": "按各区县基期库存占比",
                  "equal": "平均"}.get(by, by)
        notes.append(L.pick(
            zh="{tables}只给出全市合计：{how_zh}分配到各区县（guidance.split={by}）：{weights}",
            en="{tables} give city totals only: split over the regions by {how_en} "
               "(guidance.split={by}): {weights}",
            tables=L.pick(zh="、", en=" and ").join(f"{t}（{ds.cite(t)}）" if L.zh else
                                                    f"{t} ({ds.cite(t)})" for t in split),
            how_zh=how_zh, how_en=GUIDANCE_SPLITS.get(by, by), by=by,
            weights=L.pick(zh="，", en=", ").join(
                f"{L.region(r) if L.zh else r} {v:.1%}" for r, v in w.items())))
    if str(cfg.land.rule) == "national" and cfg.land.suspend_above_months is None \
            and ds.fact_or_none("land_rule_suspend_above_months") is None:
        notes.append(L.pick(
            zh="未给出供地规则阈值：采用全国规则（{src}）：去化周期36个月以上暂停新增商品住宅用地，"
               "18个月以上只供应盘活存量用地",
            en="the dataset prints no land-rule thresholds: the national rule applies, {src}: "
               "none above 36 months, revitalised land only above 18",
            src=NATIONAL_LAND_RULE_SOURCE))
    if not inputs.vacancy_scopes:
        notes.append(L.pick(
            zh="无基期空置率数据（vacancy_share, low_use_households_10k）：空置率不建模",
            en="no base-year vacancy figures (vacancy_share, low_use_households_10k): vacancy is "
               "not modelled"))
    missing = not_modelled_targets(ds, inputs.vacancy_scopes, lang)
    if missing:
        notes.append(L.pick(zh="未建模的目标：", en="targets not modelled: ")
                     + L.pick(zh="；", en="; ").join(missing))
    return notes


# ---------------------------------------------------------------------------------------------
# Fixed plans
# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
# The whole step: one helper per group of ModelInputs fields
# ---------------------------------------------------------------------------------------------
def check_keys(cfg: RunConfig, regions, years) -> list[str]:
    """Config keys that name regions or years must name ones of this run."""
    problems = []
    named = [("land.revitalised_by_region_ha", cfg.land.revitalised_by_region_ha)]
    if isinstance(cfg.timing.pipeline_10k_m2, Mapping):
        named.append(("timing.pipeline_10k_m2", cfg.timing.pipeline_10k_m2))
    named.append(("money.price_by_region_yuan_m2", cfg.money.price_by_region_yuan_m2))
    for key, mapping in named:
        problems += [
            f"{key}.{r}: {r!r} is not a region of this run (expected one of "
            f"{', '.join(regions)})"
            for r in mapping
            if r not in regions
        ]
    problems += [
        f"targets.cycle_months_by_year.{y}: {y} is not a plan year (expected "
        f"{years[0]}–{years[-1]})"
        for y in cfg.targets.cycle_months_by_year
        if int(y) not in years
    ]
    return problems


def market_fields(cfg: RunConfig, ds: Dataset, regions, years, notes: list) -> dict:
    """2025 stock and cycle (表19, §8.2.1) and demand by source."""
    inventory0 = by_level(ds, cfg.level, ds.inventory_10k_m2, ds.inventory_10k_m2)
    cycle0 = by_level(ds, cfg.level, ds.cycle_months, ds.cycle_months)
    demand, how = demand_by_source(cfg, ds, regions, years, inventory0, cycle0)
    notes.append(Derivation("demand_total_10k_m2", sum(demand.values()), "10k_m2", how))
    return {"inventory0_10k_m2": inventory0, "cycle0_months": cycle0, "demand_10k_m2": demand}


def fixed_plan_fields(cfg: RunConfig, supply_g, land_g, regions, years) -> dict:
    """The plan to evaluate: the rows of 表45/表48 ('guidance', with no purchases or subsidised
    building as 表47 prints none), a CSV, or none."""
    none = {
        "fixed_land_ha": None,
        "fixed_supply_10k_m2": None,
        "fixed_purchased_10k_m2": None,
        "fixed_subsidised_new_10k_m2": None,
    }
    if cfg.fixed_plan == "none":
        return none
    if cfg.fixed_plan == "guidance":
        zero = {(r, y): 0.0 for r in regions for y in years}
        plan = {
            "land_ha": land_g,
            "supply_10k_m2": supply_g,
            "purchased_10k_m2": zero,
            "subsidised_new_10k_m2": zero,
        }
    else:
        plan = read_fixed_plan(cfg.fixed_plan, regions, years)
    return {
        f"fixed_{col}": plan.get(col)
        for col in ("land_ha", "supply_10k_m2", "purchased_10k_m2", "subsidised_new_10k_m2")
    }


def land_fields(cfg: RunConfig, ds: Dataset, regions, years, market: dict, notes: list) -> dict:
    """Plot ratios, the fixed plan, timing and pipeline, the caps and big-M values, the land rule."""
    level = cfg.level
    supply_g = by_level(ds, level, ds.supply_guidance_10k_m2, ds.supply_guidance_10k_m2)
    land_g = by_level(ds, level, ds.land_guidance_ha, ds.land_guidance_ha)
    if cfg.land.plot_ratio is not None:
        plot_ratio = {r: float(cfg.land.plot_ratio) for r in regions}
        notes.append(
            Derivation("plot_ratio_10k_m2_per_ha", cfg.land.plot_ratio, "10k_m2_per_ha", "config")
        )
    else:
        plot_ratio = derived_plot_ratio(supply_g, land_g, regions)
        notes += [
            Derivation(
                f"plot_ratio_10k_m2_per_ha[{r}]",
                plot_ratio[r],
                "10k_m2_per_ha",
                f"Σ{ds.cite('supply_guidance')} ÷ Σ{ds.cite('land_guidance')}"
                if r in ds.region_ids else
                f"Σ{ds.cite('district_supply_guidance')} ÷ Σ{ds.cite('district_land_guidance')}",
            )
            for r in regions
        ]
    fixed = fixed_plan_fields(cfg, supply_g, land_g, regions, years)
    demand = market["demand_10k_m2"]
    timing = cfg.timing.to_timing()
    shares = tm.annual_shares(timing)
    pipe = pipeline_fields(cfg, ds, level, regions, years, plot_ratio, shares, notes)
    peak = {r: max(demand[(r, y)] for y in years) for r in regions}
    land_max = {
        (r, y): cfg.land.max_demand_multiple * peak[r] / plot_ratio[r]
        for r in regions
        for y in years
    }
    if fixed["fixed_land_ha"] is not None:
        land_max = {k: max(v, fixed["fixed_land_ha"][k]) for k, v in land_max.items()}
    supply_max, inventory_max = {}, {}
    cum = tm.cumulative_shares(shares, len(years))
    for r in regions:
        running = market["inventory0_10k_m2"][r]
        for i, y in enumerate(years):
            # at most everything the pipeline and the largest possible land can make ready by y
            ready = sum(pipe.ready[(r, t)] for t in years[: i + 1]) + plot_ratio[r] * sum(
                cum[i - j] * land_max[(r, years[j])] for j in range(i + 1)
            )
            supply_max[(r, y)] = ready
            if fixed["fixed_supply_10k_m2"] is not None:
                supply_max[(r, y)] = max(supply_max[(r, y)], fixed["fixed_supply_10k_m2"][(r, y)])
            running += supply_max[(r, y)]
            inventory_max[(r, y)] = running

    suspend, revitalise, add_below, problems = rule_thresholds(cfg, ds)
    if problems:
        raise InputError(problems)
    if cfg.land.revitalised_ha is not None:
        revit = {r: float(cfg.land.revitalised_ha) for r in regions}
        notes.append(Derivation("revitalised_ha", cfg.land.revitalised_ha, "ha", "config"))
    else:
        revit = revitalised_default(ds, level, regions, cfg.land.revitalised_share)
        notes.append(
            Derivation(
                "revitalised_ha_total_per_year",
                sum(revit.values()),
                "ha",
                f"{cfg.land.revitalised_share} × mean annual land sold "
                f"{_history(ds)} ({ds.cite('land_sold')}), per region"
                if ds.has_table("land_sold") else
                "no land history (land_sold): 0 — a region in the land rule's middle band gets "
                "no new land unless land.revitalised_ha or land.revitalised_by_region_ha is set",
            )
        )
    revit.update({r: float(v) for r, v in cfg.land.revitalised_by_region_ha.items()})
    revitalised = {(r, y): min(revit[r], land_max[(r, y)]) for r in regions for y in years}
    allowed_first = first_year_allowance(
        market["cycle0_months"],
        land_max,
        revitalised,
        years[0],
        str(cfg.land.rule),
        suspend,
        revitalise,
    )
    return {
        "plot_ratio_10k_m2_per_ha": plot_ratio,
        "timing": timing,
        "ready_shares": shares,
        "pipeline": pipe,
        "pipeline_ready_next_10k_m2": {
            r: sum(a * tm.share_at(shares, years[-1] + 1 - h)
                   for (rr, h), a in pipe.tranches.items() if rr == r) for r in regions},
        "land_max_ha": land_max,
        "supply_max_10k_m2": supply_max,
        "inventory_max_10k_m2": inventory_max,
        "land_rule": str(cfg.land.rule),
        "land_rule_source": land_rule_source(cfg, ds),
        "rule_margin_months": float(cfg.land.rule_margin_months),
        "suspend_above_months": suspend,
        "revitalise_above_months": revitalise,
        "add_below_months": add_below,
        "revitalised_ha": revitalised,
        "land_allowed_first_year_ha": allowed_first,
        **fixed,
    }


def residual_land_value_yuan_m2(price_yuan_m2: float, build_cost_yuan_m2: float,
                                tax_share: float, margin_share: float) -> float:
    """What a developer can pay for land per m² of floor area it carries (元/m², the residual
    method): sale price × (1 − taxes − margin) − construction and development cost, never below
    0. With the defaults (3000 元/m², 12% taxes, 12% margin): main city 7006 → 2324.56 元/m²
    (× 2.03 万m²/ha = 315 万元/亩; the plan's one land price, 高铁 2023, is 430.27 万元/亩, §8.2.1.5),
    the other regions 4742 → 604 元/m² (82 万元/亩)."""
    return max(0.0, price_yuan_m2 * (1.0 - tax_share - margin_share) - build_cost_yuan_m2)


def money_fields(
    cfg: RunConfig, ds: Dataset, regions, main_members, plot_ratio, notes: list
) -> dict:
    """Prices, land values by the residual method and the shares behind the money accounts
    (§9.4; docs/formulation.md §3.5)."""
    prices, price_notes = regional_prices(cfg, ds, regions, main_members)
    notes += price_notes
    m = cfg.money
    value = {
        r: residual_land_value_yuan_m2(
            prices[r], m.build_cost_yuan_m2, m.tax_share_of_price, m.margin_share_of_price
        )
        for r in regions
    }
    how = (
        f"price × (1 − {m.tax_share_of_price:g} taxes − {m.margin_share_of_price:g} margin) − "
        f"{m.build_cost_yuan_m2:g} 元/m² construction, never below 0 (residual method)"
    )
    notes += [
        Derivation(f"land_value_yuan_per_m2_floor[{r}]", value[r], "yuan_m2", how) for r in regions
    ]
    build = cfg.subsidised.build_cost_yuan_m2
    build = m.build_cost_yuan_m2 if build is None else float(build)
    return {
        "price_yuan_m2": prices,
        # 元/m² × 万m²/ha = 万元 per ha
        "land_price_10k_yuan_per_ha": {r: value[r] * plot_ratio[r] for r in regions},
        "purchase_price_factor": cfg.subsidised.purchase_price_factor,
        "build_cost_yuan_m2": build,
        "dev_finance_share": m.dev_finance_share,
        "allow_new_build": cfg.subsidised.allow_new_build,
        "max_purchase_share_of_stock": cfg.subsidised.max_purchase_share_of_stock,
        "subsidised_plot_ratio": {
            r: float(cfg.subsidised.plot_ratio or plot_ratio[r]) for r in regions
        },
        "developer_build_cost_yuan_m2": m.build_cost_yuan_m2,
        "tax_share_of_price": m.tax_share_of_price,
        "margin_share_of_price": m.margin_share_of_price,
    }


def base_presale(ds: Dataset, level: str, regions, inventory0: Mapping, cycle0: Mapping,
                 notes: list) -> dict[str, float]:
    """Presale in the base year per region (万m²), the level the first plan year's ramp starts
    from. A region with its own printed figure (new_supply_10k_m2, §2.2.1.1: main city 81.97)
    uses it; the rest of the city's figure (146.73 − 81.97) is split over the other regions by
    the sales rate 表19 implies (inventory ÷ cycle × 12); without a city figure every region gets
    that implied sales rate. At district level the main city's figure is split the same way."""
    base = ds.base_year
    rate = {r: (inventory0[r] / cycle0[r] * 12.0 if cycle0[r] > 0 else 0.0) for r in regions}

    def printed(scope: str) -> float | None:
        return ds.fact_or_none("new_supply_10k_m2", scope, base)

    out: dict[str, float] = {}
    groups: list[tuple[float | None, list[str], str]] = []
    main = ds.main_city_id or ""
    main_members = [r for r in regions if r not in ds.region_ids]  # districts, if any
    known = {r: printed(r) for r in regions if r in ds.region_ids}
    known = {r: v for r, v in known.items() if v is not None}
    out.update(known)
    if main_members:
        groups.append((printed(main), main_members, f"{main}'s printed presale"))
    others = [r for r in regions if r not in known and r not in main_members]
    city = printed("city")
    rest = None if city is None else city - sum(known.values()) - (
        (printed(main) or 0.0) if main_members else 0.0)
    groups.append((rest, others, "the rest of the city's printed presale"))
    for total, members, what in groups:
        weight = sum(rate[r] for r in members)
        for r in members:
            if total is not None and weight > 0:
                out[r] = max(total, 0.0) * rate[r] / weight
            else:
                out[r] = rate[r]
    notes.append(Derivation(
        "presale_base_year_10k_m2[city]", sum(out.values()), "10k_m2",
        f"the ramp's starting level ({base}): printed presale "
        f"({ds.fact_source('new_supply_10k_m2') or 'not printed'}) where a region has it, the "
        f"rest split by the sales rate {ds.cite('base_inventory')} implies (inventory ÷ cycle × "
        f"12)"))
    return out


def pace_fields(cfg: RunConfig, ds: Dataset, regions, market: dict, notes: list) -> dict:
    """The ramps (ramp.*) and the terminal condition (terminal.*), docs/formulation.md §5.3–5.4.
    In evaluate mode (plan_as_written) they are reported, not enforced (penalty 0)."""
    r_cfg, t_cfg = cfg.ramp, cfg.terminal
    by_region = base_presale(ds, cfg.level, regions, market["inventory0_10k_m2"],
                             market["cycle0_months"], notes)
    main = tuple(r for r in level_regions(ds, cfg.level)[1])
    scopes: list[tuple[str, tuple[str, ...]]] = []
    if r_cfg.presale_scope in ("plan", "both"):
        scopes.append(("city", tuple(regions)))
        if main and main != tuple(regions):
            scopes.append(("main_city", main))
    if r_cfg.presale_scope in ("region", "both"):
        scopes += [(r, (r,)) for r in regions
                   if not (r_cfg.presale_scope == "both" and (r,) == main)]
    base = {name: sum(by_region[r] for r in members) for name, members in scopes}
    sold = land_sold_by_level(ds, cfg.level) if ds.has_table("land_sold") else {}
    # no land history: the plan's own guidance is the take-up it expects
    shown = sold or ds.land_guidance_ha(cfg.level)
    cap = {r: r_cfg.land_multiple_of_history
           * max([v for (rr, _y), v in shown.items() if rr == r], default=0.0) for r in regions}
    cap_source = ("ramp.land_multiple_of_history × the most land sold in one history year"
                  if sold else "ramp.land_multiple_of_history × the region's largest yearly "
                  "land guidance (no land history)")
    notes.append(Derivation(
        "land_cap_ha_per_year[city]", sum(cap.values()), "ha",
        f"{r_cfg.land_multiple_of_history:g} × the most land each region sold in one year of "
        f"{_history(ds)} ({ds.cite('land_sold')}), summed"
        if sold else f"no land history (land_sold) in the dataset: "
        f"{r_cfg.land_multiple_of_history:g} × each region's largest yearly land guidance "
        f"({ds.cite('land_guidance')}), summed"))
    evaluate = bool(cfg.evaluate_only)
    return {
        "ramp_mode": "off" if evaluate else r_cfg.mode,
        "ramp_scopes": tuple(scopes),
        "presale_base_10k_m2": base,
        "presale_change_share": r_cfg.presale_change_share,
        "land_cap_ha": cap,
        "land_cap_source": cap_source,
        "weight_presale_ramp": 0.0 if evaluate or r_cfg.mode == "off"
        else r_cfg.presale_penalty_per_10k_m2,
        "weight_land_ramp": 0.0 if evaluate or r_cfg.mode == "off" else r_cfg.land_penalty_per_ha,
        "terminal_mode": "off" if evaluate else t_cfg.mode,
        "terminal_feed_share": t_cfg.feed_share,
        "weight_terminal": 0.0 if evaluate or t_cfg.mode == "off" else t_cfg.penalty_per_10k_m2,
    }


def vacancy_fields(cfg: RunConfig, ds: Dataset, years, notes: list) -> dict:
    """The dwelling stock-flow's starting stock and flows for the city and the main city."""
    scopes, dwell0, vac0, size = [], {}, {}, {}
    for scope, fact_scope in (("city", "city"), ("main_city", ds.main_city_id)):
        stock = dwelling_stock(ds, fact_scope)
        if stock is None:
            continue
        scopes.append(scope)
        dwell0[scope], vac0[scope] = stock
        size[scope] = dwelling_size_m2(ds, fact_scope)
        notes.append(
            Derivation(
                f"dwellings_base_year_10k[{scope}]",
                stock[0],
                "10k_dwellings",
                f"low-use households ÷ vacancy share "
                f"({ds.fact_source('vacancy_share', fact_scope) or 'facts'})",
            )
        )
        notes.append(
            Derivation(
                f"dwelling_size_m2[{scope}]",
                size[scope],
                "m2",
                f"{ds.base_year} sales floor area ÷ dwellings sold "
                f"({ds.fact_source('sales_dwellings') or 'facts'})",
            )
        )
    v = cfg.vacancy
    hh_city, persons, hh_how = 0.0, v.persons_per_household, "no vacancy data; 0"
    if "city" in scopes:
        hh_city, persons, hh_how = household_formation_default(
            ds, dwell0["city"], vac0["city"], persons
        )
    if v.household_formation_10k_per_year is not None:
        hh_city, hh_how = float(v.household_formation_10k_per_year), "config"
    notes.append(
        Derivation("household_formation_10k_per_year[city]", hh_city, "10k_households", hh_how)
    )
    if persons:
        notes.append(
            Derivation(
                "persons_per_household",
                persons,
                "persons",
                "config"
                if v.persons_per_household is not None
                else f"urban residents (population × urbanisation, "
                f"{ds.fact_source('urbanisation_share') or 'facts'}) ÷ occupied urban dwellings",
            )
        )
    main_share = v.main_city_household_share
    if main_share is None:
        main_share = (
            ds.fact("sales_10k_m2", ds.main_city_id) / ds.fact("sales_10k_m2", "city")
            if ds.has_fact("sales_10k_m2", ds.main_city_id)
            else 0.0
        )
        notes.append(
            Derivation(
                "main_city_household_share",
                main_share,
                "share",
                f"main city's share of {ds.base_year} new-home sales "
                f"({ds.fact_source('sales_10k_m2') or 'facts'})",
            )
        )
    removals = v.removals_10k_per_year
    if removals is None:
        hit = target_value(ds, "urban_village_households")
        removals = hit[0] / 1e4 / len(years) if hit else 0.0
        notes.append(
            Derivation(
                "removals_10k_per_year[city]",
                removals,
                "10k_dwellings",
                f"{hit[1]} urban-village households ÷ {len(years)} years"
                if hit
                else "no urban_village_households target; 0",
            )
        )
    share_hh = {"city": 1.0, "main_city": main_share}
    share_rem = {"city": 1.0, "main_city": v.main_city_removal_share}
    return {
        "vacancy_scopes": tuple(scopes),
        "dwellings0_10k": dwell0,
        "vacant0_10k": vac0,
        "dwelling_size_m2": size,
        "household_formation_10k": {(s, y): hh_city * share_hh[s] for s in scopes for y in years},
        "removals_10k": {(s, y): removals * share_rem[s] for s in scopes for y in years},
    }


def objective_fields(cfg: RunConfig, ds: Dataset) -> dict:
    """The weights, and the reasonable cycle band (§2.4.1, 12–18 months) they refer to."""
    o = cfg.objective
    low = o.band_low_months
    low = (ds.fact_or_none("cycle_band_low_months") or 12.0) if low is None else low
    high = o.band_high_months
    high = (ds.fact_or_none("cycle_band_high_months") or 18.0) if high is None else high
    if low > high:
        raise InputError([f"objective.band_low_months = {low} is above band_high_months = {high}"])
    aim = (low + high) / 2.0 if o.aim_cycle_months is None else float(o.aim_cycle_months)
    if not low <= aim <= high:
        raise InputError([f"objective.aim_cycle_months = {aim} is outside the band {low}–{high} "
                          f"months; expected an aim inside it"])
    return {
        "band_low_months": low,
        "band_high_months": high,
        "aim_cycle_months": aim,
        "weight_aim_below": o.aim_below_per_10k_m2,
        "weight_aim_above": o.aim_above_per_10k_m2,
        "weight_unmet_demand": o.unmet_demand_per_10k_m2,
        "weight_inventory_above_band": o.inventory_above_band_per_10k_m2,
        "weight_inventory_below_band": o.inventory_below_band_per_10k_m2,
        "weight_inventory_holding": o.inventory_holding_per_10k_m2,
        "weight_land": o.land_per_ha,
        "weight_public_money": o.public_money_per_100m_yuan,
    }


def build_inputs(cfg: RunConfig, ds: Dataset) -> ModelInputs:
    """Turn a checked config and a loaded dataset into :class:`ModelInputs`; raise InputError."""
    regions, main_members = level_regions(ds, cfg.level)
    years = tuple(ds.plan_years)
    problems = check_keys(cfg, regions, years)
    if problems:
        raise InputError(problems)
    notes: list[Derivation] = []
    market = market_fields(cfg, ds, regions, years, notes)
    land = land_fields(cfg, ds, regions, years, market, notes)
    observed: dict = {}
    if cfg.review.enabled:
        observed = observed_fields(cfg, ds, regions, years, market, land, notes)
    money = money_fields(cfg, ds, regions, main_members, land["plot_ratio_10k_m2_per_ha"], notes)
    vacancy = vacancy_fields(cfg, ds, years, notes)
    pace = pace_fields(cfg, ds, regions, market, notes)
    parts = {
        "years": years,
        "regions": regions,
        "main_members": main_members,
        "demand": market["demand_10k_m2"],
        "inventory0": market["inventory0_10k_m2"],
        "cycle0": market["cycle0_months"],
        "vacancy_scopes": vacancy["vacancy_scopes"],
        "vacant0": vacancy["vacant0_10k"],
    }
    objective = objective_fields(cfg, ds)
    parts["band_low_months"] = objective["band_low_months"]
    targets, target_notes = build_targets(cfg, ds, parts)
    if observed:
        targets = observed_targets_off(targets, observed["observed_years"])
    fields = {**market, **land, **money, **vacancy, **objective, **pace, **observed}
    frozen = {k: (_frozen(v) if isinstance(v, dict) else v) for k, v in fields.items()}
    return ModelInputs(
        dataset_name=ds.name,
        data_hash=ds.data_hash,
        level=cfg.level,
        regions=tuple(regions),
        names_zh=_frozen({r: ds.name_zh(r) for r in (*regions, "city", ds.main_city_id)}),
        years=years,
        base_year=ds.base_year,
        main_city_id=ds.main_city_id,
        main_city_members=tuple(main_members),
        evaluate_only=bool(cfg.evaluate_only),
        targets=tuple(targets),
        derivations=tuple(notes + target_notes),
        **frozen,
    )


def with_targets(inputs: ModelInputs, changes: Mapping[str, dict]) -> ModelInputs:
    """A copy of ``inputs`` whose target rows named by key get the given field changes."""
    rows = tuple(
        dataclasses.replace(t, **changes[t.key]) if t.key in changes else t for t in inputs.targets
    )
    return dataclasses.replace(inputs, targets=rows)


# ---------------------------------------------------------------------------------------------
# The mid-term review: observed years fixed to the actuals
# ---------------------------------------------------------------------------------------------
def observed_fields(
    cfg: RunConfig, ds: Dataset, regions, years, market: dict, land: dict, notes: list
) -> dict:
    """Fix the observed years (review.actuals) to what happened; the later years stay free.

    For each observed region-year: land, supply and public purchases are the actuals, subsidised
    new building is 0 (the actuals have no such column), and sales are fixed so that the model's
    stock equals the observed end-of-year inventory exactly: sales = opening + supply − purchased
    − observed inventory (this differs from the reported sales by the identity gap the actuals
    loader tolerates, at most 0.05 万m² a row). Demand in an observed year is set to those sales,
    so unmet demand there is 0 — the actuals do not say how much demand went unmet.

    With ``review.future_demand = observed_ratio`` the later years' demand is scaled per region
    by Σ observed sales ÷ Σ forecast demand over the observed years.

    Changes ``market`` (demand) and ``land`` (caps, big-M values, fixed decisions) in place and
    returns the review's own fields. The land rule, the land-to-supply rows and the per-year
    targets are not enforced in observed years (optimise.py, :func:`observed_targets_off`): the
    past is data; breaches are reported.
    """
    from model.actuals import EXAMPLE_ACTUALS, load_actuals
    from model.data import DatasetError

    if cfg.level != "region":
        raise InputError(
            [f"review.enabled = true needs level = 'region' (the actuals are by planning region); "
             f"got level = {cfg.level!r}"]
        )
    path = Path(cfg.review.actuals) if cfg.review.actuals else EXAMPLE_ACTUALS
    try:
        actuals = load_actuals(path, ds)
    except DatasetError as exc:
        raise InputError([f"review.actuals = {str(path)!r}: {p}" for p in exc.problems]) from None
    obs = tuple(y for y in years if y in actuals.years)
    value = {c: actuals.value(c) for c in ("land_ha", "supply_10k_m2", "sales_10k_m2",
                                           "purchased_10k_m2", "inventory_end_10k_m2")}
    demand = market["demand_10k_m2"]
    forecast = dict(demand)
    sales, gaps = {}, []
    for r in regions:
        opening = market["inventory0_10k_m2"][r]
        for y in obs:
            k = (r, y)
            flow = opening + value["supply_10k_m2"][k] - value["purchased_10k_m2"][k]
            sales[k] = max(0.0, flow - value["inventory_end_10k_m2"][k])
            gaps.append(sales[k] - value["sales_10k_m2"][k])
            demand[k] = sales[k]
            opening = value["inventory_end_10k_m2"][k]
    notes.append(Derivation(
        "observed_years", float(len(obs)), "years",
        f"{obs[0]}–{obs[-1]} fixed to {path.name}" if obs else f"none in {path.name}"))
    notes.append(Derivation(
        "observed_sales_adjustment_max_10k_m2", max((abs(g) for g in gaps), default=0.0), "10k_m2",
        "sales used = opening + supply − purchased − observed inventory; largest difference from "
        "the reported sales"))
    if cfg.review.future_demand == "observed_ratio" and obs:
        for r in regions:
            fc = sum(forecast[(r, y)] for y in obs)
            ratio = sum(sales[(r, y)] for y in obs) / fc if fc > 0 else 1.0
            for y in years:
                if y not in obs:
                    demand[(r, y)] *= ratio
            notes.append(Derivation(f"future_demand_ratio[{r}]", ratio, "share",
                                    "observed sales ÷ forecast demand over the observed years"))
    fixed = {(r, y): 0.0 for r in regions for y in obs}
    maps = {
        "fixed_land_ha": {k: value["land_ha"][k] for k in fixed},
        "fixed_supply_10k_m2": {k: value["supply_10k_m2"][k] for k in fixed},
        "fixed_purchased_10k_m2": {k: value["purchased_10k_m2"][k] for k in fixed},
        "fixed_subsidised_new_10k_m2": dict(fixed),
    }
    for name, observed in maps.items():  # observed years win over a fixed plan's
        land[name] = {**(land[name] or {}), **observed}
    for k in fixed:
        land["land_max_ha"][k] = max(land["land_max_ha"][k], value["land_ha"][k])
        land["supply_max_10k_m2"][k] = max(land["supply_max_10k_m2"][k], value["supply_10k_m2"][k])
    for r in regions:  # the cycle indicators' big-M must still bound the stock
        running = market["inventory0_10k_m2"][r]
        for y in years:
            running += land["supply_max_10k_m2"][(r, y)]
            land["inventory_max_10k_m2"][(r, y)] = running
    if obs and obs != tuple(years[: len(obs)]):
        raise InputError(
            [f"review.actuals = {str(path)!r}: observed years {', '.join(map(str, obs))} must be "
             f"the first plan years ({years[0]}, {years[0] + 1}, …)"]
        )
    carry = observed_carry(land, regions, obs, value["land_ha"], value["supply_10k_m2"], notes)
    return {"observed_years": obs, "fixed_sales_10k_m2": sales, "carry_ready_10k_m2": carry}


def observed_carry(land: dict, regions, obs, land_ha: Mapping, presale: Mapping,
                   notes: list) -> dict[str, float]:
    """Floor area the timing model had made presaleable by the end of the observed years but
    that was not presold then (万m²): ready = the pipeline's part for those years + Σ ρ a_{τ−t}
    × observed land; carry = max(0, ready − observed presale). Where presale exceeded it the
    pipeline was larger than derived; nothing is carried and a note says by how much."""
    shares, ratio = land["ready_shares"], land["plot_ratio_10k_m2_per_ha"]
    carry = {}
    for r in regions:
        ready = sum(land["pipeline"].ready[(r, y)] for y in obs) + ratio[r] * sum(
            tm.share_at(shares, y - t) * land_ha[(r, t)] for y in obs for t in obs if t <= y
        )
        sold = sum(presale[(r, y)] for y in obs)
        carry[r] = max(0.0, ready - sold)
        if sold > ready + 1e-6:
            notes.append(Derivation(
                f"observed_presale_above_ready_10k_m2[{r}]", sold - ready, "10k_m2",
                "observed presale exceeded what the timing model had made ready (pipeline + "
                "observed land): the pipeline was larger than derived; nothing carried"))
    notes.append(Derivation(
        "ready_carried_10k_m2[city]", sum(carry.values()), "10k_m2",
        "floor area ready but not presold at the end of the observed years (timing model)"))
    return carry


def observed_targets_off(targets: list[TargetRow], observed_years) -> list[TargetRow]:
    """Per-year target rows of observed years become mode 'off' (reported, not enforced): no
    decision can change them any more. Period totals (land, supply 2026–2030) stay as they are
    and count the observed years' actual land and supply."""
    out = []
    for t in targets:
        if t.year is not None and t.year in observed_years and t.mode in ("hard", "soft"):
            t = dataclasses.replace(t, mode="off", penalty=0.0,
                                    source=f"{t.source}; observed year, not enforced")
        out.append(t)
    return out
