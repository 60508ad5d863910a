"""Typed, closed run configuration: one dataclass per config group, registered with Hydra.

Hydra composes ``conf/config.yaml`` on top of the schema ``base_config`` (the :class:`RunConfig`
dataclass below), so a misspelt key or a value of the wrong type fails at compose time with a
message naming the key. Cross-field and value checks (a negative multiplier, ``land.rule=x``) live
in each dataclass's ``__post_init__`` and run when :func:`to_settings` turns the composed config
into dataclass instances; each raises :class:`ConfigError` with one line naming the key and the
valid values.

Units are in the names: ``_10k_m2`` (万m²), ``_ha`` (hectares), ``_months``, ``_share`` (a
fraction), ``_100m_yuan`` (亿元), ``_yuan_m2`` (元/m²). A ``None`` (``null``) value means "derive it
from the dataset"; docs/formulation.md lists each derivation with the Chifeng numbers.
"""

from __future__ import annotations

import math
from dataclasses import MISSING as MISSING_FACTORY
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Dict, List, Mapping, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

# A sweep job's folder is named by its overrides (conf/config.yaml hydra.sweep.subdir); a '/' in a
# value (dataset=scenarios/mycity) would nest folders, so it becomes '∕' (U+2215) in the name.
if not OmegaConf.has_resolver("path_safe"):
    OmegaConf.register_new_resolver("path_safe", lambda text: str(text).replace("/", "∕"))

from model.errors import UserError

MODES = ("hard", "soft", "off")
DEMAND_SOURCES = ("plan", "sales_base", "csv")
#: Older names that carried Chifeng's base year, still accepted (one value → its new name).
YEAR_ALIASES = {"sales_2025": "sales_base",  # ALIAS-KEEP
                "sales_2025_decline": "sales_base_decline"}  # ALIAS-KEEP
# national: the 2024 national rule the plan cites (no new land above 36 months, only the
# revitalised land in 18–36; 自然资源部《关于做好2024年住宅用地供应有关工作的通知》); strict: a
# stricter rule a plan may state (Chifeng §9.3: none above 18, more below 6); none. Thresholds
# from the dataset's facts when it prints them (docs/formulation.md §2).
LAND_RULES = ("national", "strict", "none")
#: Older values naming Chifeng's sections, still accepted.
#: targets.* keys that carried Chifeng's last plan year → their year-neutral names (accepted)
TARGET_ALIASES = {"cycle_months_2030": "cycle_months_end",  # ALIAS-KEEP
                  "vacancy_share_city_2030": "vacancy_share_city_end",  # ALIAS-KEEP
                  "vacancy_share_main_city_2030": "vacancy_share_main_city_end"}  # ALIAS-KEEP
LAND_RULE_ALIASES = {"2.2.3": "national", "9.3": "strict"}
LEVELS = ("region", "district")
# plan: city and main city (第五章 sets the goal city-wide; the main city is the plan's other
# reported scope); city; region: each region; both: city, main city and each region
CYCLE_SCOPES = ("plan", "city", "region", "both")
CYCLE_PATHS = ("final", "linear")

# 金九银十: a slow Spring Festival (Jan–Feb), a spring peak, a summer lull and the September–October
# peak of China's housing market. Twelve monthly weights with mean 1.
DEFAULT_SEASONALITY = [0.70, 0.60, 1.00, 1.05, 1.05, 1.00, 0.90, 0.90, 1.25, 1.30, 1.10, 1.15]


# Map-valued keys (Dict fields) take new entries with a leading '+' on the command line:
#   '+targets.cycle_months_by_year={2028:24}'   +land.revitalised_by_region_ha.ningcheng=2


class ConfigError(UserError, ValueError):
    """A configuration value that cannot be used; each problem is one line naming the key."""


#: No number in a config is larger than this in magnitude: the model's quantities (万m², ha,
#: 亿元, months, 元/m², penalties) are all far below it, and larger values only make the solver
#: numerically unstable.
MAX_ABS_NUMBER = 1e9


def _one_of(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key} = {value!r} is not valid; expected one of: {', '.join(allowed)}")


def _at_least(key: str, value: float | None, low: float, strict: bool = False) -> None:
    if value is None:
        return
    if value < low or (strict and value == low):
        rel = ">" if strict else ">="
        raise ConfigError(f"{key} = {value!r} is not valid; expected a number {rel} {low}")


def _in_range(key: str, value: float | None, low: float, high: float, what: str) -> None:
    if value is not None and not low <= value <= high:
        raise ConfigError(f"{key} = {value!r} is not valid; expected {what} in [{low:g}, {high:g}]")


def _share(key: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"{key} = {value!r} is not valid; expected a share in [0, 1] " f"(20% is written 0.2)"
        )


REMOVED_LAND_KEYS = {
    "lag_years": "the land → presale lag is now timing.lag_months_mean / lag_months_sd / "
    "lag_months_max (months, docs/timing.md)",
    "pipeline_share": "the opening pipeline is derived with the timing model; override it with "
    "timing.pipeline_10k_m2 (万m², a city total or {region: value})",
    "pipeline_extra_ha": "override the opening pipeline with timing.pipeline_10k_m2 (万m², a city "
    "total or {region: value})",
}
REMOVED_SIM_KEYS = {
    "price_elasticity": "the price response is one signed coefficient: sim.price_response "
    "(> 0 falling prices draw buyers, < 0 deter them, 0 none; docs/replay.md)",
    "price_sensitivity": "the price response is one signed coefficient: sim.price_response "
    "(> 0 falling prices draw buyers, < 0 deter them, 0 none; docs/replay.md)",
    "lag_months_mean": "the replay draws its lags from the shared timing model: "
    "timing.lag_months_mean",
    "lag_months_sd": "the replay draws its lags from the shared timing model: timing.lag_months_sd",
}


def _removed(group: str, node: Any, removed: Mapping[str, str]) -> None:
    """A removed key that was set: one line naming it and what replaced it."""
    for name, replacement in removed.items():
        if getattr(node, name) is not None:
            raise ConfigError(f"{group}.{name} no longer exists: {replacement}")


# ---------------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------------
GUIDANCE_SPLITS = ("base_sales", "base_inventory", "equal")


@dataclass
class GuidanceConfig:
    """Guidance a plan prints only as city totals (an annual plan), split over the regions."""

    # null = the dataset's manifest guidance_split (default base_sales): base_sales — each
    # region's share of base-year sales; base_inventory — of base-year unsold stock; equal
    split: Optional[str] = None

    def __post_init__(self) -> None:
        if self.split is not None:
            _one_of("guidance.split", str(self.split), GUIDANCE_SPLITS)


@dataclass
class DemandConfig:
    """Where the demand the plan must serve comes from (万m² of commercial housing per year)."""

    # sales_base (default): each region's 2025 sales rate implied by 表19 (inventory ÷ cycle × 12),
    # the central case — 表31's forecast is 16% above it city-wide and up to 2.76× by region,
    # highest where stock is worst, so the optimiser does not plan on it as if certain; plan:
    # 表31/表32 (a demand case of every run's uncertainty table); csv: a user file
    source: str = "sales_base"
    multiplier: float = 1.0  # scales whichever source is used
    growth: float = 0.0  # per year, compounding from the base year (sales_base source only)
    csv: Optional[str] = None  # path to a CSV with region_id, year, demand_10k_m2 (source=csv)

    def __post_init__(self) -> None:
        self.source = YEAR_ALIASES.get(str(self.source), str(self.source))
        _one_of("demand.source", self.source, DEMAND_SOURCES)
        _at_least("demand.multiplier", self.multiplier, 0.0)
        _at_least("demand.growth", self.growth, -1.0, strict=True)
        if self.source == "csv" and not self.csv:
            raise ConfigError(
                "demand.csv is empty but demand.source = 'csv'; give demand.csv=PATH "
                "(a CSV with columns region_id, year, demand_10k_m2)"
            )


@dataclass
class LandConfig:
    """How land becomes supply, and the land rule (the national 2024 rule, or a stricter one)."""

    # 万m² of floor area per ha; null = per region, Σ表45 ÷ Σ表48 (Σ表46 ÷ Σ表49 for districts)
    plot_ratio: Optional[float] = None
    # removed keys (one line says what replaced them): land → presale timing is timing.*
    lag_years: Optional[Any] = None
    pipeline_share: Optional[Any] = None
    pipeline_extra_ha: Optional[Any] = None
    # national | strict | none (2.2.3 / 9.3 accepted for national / strict)
    rule: str = "national"
    # land allowed per region-year in the 18–36 month band, ha; null = derived (docs §2)
    revitalised_ha: Optional[float] = None
    # revitalised land per year as a share of the region's mean annual land sold 2021–2025 (表21)
    revitalised_share: float = 1.0
    # region → revitalised land per year, ha (overrides the two above)
    revitalised_by_region_ha: Dict[str, float] = field(default_factory=dict)
    # null = facts.csv (36 for §2.2.3, 18 for §9.3)
    suspend_above_months: Optional[float] = None
    # null = facts.csv (18); §2.2.3 only
    revitalise_above_months: Optional[float] = None
    # cap on new land per region-year: this × the region's peak demand ÷ plot ratio (big-M)
    max_demand_multiple: float = 3.0
    # the optimiser plans to keep a region's start-of-year cycle this many months inside a land
    # rule threshold it relies on (17 for an 18-month threshold), so that a plan does not open its
    # land only by landing exactly on the threshold; reports and the replay use the rule as written
    rule_margin_months: float = 1.0

    def __post_init__(self) -> None:
        self.rule = LAND_RULE_ALIASES.get(str(self.rule), str(self.rule))
        _one_of("land.rule", self.rule, LAND_RULES)
        _in_range("land.plot_ratio", self.plot_ratio, 0.05, 50.0, "10k_m2 of floor area per ha")
        _removed("land", self, REMOVED_LAND_KEYS)
        _at_least("land.revitalised_ha", self.revitalised_ha, 0.0)
        _at_least("land.revitalised_share", self.revitalised_share, 0.0)
        _at_least("land.suspend_above_months", self.suspend_above_months, 0.0)
        _at_least("land.revitalise_above_months", self.revitalise_above_months, 0.0)
        _at_least("land.max_demand_multiple", self.max_demand_multiple, 0.0, strict=True)
        _at_least("land.rule_margin_months", self.rule_margin_months, 0.0)
        for region, value in self.revitalised_by_region_ha.items():
            _at_least(f"land.revitalised_by_region_ha.{region}", value, 0.0)
        if (
            self.suspend_above_months is not None
            and self.revitalise_above_months is not None
            and self.revitalise_above_months > self.suspend_above_months
        ):
            raise ConfigError(
                f"land.revitalise_above_months = {self.revitalise_above_months} is above "
                f"land.suspend_above_months = {self.suspend_above_months}; "
                f"expected revitalise <= suspend"
            )


@dataclass
class TimingConfig:
    """Land sale → presale (model/timing.py, docs/timing.md): one timing model for the optimiser
    (annual shares), the replay (monthly lag draws) and the mid-term review.

    Supply in the plan's statistics (表45) is presale approval; land sold (表21, 表48) reaches it
    after permits and building to the presale threshold, and completed-home sales (现售) after
    completion."""

    lag_months_mean: float = 12.0  # land sale → presale approval; judgement, range 9–18
    lag_months_sd: float = 3.0  # spread of that lag (construction season, permits); range 2–5
    lag_months_max: int = 24  # longer lags are folded into this month
    completed_share: float = 0.2  # floor area sold as completed homes; range 0–0.45 (表34 aim)
    completed_lag_months_mean: float = 30.0  # land sale → completion; range 24–36
    completed_lag_months_sd: float = 4.0
    completed_lag_months_max: int = 48
    distribution: str = "gamma"  # gamma | lognormal | fixed
    # floor area on land sold before the plan not yet presaleable at the end of the base year,
    # 万m²: null = derived from 表21 × plot ratio with this timing model; a number = city total
    # (split over regions like the derived one); {region: 万m²} per region
    pipeline_10k_m2: Optional[Any] = None

    def to_timing(self):
        """The :class:`model.timing.Timing` these settings describe."""
        from model.timing import Timing

        return Timing(
            lag_months_mean=float(self.lag_months_mean),
            lag_months_sd=float(self.lag_months_sd),
            lag_months_max=int(self.lag_months_max),
            completed_share=float(self.completed_share),
            completed_lag_months_mean=float(self.completed_lag_months_mean),
            completed_lag_months_sd=float(self.completed_lag_months_sd),
            completed_lag_months_max=int(self.completed_lag_months_max),
            distribution=str(self.distribution),
        )

    def __post_init__(self) -> None:
        problems = self.to_timing().problems()
        if problems:
            raise ConfigError(problems[0])
        p = self.pipeline_10k_m2
        if p is None:
            return
        if isinstance(p, Mapping) or hasattr(p, "items"):
            for region, value in p.items():
                if not _is_number(value) or value < 0:
                    raise ConfigError(
                        f"timing.pipeline_10k_m2.{region} = {value!r} is not valid; expected a "
                        f"number >= 0 (万m²)"
                    )
        elif not _is_number(p) or p < 0:
            raise ConfigError(
                f"timing.pipeline_10k_m2 = {p!r} is not valid; expected null (derive), a city "
                f"total >= 0 in 万m², or {{region: 万m²}}"
            )


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value == value
        and abs(value) != float("inf")
    )


@dataclass
class TargetMode:
    """How a target enters the model: hard (a constraint), soft (a penalised slack) or off."""

    mode: str = "soft"
    penalty: float = 100.0  # objective points per unit of slack (unit per target, see docs)


@dataclass
class TargetsConfig:
    """Every target's value (null = the dataset's targets.csv) and its mode and penalty."""

    cycle_months_end: Optional[float] = None  # last plan year; null = targets.csv (18, 第五章)
    cycle_path: str = "final"  # final: last year only; linear: from 2025 down
    cycle_months_by_year: Dict[int, float] = field(default_factory=dict)  # {2028: 24}: per-year
    cycle_scope: str = "plan"  # plan (city + main city) | city | region | both
    cycle: TargetMode = field(default_factory=lambda: TargetMode(penalty=100.0))
    # the band floor (§2.4.1: 12 months; null = objective.band_low_months) at the end of the last
    # plan year, city and main city: a plan that runs its stock out misses it (terminal band)
    cycle_floor_months: Optional[float] = None
    # 3 points per 万m² of stock short of the floor (held against demand): a 万m² sold in the main
    # city counts against both the city's and the main city's floor (6), plus the aim (0.5) and
    # the terminal feed (1): 7.5, below unmet demand's 10, so buyers are never turned away to keep
    # stock on the shelf (docs/formulation.md §7)
    cycle_floor: TargetMode = field(default_factory=lambda: TargetMode(penalty=3.0))
    vacancy_share_city_end: Optional[float] = None  # null = targets.csv (0.20)
    vacancy_share_main_city_end: Optional[float] = None  # null = targets.csv (0.18)
    vacancy: TargetMode = field(default_factory=lambda: TargetMode(penalty=1.0))
    supply_total_10k_m2: Optional[float] = None  # null = targets.csv (1089.46, 表34)
    # 表34's totals are indicative (预期性): exceeding one costs 1 point per 万m² (ha), less than
    # a 万m² of unmet demand (10) or of the safety margin (objective.aim_below), so the plan says
    # by how much demand and the margin need more than the total (docs/formulation.md §7)
    supply_total: TargetMode = field(default_factory=lambda: TargetMode(penalty=1.0))
    land_total_ha: Optional[float] = None  # null = targets.csv (574.93, 表34)
    land_total: TargetMode = field(default_factory=lambda: TargetMode(penalty=1.0))
    subsidised_share: float = 0.0  # min share of new commercial supply (表47 blank)
    # null = 表34's 2552 urban-village households × 2025 dwelling size ÷ plan years
    subsidised_volume_10k_m2_per_year: Optional[float] = None
    # where the volume is provided: main_city (default: 表34's urban-village households are
    # main-city renewal, 城中村改造, as vacancy.main_city_removal_share) or city
    subsidised_scope: str = "main_city"
    subsidised: TargetMode = field(default_factory=lambda: TargetMode(penalty=100.0))
    purchase_budget_100m_yuan_per_year: Optional[float] = None  # null = no limit
    purchase_budget: TargetMode = field(default_factory=lambda: TargetMode(penalty=100.0))
    public_budget_100m_yuan_per_year: Optional[float] = None  # purchases + subsidised building
    public_budget: TargetMode = field(default_factory=lambda: TargetMode(penalty=100.0))
    dev_finance_max_100m_yuan_per_year: Optional[float] = None
    dev_finance: TargetMode = field(default_factory=lambda: TargetMode(penalty=100.0))
    land_revenue_min_100m_yuan_per_year: Optional[float] = None
    land_revenue: TargetMode = field(default_factory=lambda: TargetMode(penalty=100.0))
    # older names of the *_end keys (they carried Chifeng's last plan year), still accepted;
    # a value set here moves to the *_end key
    cycle_months_2030: Optional[float] = None  # ALIAS-KEEP
    vacancy_share_city_2030: Optional[float] = None  # ALIAS-KEEP
    vacancy_share_main_city_2030: Optional[float] = None  # ALIAS-KEEP

    def __post_init__(self) -> None:
        for old, new in TARGET_ALIASES.items():
            if getattr(self, old) is not None:
                setattr(self, new, getattr(self, old))
                setattr(self, old, None)
        _one_of("targets.cycle_path", self.cycle_path, CYCLE_PATHS)
        _one_of("targets.cycle_scope", self.cycle_scope, CYCLE_SCOPES)
        _one_of("targets.subsidised_scope", self.subsidised_scope, ("main_city", "city"))
        _at_least("targets.cycle_months_end", self.cycle_months_end, 0.0)
        _at_least("targets.cycle_floor_months", self.cycle_floor_months, 0.0)
        for year, months in self.cycle_months_by_year.items():
            _at_least(f"targets.cycle_months_by_year.{year}", months, 0.0)
        _share("targets.vacancy_share_city_end", self.vacancy_share_city_end)
        _share("targets.vacancy_share_main_city_end", self.vacancy_share_main_city_end)
        _share("targets.subsidised_share", self.subsidised_share)
        for name in (
            "supply_total_10k_m2",
            "land_total_ha",
            "subsidised_volume_10k_m2_per_year",
            "purchase_budget_100m_yuan_per_year",
            "public_budget_100m_yuan_per_year",
            "dev_finance_max_100m_yuan_per_year",
            "land_revenue_min_100m_yuan_per_year",
        ):
            _at_least(f"targets.{name}", getattr(self, name), 0.0)
        for f in fields(self):
            node = getattr(self, f.name)
            if isinstance(node, TargetMode):
                _one_of(f"targets.{f.name}.mode", node.mode, MODES)
                _at_least(f"targets.{f.name}.penalty", node.penalty, 0.0)


@dataclass
class VacancyConfig:
    """The dwelling stock-flow behind the vacancy target (§2.4.2); 万 dwellings = 10k dwellings."""

    # city-wide, 万 households a year; null = derived from §2.1.7 and §9.2
    household_formation_10k_per_year: Optional[float] = None
    persons_per_household: Optional[float] = None  # null = urban residents ÷ occupied dwellings
    main_city_household_share: Optional[float] = None  # null = main city's share of 2025 sales
    removals_10k_per_year: Optional[float] = None  # null = 表34 urban-village households ÷ years
    main_city_removal_share: float = 1.0  # 城中村改造 is central-city renewal

    def __post_init__(self) -> None:
        _at_least("vacancy.persons_per_household", self.persons_per_household, 0.0, strict=True)
        _share("vacancy.main_city_household_share", self.main_city_household_share)
        _at_least("vacancy.removals_10k_per_year", self.removals_10k_per_year, 0.0)
        _share("vacancy.main_city_removal_share", self.main_city_removal_share)


@dataclass
class SubsidisedConfig:
    """How subsidised housing is provided: new building or public purchase of unsold stock
    (§6.1.1)."""

    allow_new_build: bool = True
    # public cost of building 1 m²; null = money.build_cost_yuan_m2 (the same construction cost)
    build_cost_yuan_m2: Optional[float] = None
    # share of the regional price paid for unsold stock: public purchases for subsidised,
    # resettlement or talent housing (§6.1.1) buy completed homes at prices subsidised rents can
    # carry, well below market (DESIGN); judgement 0.7, range 0.6–0.8
    purchase_price_factor: float = 0.7
    max_purchase_share_of_stock: float = 1.0  # per region-year, of the start-of-year unsold stock
    # 万m² of subsidised floor area per ha of land it uses; null = the region's plot ratio
    plot_ratio: Optional[float] = None

    def __post_init__(self) -> None:
        _at_least("subsidised.build_cost_yuan_m2", self.build_cost_yuan_m2, 0.0)
        _at_least("subsidised.plot_ratio", self.plot_ratio, 0.0, strict=True)
        _at_least("subsidised.purchase_price_factor", self.purchase_price_factor, 0.0)
        _share("subsidised.max_purchase_share_of_stock", self.max_purchase_share_of_stock)


@dataclass
class MoneyConfig:
    """Prices and shares behind the money accounts (以房定钱, §9.4)."""

    # land value by the residual method (docs/formulation.md §3.5): what a developer can pay per
    # m² of floor area = price × (1 − taxes − margin) − construction cost, never below 0
    build_cost_yuan_m2: float = 3000.0  # construction and development cost; judgement 2500–3500
    # VAT and surcharges on sales plus the land appreciation tax prepaid; judgement 0.10–0.15
    tax_share_of_price: float = 0.12
    # developer's margin with financing and selling costs; judgement 0.08–0.15
    margin_share_of_price: float = 0.12
    dev_finance_share: float = 0.30  # development loans as a share of sales value
    price_by_region_yuan_m2: Dict[str, float] = field(default_factory=dict)  # overrides
    # removed key: land value now follows the residual method above
    land_value_share: Optional[Any] = None

    def __post_init__(self) -> None:
        _removed("money", self, {"land_value_share": "land value now follows the residual method: "
                                 "money.build_cost_yuan_m2, money.tax_share_of_price, "
                                 "money.margin_share_of_price (docs/formulation.md §3.5)"})
        _at_least("money.build_cost_yuan_m2", self.build_cost_yuan_m2, 0.0)
        _share("money.tax_share_of_price", self.tax_share_of_price)
        _share("money.margin_share_of_price", self.margin_share_of_price)
        _share("money.dev_finance_share", self.dev_finance_share)
        for region, value in self.price_by_region_yuan_m2.items():
            _at_least(f"money.price_by_region_yuan_m2.{region}", value, 0.0, strict=True)


@dataclass
class ObjectiveConfig:
    """Weights of the objective, in objective points per unit (1 point = 1 亿元 of public money)."""

    unmet_demand_per_10k_m2: float = 10.0
    # per region-year, stock above band_high / below band_low months of sales
    inventory_above_band_per_10k_m2: float = 0.05
    inventory_below_band_per_10k_m2: float = 0.05
    # per region-year of unsold stock (a tie-break: supply just in time)
    inventory_holding_per_10k_m2: float = 0.001
    land_per_ha: float = 0.001
    public_money_per_100m_yuan: float = 1.0
    band_low_months: Optional[float] = None  # null = facts cycle_band_low_months (12, §2.4.1)
    band_high_months: Optional[float] = None  # null = facts cycle_band_high_months (18, §2.4.1)
    # the stock the plan aims to hold, months of sales: null = the band's middle (15). Per
    # region-year, each 万m² of stock short of the aim costs aim_below (the safety margin lost),
    # each 万m² above it aim_above (kept below a public purchase's cost spread over the plan, so
    # public money is never spent just to reach the aim); docs/formulation.md §7
    aim_cycle_months: Optional[float] = None
    aim_below_per_10k_m2: float = 0.5
    aim_above_per_10k_m2: float = 0.05

    def __post_init__(self) -> None:
        for f in fields(self):
            _at_least(f"objective.{f.name}", getattr(self, f.name), 0.0)
        if self.aim_cycle_months is not None:
            low = 0.0 if self.band_low_months is None else self.band_low_months
            if self.aim_cycle_months < low or (
                self.band_high_months is not None and self.aim_cycle_months > self.band_high_months
            ):
                raise ConfigError(
                    f"objective.aim_cycle_months = {self.aim_cycle_months} is outside the band "
                    f"objective.band_low_months–band_high_months; expected an aim inside it"
                )
        if (
            self.band_low_months is not None
            and self.band_high_months is not None
            and self.band_low_months > self.band_high_months
        ):
            raise ConfigError(
                f"objective.band_low_months = {self.band_low_months} is above "
                f"objective.band_high_months = {self.band_high_months}"
            )


@dataclass
class RampConfig:
    """A realistic pace (docs/formulation.md §5.3): presale may change by at most
    ``presale_change_share`` from one year to the next (the first year against the base year's
    presale), and land sold per region and year is at most ``land_multiple_of_history`` × the
    most land the region sold in one of the history years (表21: what developers showed they
    would take up there).

    Defaults: ±40% a year (the largest year-on-year move in the plan's history: new-home sales
    fell from about 306 万m² a year in 2021–23 to 183 in 2024; range 0.2–0.5) and a quarter above
    the best history year (land offered is not land sold: 2025 sold 16.92 ha against 87 a year in
    2021–24; at 1.0 the main city's best year, 43.11 ha, cannot carry even the 2025 sales rate,
    about 48.6 ha a year at its plot ratio; range 1.0–1.5). Soft by default: each 万m² of presale beyond the ramp costs 5 points,
    more than a year of stock short of the aim (0.5) so the pace holds unless a stock-out or unmet
    demand (10 per 万m²) would follow; each ha of land beyond the take-up cap costs 5 (about 2.5
    per 万m² of floor area, more than holding the aim for four years), so land offered beyond
    what developers have taken up is a last resort, not a way to build stock. Breaches are listed in targets.csv."""

    mode: str = "soft"  # hard | soft | off
    # where presale is paced: plan = the city and the main city (the base-year presale is printed
    # for both, §2.2.1.1); region = each region; both
    presale_scope: str = "plan"
    presale_change_share: float = 0.4
    land_multiple_of_history: float = 1.25
    presale_penalty_per_10k_m2: float = 5.0
    land_penalty_per_ha: float = 5.0

    def __post_init__(self) -> None:
        _one_of("ramp.mode", self.mode, MODES)
        _one_of("ramp.presale_scope", self.presale_scope, ("plan", "region", "both"))
        _share("ramp.presale_change_share", self.presale_change_share)
        _at_least("ramp.land_multiple_of_history", self.land_multiple_of_history, 0.0)
        _at_least("ramp.presale_penalty_per_10k_m2", self.presale_penalty_per_10k_m2, 0.0)
        _at_least("ramp.land_penalty_per_ha", self.land_penalty_per_ha, 0.0)


@dataclass
class TerminalConfig:
    """Nothing ends at the last plan year (docs/formulation.md §5.4): the land sold by then must
    make ready, for the following year, at least ``feed_share`` × the last year's demand (region by
    region, under the timing model). The stock band at the end is the ``targets.cycle`` and
    ``targets.cycle_floor`` rows."""

    mode: str = "soft"  # hard | soft | off
    feed_share: float = 1.0  # of the last year's demand; judgement 0.8–1.0
    penalty_per_10k_m2: float = 1.0

    def __post_init__(self) -> None:
        _one_of("terminal.mode", self.mode, MODES)
        _at_least("terminal.feed_share", self.feed_share, 0.0)
        _at_least("terminal.penalty_per_10k_m2", self.penalty_per_10k_m2, 0.0)


@dataclass
class SolverConfig:
    """HiGHS options. Only model/solve.py reads these."""

    name: str = "highs"
    time_limit_s: float = 60.0  # per solve: each re-solve of a built model gets its own (model.solve.run_within)
    mip_rel_gap: float = 1e-6
    duals: bool = True  # shadow prices and ranging (LP with binaries fixed)
    relaxation: bool = True  # on infeasible hard targets, compute the relaxation table
    write_mps: bool = False  # also write the model HiGHS solved as model.mps in the run dir
    options: Dict[str, Any] = field(default_factory=dict)  # passed to HiGHS as is

    def __post_init__(self) -> None:
        _one_of("solver.name", self.name, ("highs",))
        _at_least("solver.time_limit_s", self.time_limit_s, 0.0, strict=True)
        _at_least("solver.mip_rel_gap", self.mip_rel_gap, 0.0)


@dataclass
class SimConfig:
    """The market replay (model/market.py). Read by the replay; the optimiser ignores it."""

    enabled: bool = True
    replications: int = 200
    seed: int = 20260101
    deterministic: bool = False
    seasonality: List[float] = field(default_factory=lambda: list(DEFAULT_SEASONALITY))
    # d ln(new-home demand) / d(−ln price index): > 0 falling prices draw buyers (absorbing),
    # < 0 falling prices deter them (买涨不买跌, as in 2021–25: prices and sales fell together),
    # 0 no feedback (default); documented range −1 to +1 (docs/replay.md "Price response")
    price_response: float = 0.0
    # sd of the persistent log demand level (one draw per replication for the horizon):
    # judgement 0.10, range 0–0.2; the level's deep uncertainty is the named demand cases
    demand_level_sd: float = 0.10
    # removed keys (one line says what replaced them)
    price_elasticity: Optional[Any] = None
    price_sensitivity: Optional[Any] = None
    shock_sd: float = 0.10
    shock_correlation: float = 0.5
    shock_persistence: float = 0.6
    # removed keys (one line says what replaced them): the lag is timing.lag_months_*
    lag_months_mean: Optional[Any] = None
    lag_months_sd: Optional[Any] = None
    # null = the optimiser's land.rule (the same rule in both stages); national or strict to differ
    land_rule: Optional[str] = None
    mid_year_review: bool = False
    # null = enforce the land rule on the simulated cycle, except when the plan is only evaluated
    # (evaluate_only, as plan_as_written): then the city follows the plan and verdicts are recorded
    enforce_land_rule: Optional[bool] = None
    # null = presale waits for floor area the timing model has made ready (land sold + the
    # opening pipeline), except when the plan is only evaluated (plan_as_written): then presale
    # follows the plan's schedule and the shortfall is recorded (deliverability.csv)
    enforce_presale_timing: Optional[bool] = None
    # while stock is below the plan's aim (objective.aim_cycle_months) developers presell ready
    # floor area ahead of the schedule, and later presale is reduced by as much: the schedule is
    # guidance (指引), ready floor area is what limits presale (docs/replay.md)
    presell_to_aim: bool = True

    def __post_init__(self) -> None:
        _at_least("sim.replications", self.replications, 1)
        if len(self.seasonality) != 12:
            raise ConfigError(
                f"sim.seasonality has {len(self.seasonality)} values; expected 12 "
                f"monthly weights with mean 1"
            )
        mean = sum(self.seasonality) / 12
        if abs(mean - 1.0) > 1e-6 or min(self.seasonality) < 0:
            raise ConfigError(
                f"sim.seasonality has mean {mean:.4f}; expected 12 non-negative "
                f"weights with mean 1"
            )
        _at_least("sim.shock_sd", self.shock_sd, 0.0)
        if not 0.0 <= self.shock_correlation <= 1.0:
            raise ConfigError(
                f"sim.shock_correlation = {self.shock_correlation} is not valid; "
                f"expected a number in [0, 1] (one correlation shared by every pair of regions)"
            )
        if not 0.0 <= self.shock_persistence < 1.0:
            raise ConfigError(
                f"sim.shock_persistence = {self.shock_persistence} is not valid; "
                f"expected a number in [0, 1)"
            )
        _removed("sim", self, REMOVED_SIM_KEYS)
        if self.land_rule is not None:
            self.land_rule = LAND_RULE_ALIASES.get(str(self.land_rule), str(self.land_rule))
            _one_of("sim.land_rule", self.land_rule, ("national", "strict"))


UNCERTAINTY_CASES = ("run", "plan", "sales_base", "sales_base_decline", "csv")


@dataclass
class UncertaintyConfig:
    """How likely the plan is to hold (model/uncertainty.py, docs/uncertainty.md): every demand
    case × price behaviour replayed, never one blended number, and the break-even values."""

    enabled: bool = True
    # run: the run's own demand; plan: 表31; sales_base: the 2025 rate 表19 implies, flat;
    # sales_base_decline: that rate −3% a year; csv: uncertainty.demand_csv
    demand_cases: List[str] = field(
        default_factory=lambda: ["run", "plan", "sales_base", "sales_base_decline"])
    decline_per_year: float = 0.03
    demand_csv: Optional[str] = None
    # name → sim.price_response: deterring (买涨不买跌, as prices and sales fell together in
    # 2021–25), none, absorbing (cheaper homes draw buyers); docs/replay.md for the range
    price_behaviours: Dict[str, float] = field(
        default_factory=lambda: {"deterring": -0.5, "none": 0.0, "absorbing": 0.5})
    replications: Optional[int] = None  # null = sim.replications
    # the run's own cell again at these spreads of the persistent demand level (sd of its log;
    # sim.demand_level_sd is the default): 0 = monthly shocks only, 0.2 ≈ the 2024–25 swings
    demand_level_sds: List[float] = field(default_factory=lambda: [0.0, 0.05, 0.1, 0.2])
    breakeven: bool = True
    # replays per break-even evaluation; null = the table's (same seed: the figures at the
    # default are the table's own cell)
    breakeven_replications: Optional[int] = None
    price_response_range: List[float] = field(default_factory=lambda: [-1.5, 1.5])
    demand_multiple_range: List[float] = field(default_factory=lambda: [0.4, 2.0])

    def __post_init__(self) -> None:
        self.demand_cases = [YEAR_ALIASES.get(str(c), str(c)) for c in self.demand_cases]
        for case in self.demand_cases:
            _one_of("uncertainty.demand_cases", case, UNCERTAINTY_CASES)
        if not self.demand_cases:
            raise ConfigError("uncertainty.demand_cases is empty; expected at least one of: "
                              + ", ".join(UNCERTAINTY_CASES))
        _share("uncertainty.decline_per_year", self.decline_per_year)
        for name, value in self.price_behaviours.items():
            if not _is_number(value) or not -3 <= value <= 3:
                raise ConfigError(f"uncertainty.price_behaviours.{name} = {value!r} is not "
                                  f"valid; expected a number in [-3, 3]")
        if not self.price_behaviours:
            raise ConfigError("uncertainty.price_behaviours is empty; expected at least one "
                              "name: coefficient")
        _at_least("uncertainty.replications", self.replications, 1)
        _at_least("uncertainty.breakeven_replications", self.breakeven_replications, 1)
        for sd in self.demand_level_sds:
            if not _is_number(sd) or not 0 <= sd <= 1:
                raise ConfigError(f"uncertainty.demand_level_sds: {sd!r} is not valid; expected "
                                  f"numbers in [0, 1] (sd of the log demand level)")
        for key in ("price_response_range", "demand_multiple_range"):
            pair = list(getattr(self, key))
            if len(pair) != 2 or not all(_is_number(v) for v in pair) or pair[0] >= pair[1]:
                raise ConfigError(f"uncertainty.{key} = {pair!r} is not valid; expected [low, "
                                  f"high] with low < high")
        if self.demand_multiple_range[0] <= 0:
            raise ConfigError(f"uncertainty.demand_multiple_range = "
                              f"{list(self.demand_multiple_range)!r}; expected low > 0")


REVIEW_FUTURE_DEMAND = ("forecast", "observed_ratio")


@dataclass
class ReviewConfig:
    """The mid-term review (§10.2; model/review.py, docs/review.md): fix the observed years to the
    actuals, re-plan the rest, and test candidate target adjustments.

    A candidate is a name and a list of ``key=value`` overrides written as on the command line
    (``targets.cycle_months_end=21``); ``combinations`` names candidates evaluated together
    (``cycle_21+land_minus_20``). Every candidate runs with the target groups in ``hard`` made
    hard, so "feasible" means all of them hold together."""

    enabled: bool = False  # fix the observed years to review.actuals and re-plan the rest
    # actuals CSV (format: scenarios/SCHEMA.yaml, actuals); null = the shipped worked example
    actuals: Optional[str] = None
    # the plan the city adopted, the review's baseline: null = the plan as written (表45 presale,
    # 表48 land); a CSV of land and presale by region and year (a run's plan.csv works)
    original: Optional[str] = None
    # demand for the years still to plan: forecast (表31 as is) | observed_ratio (表31 × each
    # region's observed sales ÷ forecast demand over the observed years)
    future_demand: str = "forecast"
    # the original plan's decisions for the remaining years, replayed from the observed state
    # ("the current course"), is evaluated beside the re-plan
    current_course: bool = True
    adjust: bool = False  # evaluate the candidates (adjustments.csv, adjustments.png)
    hard: List[str] = field(
        default_factory=lambda: ["cycle", "land_total", "supply_total", "subsidised"]
    )  # target groups enforced as hard constraints when a candidate is tested
    candidates: Dict[str, List[str]] = field(default_factory=dict)  # name → key=value overrides
    combinations: List[str] = field(default_factory=list)  # "a+b": candidates a and b together
    workers: int = 2  # parallel processes (joblib) for the candidates; 1 = in process
    replications: Optional[int] = None  # replay replications per candidate; null = sim's

    def __post_init__(self) -> None:
        _one_of("review.future_demand", self.future_demand, REVIEW_FUTURE_DEMAND)
        _at_least("review.workers", self.workers, 1)
        _at_least("review.replications", self.replications, 1)
        groups = [f.name for f in fields(TargetsConfig) if f.type in ("TargetMode", TargetMode)]
        for g in self.hard:
            _one_of("review.hard", g, tuple(groups))
        for name, overrides in self.candidates.items():
            if not name or "+" in name or "/" in name:
                raise ConfigError(
                    f"review.candidates.{name}: a candidate name must be non-empty, without '+' "
                    f"or '/'"
                )
            for item in overrides:
                if "=" not in str(item):
                    raise ConfigError(
                        f"review.candidates.{name}: {item!r} is not an override; expected "
                        f"key=value, e.g. targets.cycle_months_end=21"
                    )
        for combo in self.combinations:
            parts = combo.split("+")
            unknown = [p for p in parts if p not in self.candidates]
            if len(parts) < 2 or unknown:
                raise ConfigError(
                    f"review.combinations: {combo!r} must join two or more candidate names with "
                    f"'+'" + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                )


ROBUST_RISKS = ("cvar", "chance", "expected")
ROBUST_PRESALE = ("schedule", "recourse")
ROBUST_BINARIES = ("subsample", "full")


@dataclass
class RobustConfig:
    """A plan built to hold (``+scenario=robust``; model/robust/, docs/robust.md): a two-stage
    stochastic programme over scenarios sampled from the uncertainty every run measures — the
    demand cases and price behaviours of ``uncertainty.*``, the persistent demand level of
    ``sim.demand_level_sd`` and the land → presale lag — solved as one extensive form by HiGHS,
    then checked out of sample in the replay against the deterministic plan.

    First stage (the plan): land, public purchases, subsidised building and the presale
    schedule, by region and year; second stage (each scenario): presale beyond the schedule,
    sales, unmet demand, stock. The risk term is on the months by which the last plan year's
    cycle misses the band (12–18, §2.4.1) or the 18-month goal (第五章), city and main city."""

    enabled: bool = False
    scenarios: int = 100  # sampled scenarios in the extensive form (benchmarks: 50–400)
    seed: int = 20260418  # the in-sample scenarios' draws (demand level, case, behaviour, lag)
    # cvar: expected cost + cvar_weight × CVaR_alpha(months outside the band) (an LP in the
    # scenarios; the default); chance: expected cost subject to P(in band) ≥ chance_alpha, one
    # binary per scenario; expected: expected cost only (risk-neutral)
    risk: str = "cvar"
    cvar_alpha: float = 0.8  # the tail: CVaR is the mean loss of the worst 1 − alpha of scenarios
    cvar_weight: float = 50.0  # objective points per month of CVaR (1 point = 1 亿元)
    chance_alpha: float = 0.8  # risk=chance: P(last-year cycle in the band) at least this
    # the expected cost's price of a 万m² of stock outside the band at the end of the plan, either
    # side (city and main city; replaces targets.cycle.penalty and targets.cycle_floor.penalty
    # for the last year's rows): the floor's 5. The deterministic 100 above the 18-month goal,
    # ten times a 万m² of unmet demand, would make the plan turn buyers away in strong-demand
    # scenarios to avoid overshooting in weak ones (docs/robust.md §4)
    band_penalty_per_10k_m2: float = 5.0
    # recourse: presale in each scenario is free up to what the plan's land has made ready
    # (developers hold ready floor area back in a weak market, as in 2025, and presell it when
    # buyers come); plan.csv's presale is the scenarios' mean. schedule: a first-stage schedule
    # presale may run ahead of but never below, with the same five-year total (the replay's
    # developers' rule); out of sample it holds less often (docs/robust.md §7)
    presale: str = "recourse"
    # the land → presale lag mean (timing.lag_months_mean), sampled uniformly and rounded to the
    # month: docs/timing.md's documented range, as conf/sensitivity/default.yaml samples it
    lag_months_mean_range: List[float] = field(default_factory=lambda: [9.0, 18.0])
    # the land rule's binaries (first stage, 88 for Chifeng): subsample — from the extensive
    # form's MILP over binary_scenarios scenarios spanning the demand range, then the whole
    # extensive form as an LP with them fixed (benchmarks/README.md: within 0.2% of the full MILP
    # at 50 scenarios); full — the whole extensive form as one MILP (exact, slow beyond ~50)
    binaries: str = "subsample"
    binary_scenarios: int = 10
    # the out-of-sample check: both plans replayed with check_seed (never the sample's seed)
    # over every demand case × price behaviour × check_lag_points lag means in the range
    check: bool = True
    check_seed: int = 20260907
    check_replications: int = 100
    check_lag_points: int = 3

    def __post_init__(self) -> None:
        _one_of("robust.risk", self.risk, ROBUST_RISKS)
        _one_of("robust.presale", self.presale, ROBUST_PRESALE)
        _one_of("robust.binaries", self.binaries, ROBUST_BINARIES)
        _at_least("robust.binary_scenarios", self.binary_scenarios, 1)
        _at_least("robust.scenarios", self.scenarios, 1)
        _at_least("robust.check_replications", self.check_replications, 1)
        _at_least("robust.check_lag_points", self.check_lag_points, 1)
        _at_least("robust.cvar_weight", self.cvar_weight, 0.0)
        _at_least("robust.band_penalty_per_10k_m2", self.band_penalty_per_10k_m2, 0.0)
        for key in ("cvar_alpha", "chance_alpha"):
            value = getattr(self, key)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"robust.{key} = {value!r} is not valid; expected a share in "
                                  f"[0, 1) (0.8 = the worst 20% of scenarios)")
        pair = list(self.lag_months_mean_range)
        if len(pair) != 2 or not all(_is_number(v) for v in pair) or not 0 <= pair[0] <= pair[1]:
            raise ConfigError(f"robust.lag_months_mean_range = {pair!r} is not valid; expected "
                              f"[low, high] months with 0 <= low <= high")
        if self.check and self.check_seed == self.seed:
            raise ConfigError(f"robust.check_seed = {self.check_seed} equals robust.seed; the "
                              f"out-of-sample check needs a different seed")


REPORT_LANGS = ("zh", "en")


@dataclass
class ReportConfig:
    """What the reports a run writes look like (model/labels.py)."""

    # zh | en: names, units (万㎡, 公顷, 个月, 亿元) and headings of plan.xlsx and the reports;
    # null = the dataset manifest's `lang` (zh for Chifeng), en when the manifest has none
    lang: Optional[str] = None

    def __post_init__(self) -> None:
        if self.lang is not None:
            _one_of("report.lang", self.lang, REPORT_LANGS)


@dataclass
class RunConfig:
    """The whole run: dataset, geography, every lever of the optimiser, solver and replay."""

    dataset: Optional[str] = None  # dataset folder; null = the bundled scenarios/chifeng
    level: str = "region"  # region: 11 planning regions; district: main city as 8 districts
    scenario: str = "default"  # names the run directory runs/<scenario>/<timestamp>
    evaluate_only: bool = False  # report every target and rule, enforce none (plan_as_written)
    fixed_plan: str = "none"  # none | guidance (表45/表48 rows) | path to a CSV of land & supply
    demand: DemandConfig = field(default_factory=DemandConfig)
    guidance: GuidanceConfig = field(default_factory=GuidanceConfig)
    land: LandConfig = field(default_factory=LandConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    targets: TargetsConfig = field(default_factory=TargetsConfig)
    vacancy: VacancyConfig = field(default_factory=VacancyConfig)
    subsidised: SubsidisedConfig = field(default_factory=SubsidisedConfig)
    money: MoneyConfig = field(default_factory=MoneyConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    ramp: RampConfig = field(default_factory=RampConfig)
    terminal: TerminalConfig = field(default_factory=TerminalConfig)
    solver: SolverConfig = field(default_factory=SolverConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)  # the mid-term review (§10.2)
    robust: RobustConfig = field(default_factory=RobustConfig)  # a plan built to hold (robust)
    report: ReportConfig = field(default_factory=ReportConfig)  # report language (zh|en)

    def __post_init__(self) -> None:
        _one_of("level", self.level, LEVELS)
        if not self.scenario or "/" in self.scenario:
            raise ConfigError(
                f"scenario = {self.scenario!r} is not valid; expected a name "
                f"without '/' (it names the run directory)"
            )


def register_configs() -> None:
    """Register the schema so that conf/config.yaml can name ``base_config`` as its first
    default."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=RunConfig)


register_configs()


def to_settings(cfg: DictConfig | RunConfig) -> RunConfig:
    """The composed config as checked dataclass instances; raise ConfigError (one line) if
    invalid."""
    if isinstance(cfg, RunConfig):
        return cfg
    unknown = _unknown_keys(cfg, RunConfig)
    if unknown:
        raise ConfigError(
            f"unknown config key {unknown[0]!r} (a '+key=value' override adds keys the "
            f"schema does not have; see model/config.py for the valid keys)"
        )
    try:
        obj = OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except OmegaConfBaseException as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConfigError):
            raise cause from None
        raise ConfigError(str(exc).splitlines()[0]) from None
    if not isinstance(obj, RunConfig):
        raise ConfigError(
            "the composed config is not a RunConfig; compose it from conf/config.yaml"
        )
    problems = number_problems(obj)
    if problems:
        raise ConfigError(problems)
    return obj


def number_problems(obj: Any, prefix: str = "") -> list[str]:
    """Every number in a config that is not finite or is absurdly large, one line each.

    Generic: it walks the dataclasses, so it covers every float field, every value of a Dict
    field and every item of a List field, whatever groups and keys the schema has. The
    per-field ranges stay in each group's ``__post_init__`` (NaN passes those comparisons
    silently, which is why this walk exists)."""
    out: list[str] = []
    if is_dataclass(obj):
        for f in fields(obj):
            out += number_problems(getattr(obj, f.name), f"{prefix}.{f.name}" if prefix else f.name)
        return out
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            out += number_problems(value, f"{prefix}.{key}")
        return out
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            out += number_problems(value, f"{prefix}[{i}]")
        if len(out) > 1:  # one line per list, not one per item
            out = [f"{out[0]} (and {len(out) - 1} more items of {prefix})"]
        return out
    if isinstance(obj, float) and not (math.isfinite(obj) and abs(obj) <= MAX_ABS_NUMBER):
        kind = "not a finite number" if not math.isfinite(obj) else "absurdly large"
        out.append(f"{prefix} = {obj!r} is not valid ({kind}); expected a finite number of "
                   f"magnitude at most {MAX_ABS_NUMBER:g}")
    return out


def _unknown_keys(node: Any, schema: type, prefix: str = "") -> list[str]:
    """Keys in a composed config that the dataclass schema does not declare (added with '+')."""
    if not isinstance(node, DictConfig):
        return []
    declared = {f.name: f for f in fields(schema)}
    out = []
    for key in node.keys():
        if key not in declared:
            out.append(f"{prefix}{key}")
            continue
        child_type = _dataclass_type(schema, key)
        if child_type is not None:
            out += _unknown_keys(node[key], child_type, f"{prefix}{key}.")
    return out


def _dataclass_type(schema: type, name: str) -> type | None:
    default = next(f for f in fields(schema) if f.name == name)
    if default.default_factory is not MISSING_FACTORY:  # type: ignore[comparison-overlap]
        value = default.default_factory()
        return type(value) if is_dataclass(value) else None
    return None


def with_overrides(settings: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """``settings`` with dotted overrides applied and checked, without Hydra:
    ``with_overrides(s, {"demand.multiplier": 0.9, "targets.cycle.mode": "hard"})``."""
    node = OmegaConf.structured(settings)
    for key, value in overrides.items():
        try:
            OmegaConf.update(node, key, value, merge=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"{key}: {str(exc).splitlines()[0]}") from None
    return to_settings(node)


def fast_overrides(settings: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """:func:`with_overrides` without re-creating OmegaConf structured configs: each dotted key
    replaces one scalar field with ``dataclasses.replace`` along its path, so every group's
    ``__post_init__`` checks run as usual. A key it cannot handle this way (a map or list field, a
    field now null, a value of another type) goes through :func:`with_overrides` — the same
    result, the slow way. Used by sweeps and the sensitivity analysis (thousands of calls)."""

    out = settings
    for key, value in overrides.items():
        parts = str(key).split(".")
        try:
            out = _replace_path(out, parts, value)
        except _NotScalar:
            return with_overrides(settings, overrides)
    return out


class _NotScalar(Exception):
    """A key :func:`fast_overrides` leaves to OmegaConf."""


def _replace_path(node: Any, parts: list[str], value: Any) -> Any:
    import dataclasses

    name = parts[0]
    if not is_dataclass(node) or name not in {f.name for f in fields(node)}:
        raise _NotScalar(name)
    current = getattr(node, name)
    if len(parts) > 1:
        return dataclasses.replace(node, **{name: _replace_path(current, parts[1:], value)})
    if current is None:
        kind = str(next(f.type for f in fields(node) if f.name == name))
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if numeric and kind in ("Optional[float]", "Optional[Any]"):
            return dataclasses.replace(node, **{name: float(value)})
        raise _NotScalar(name)
    if isinstance(current, bool) or isinstance(value, bool):
        if not (isinstance(current, bool) and isinstance(value, bool)):
            raise _NotScalar(name)
    elif isinstance(current, float) and isinstance(value, (int, float)):
        value = float(value)
    elif isinstance(current, int) and isinstance(value, (int, float)):
        if float(value) != int(value):
            raise _NotScalar(name)
        value = int(value)
    elif not (isinstance(current, str) and isinstance(value, str)):
        raise _NotScalar(name)
    return dataclasses.replace(node, **{name: value})


def default_settings(**overrides: Any) -> RunConfig:
    """Defaults plus dotted overrides: ``default_settings(**{"demand.multiplier": 0.9})``."""
    return with_overrides(RunConfig(), overrides)


def as_dict(settings: RunConfig) -> dict:
    """A plain dict of the settings (for summary.json), without the older key names kept only to
    accept old command lines (their values have moved to the current keys). dataclasses.asdict
    gives the same dict as an OmegaConf round trip, 200 times faster (it ran once per solve of a
    review)."""
    import dataclasses

    out = dataclasses.asdict(settings)
    for group, key in ALIAS_ONLY_KEYS:
        if isinstance(out.get(group), dict) and out[group].get(key) is None:
            out[group].pop(key, None)
    return out


# (group, key) accepted on the command line for an older name, never set after validation
ALIAS_ONLY_KEYS = tuple(("targets", old) for old in TARGET_ALIASES)
