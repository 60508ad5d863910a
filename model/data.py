"""Dataset folder → checked, immutable inputs for the later stages.

A dataset is a folder of CSV tables plus a ``manifest.yaml`` (see ``scenarios/SCHEMA.yaml`` for
the format). ``load_dataset`` runs every check in this module, collects every failure, and raises
one :class:`DatasetError` listing them all, one line each (file, line, column, value, expected).
No Pyomo, no solver: this module only reads and checks.
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import pandas as pd
import yaml

from model.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIOS_DIR = REPO_ROOT / "scenarios"
DEFAULT_DATASET = SCENARIOS_DIR / "chifeng"
SCHEMA_PATH = SCENARIOS_DIR / "SCHEMA.yaml"

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Old table names → their year-neutral successors; a manifest, a relation or a printed_totals
#: row may use either.
TABLE_ALIASES = {"inventory_2025": "base_inventory",
                 "district_inventory_2025": "district_base_inventory"}
#: Period tokens of SCHEMA.yaml's required facts, resolved against the manifest's years.
#: The three quantities of the base stock table; any two determine the third.
STOCK_COLUMNS = ("inventory_10k_m2", "monthly_sales_10k_m2", "cycle_months")
#: How guidance printed only as city totals is split over the regions.
GUIDANCE_SPLITS = {"base_sales": "each region's share of base-year sales",
                   "base_inventory": "each region's share of base-year unsold stock",
                   "equal": "equal shares"}
PERIOD_RE = re.compile(r"^(\d{4})(?:-(\d{4}))?$")
ALL = "ALL"
# A number as a CSV cell: ASCII digits only (Python's float() also takes full-width digits,
# "inf" and "nan"; a table must not), an optional sign, decimals and exponent.
NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
THOUSANDS_RE = re.compile(r"^[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?$")
#: No cell of a table is larger than this in magnitude (the largest printed figures — dwelling
#: counts, persons, 元/m² — are far below it); larger values only break the solver.
MAX_ABS_CELL = 1e9


class DatasetError(UserError):
    """A dataset that cannot be used; ``problems`` holds one line per failure."""


@dataclass(frozen=True)
class Region:
    region_id: str
    name_zh: str
    level: str
    parent_id: str


@dataclass(frozen=True)
class Target:
    target_id: str
    scope: str
    period: str
    value: float
    unit: str
    sense: str
    kind: str
    source: str


@dataclass(frozen=True)
class Dataset:
    """A validated plan dataset. Tables are handed out as copies, so no stage can alter them."""

    name: str
    root: Path
    manifest: Mapping[str, Any]
    data_hash: str
    city: Region
    main_city_id: str | None          # None: the city has no main city (manifest main_city_id)
    regions: tuple[Region, ...]
    districts: tuple[Region, ...]
    base_year: int
    history_years: tuple[int, ...]
    plan_years: tuple[int, ...]
    _tables: Mapping[str, pd.DataFrame] = field(repr=False)
    #: How guidance printed only as city totals is split over the regions (GUIDANCE_SPLITS):
    #: the manifest's ``guidance_split``, or the run's ``guidance.split``.
    guidance_split: str = "base_sales"

    # -- generic access -------------------------------------------------------------------
    def has_table(self, name: str) -> bool:
        return TABLE_ALIASES.get(name, name) in self._tables

    def table(self, name: str) -> pd.DataFrame:
        """A fresh copy of a typed table (numbers as floats, years as ints). Old table names
        (``inventory_2025``) name their year-neutral successors (``base_inventory``)."""
        name = TABLE_ALIASES.get(name, name)
        if name not in self._tables:
            raise KeyError(f"dataset {self.name!r} has no table {name!r}")
        return self._tables[name].copy()

    @property
    def has_main_city(self) -> bool:
        """True when the manifest names a main city (主城区) that the districts split."""
        return bool(self.main_city_id)

    def guidance_is_city_total(self, table: str) -> bool:
        """True when a guidance table (supply_guidance, land_guidance) gives only city totals
        per year, to be split over the regions by the run's ``guidance.split`` rule."""
        if table not in self._tables:
            return False
        return set(self._tables[table]["region_id"]) == {self.city.region_id}

    def guidance_weights(self) -> dict[str, float]:
        """region → its share of a city total under :attr:`guidance_split` (sums to 1):
        ``base_sales`` its share of base-year sales (monthly sales), ``base_inventory`` of
        base-year unsold stock, ``equal`` 1 ÷ regions."""
        ids = self.region_ids
        if self.guidance_split == "equal":
            raw = {r: 1.0 for r in ids}
        else:
            col = ("monthly_sales_10k_m2" if self.guidance_split == "base_sales"
                   else "inventory_10k_m2")
            values = self.by_region("base_inventory", col)
            raw = {r: max(float(values.get(r, 0.0)), 0.0) for r in ids}
        total = sum(raw.values())
        return {r: (v / total if total > 0 else 1.0 / len(ids)) for r, v in raw.items()}

    def _guidance(self, table: str, column: str, level: str) -> Mapping[tuple[str, int], float]:
        name = _level_table(table, level)
        if level == "region" and self.guidance_is_city_total(name):
            w = self.guidance_weights()
            city = self.city_total_series(name, column)
            return MappingProxyType({(r, y): v * w[r] for y, v in city.items() for r in w})
        return self.series(name, column)

    def city_total_series(self, table: str, column: str) -> Mapping[int, float]:
        """year → city total of a region-year table: its city rows when it prints only city
        totals, else the sum of its region rows."""
        frame = self._tables[table]
        if self.guidance_is_city_total(table):
            rows = frame
        else:
            rows = frame[frame["region_id"].isin(self.region_ids)]
        return MappingProxyType({int(y): float(v) for y, v in
                                 rows.groupby("year")[column].sum().items()})

    def by_region(self, table: str, column: str) -> Mapping[str, float]:
        frame = self._tables[TABLE_ALIASES.get(table, table)]
        return MappingProxyType(dict(zip(frame["region_id"], frame[column].astype(float))))

    def series(self, table: str, column: str) -> Mapping[tuple[str, int], float]:
        """A (region_id, year) → value mapping of a region-year table (empty if the dataset
        does not have the table: land_sold and demand are optional)."""
        table = TABLE_ALIASES.get(table, table)
        if table not in self._tables:
            return MappingProxyType({})
        frame = self._tables[table]
        keys = zip(frame["region_id"], frame["year"].astype(int))
        return MappingProxyType(dict(zip(keys, frame[column].astype(float))))

    @functools.cached_property
    def _fact_index(self) -> dict[tuple[str, str], list[tuple[str, float]]]:
        """(fact, scope) → [(period, value), …] in file order, built once (facts are looked up
        thousands of times in a sensitivity analysis)."""
        index: dict[tuple[str, str], list[tuple[str, float]]] = {}
        frame = self._tables["facts"]
        for fact, scope, period, value in zip(frame["fact"], frame["scope"], frame["period"],
                                              frame["value"]):
            index.setdefault((str(fact), str(scope)), []).append((str(period), float(value)))
        return index

    def fact_or_none(self, fact: str, scope: str = "city",
                     period: str | int | None = None) -> float | None:
        """One printed figure, or None when the dataset does not print it. Without ``period``:
        the fact's only row; else its plan-period row, its base-year row, or the latest."""
        rows = self._fact_index.get((fact, scope), [])
        if period is not None:
            rows = [r for r in rows if r[0] == str(period)]
        elif len(rows) > 1:
            plan = f"{self.plan_years[0]}-{self.plan_years[-1]}" if self.plan_years else ""
            preferred = [r for r in rows if r[0] in (plan, str(self.base_year))]
            if preferred:
                rows = [next((r for r in preferred if r[0] == plan), preferred[0])]
            else:
                rows = [max(rows, key=lambda r: int(r[0].split("-")[-1]))]
        return rows[0][1] if rows else None

    def fact(self, fact: str, scope: str = "city", period: str | int | None = None) -> float:
        """As :meth:`fact_or_none`, raising KeyError when the figure is not printed."""
        value = self.fact_or_none(fact, scope, period)
        if value is None:
            raise KeyError(f"facts.csv has no fact {fact!r} for scope {scope!r}"
                           + ("" if period is None else f", period {period}"))
        return value

    @functools.cached_property
    def _fact_sources(self) -> dict[tuple[str, str], str]:
        """(fact, scope) → the source column of its first row, built once."""
        frame = self._tables["facts"]
        if "source" not in frame:
            return {}
        index: dict[tuple[str, str], str] = {}
        for fact, scope, source in zip(frame["fact"], frame["scope"], frame["source"]):
            index.setdefault((str(fact), str(scope)), str(source))
        return index

    def fact_source(self, fact: str, scope: str = "city") -> str | None:
        """The source column of a fact's first row (Chifeng's land rule: §2.2.3), or None."""
        return self._fact_sources.get((fact, scope))

    def cite(self, table: str) -> str:
        """How the dataset cites a table (its manifest ``source``: Chifeng's demand is 表31),
        or the table's name when the manifest gives none."""
        entry = (self.manifest.get("tables") or {}).get(TABLE_ALIASES.get(table, table)) or {}
        source = entry.get("source") if isinstance(entry, dict) else None
        return str(source) if source else TABLE_ALIASES.get(table, table)

    def has_fact(self, fact: str, scope: str = "city", period: str | int | None = None) -> bool:
        return self.fact_or_none(fact, scope, period) is not None

    def targets(self) -> tuple[Target, ...]:
        return self._targets

    @functools.cached_property
    def _targets(self) -> tuple[Target, ...]:
        frame = self._tables["targets"]
        return tuple(
            Target(r.target_id, r.scope, r.period, float(r.value), r.unit, r.sense, r.kind, r.source)
            for r in frame.itertuples(index=False)
        )

    def target_name_zh(self, target_id: str, scope: str, period: str) -> str:
        """A target's indicator as printed (targets.csv indicator_zh), or its id."""
        frame = self._tables["targets"]
        hit = frame[(frame["target_id"] == target_id) & (frame["scope"] == scope)
                    & (frame["period"] == period)]
        return str(hit["indicator_zh"].iloc[0]) if len(hit) else target_id

    def target_or_none(self, target_id: str, scope: str = "city") -> Target | None:
        return next((t for t in self.targets() if t.target_id == target_id and t.scope == scope),
                    None)

    def target(self, target_id: str, scope: str = "city") -> Target:
        hit = self.target_or_none(target_id, scope)
        if hit is None:
            raise KeyError(f"targets.csv has no target {target_id!r} for scope {scope!r}")
        return hit

    def name_zh(self, region_id: str) -> str:
        for r in (self.city, *self.regions, *self.districts):
            if r.region_id == region_id:
                return r.name_zh
        return region_id

    # -- the quantities the model uses ----------------------------------------------------
    @property
    def region_ids(self) -> tuple[str, ...]:
        return tuple(r.region_id for r in self.regions)

    @property
    def district_ids(self) -> tuple[str, ...]:
        return tuple(r.region_id for r in self.districts)

    @property
    def has_districts(self) -> bool:
        return self.has_main_city and bool(self.districts) and all(
            self.has_table(t)
            for t in ("district_base_inventory", "district_demand",
                      "district_supply_guidance", "district_land_guidance")
        )

    def inventory_10k_m2(self, level: str = "region") -> Mapping[str, float]:
        """Unsold stock at the end of the base year, 万m² (given, or cycle × monthly sales)."""
        return self.by_region(_level_table("base_inventory", level), "inventory_10k_m2")

    def cycle_months(self, level: str = "region") -> Mapping[str, float]:
        """Destocking cycle at the end of the base year, months (given, or stock ÷ sales)."""
        return self.by_region(_level_table("base_inventory", level), "cycle_months")

    def monthly_sales_10k_m2(self, level: str = "region") -> Mapping[str, float]:
        """Average monthly sales of the base year, 万m² a month (given, or stock ÷ cycle)."""
        return self.by_region(_level_table("base_inventory", level), "monthly_sales_10k_m2")

    def demand_10k_m2(self, level: str = "region") -> Mapping[tuple[str, int], float]:
        return self.series(_level_table("demand", level), "demand_10k_m2")

    def supply_guidance_10k_m2(self, level: str = "region") -> Mapping[tuple[str, int], float]:
        """Presale guidance per (region, year), 万m²; city totals split by guidance_split."""
        return self._guidance("supply_guidance", "supply_10k_m2", level)

    def land_guidance_ha(self, level: str = "region") -> Mapping[tuple[str, int], float]:
        """Land guidance per (region, year), ha; city totals split by guidance_split."""
        return self._guidance("land_guidance", "land_ha", level)

    def land_sold_ha(self) -> Mapping[tuple[str, int], float]:
        return self.series("land_sold", "land_ha")


def _level_table(table: str, level: str) -> str:
    if level not in ("region", "district"):
        raise ValueError(f"level must be 'region' or 'district', got {level!r}")
    return table if level == "region" else f"district_{table}"


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def load_schema(path: Path = SCHEMA_PATH) -> dict:
    """scenarios/SCHEMA.yaml as a dict (a fresh copy; parsed once per file version — parsing
    it for every CSV read cost ~50 ms each, seconds in a mid-term review)."""
    import copy

    path = Path(path)
    stat = path.stat()
    return copy.deepcopy(_parsed_schema(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4)
def _parsed_schema(path: str, _mtime_ns: int, _size: int) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_dataset(folder: str | Path = DEFAULT_DATASET) -> Dataset:
    """Load and check a dataset folder; raise DatasetError listing every failure found."""
    root = Path(folder)
    schema = load_schema()
    problems: list[str] = []
    if not root.is_dir():
        raise DatasetError([f"{root}: dataset folder not found (expected a folder with manifest.yaml and the CSV tables)"])
    manifest = _read_manifest(root, problems)
    if manifest is None:
        raise DatasetError(problems)
    _normalise_table_names(manifest, schema)
    raw = _read_tables(root, manifest, schema, problems)
    years = {
        "plan_years": _year_range(manifest, "plan_years", problems),
        "history_years": _year_range(manifest, "history_years", problems),
    }
    if "land_sold" in raw and "history_years" not in manifest:
        problems.append(f"manifest.yaml: no history_years, but the dataset has a land history "
                        f"({raw['land_sold'][0]}); expected history_years: [first_year, "
                        f"last_year] naming the years it covers")
    _check_manifest_years(manifest, years, problems)
    typed: dict[str, pd.DataFrame] = {}
    for name, (fname, frame) in raw.items():
        typed[name] = _check_columns_and_types(fname, frame, schema["tables"][name], problems)
    _rename_printed_refs(typed)
    levels = _check_regions(typed.get("regions"), manifest, problems)
    city_id = manifest.get("city_id")
    for name, frame in typed.items():
        check_rows(raw[name][0], frame, schema["tables"][name], levels, years, problems,
                   city_id=city_id)
    for name in ("base_inventory", "district_base_inventory"):
        if name in typed:
            _fill_stock_columns(raw[name][0], typed[name], problems)
    _check_required_facts(typed.get("facts"), schema, problems,
                          manifest.get("base_year"), years["plan_years"])
    _check_printed_refs(raw, typed, problems)
    _check_relations(manifest, typed, schema, problems)
    for name, frame in typed.items():
        _check_stock_cycle(raw[name][0], frame, problems)
    if problems:
        raise DatasetError(problems)
    return _build(root, manifest, typed, levels, years)


def read_csv_checked(path: Path, spec: dict, problems: list[str], label: str | None = None):
    """Read one CSV as text and type it against a schema table spec; None if unreadable."""
    label = label or path.name
    if not path.is_file():
        problems.append(f"{label}: missing file")
        return None
    frame = _read_text_csv(path, label, problems)
    return None if frame is None else _check_columns_and_types(label, frame, spec, problems)


def read_region_year_csv(path: str | Path, spec_name: str, regions: tuple[str, ...],
                         years: tuple[int, ...], key: str,
                         other_years: str = "error") -> dict[str, dict[tuple[str, int], float]]:
    """A user table of values by region and plan year (the fixed plan, a demand CSV) read with
    the dataset's checks: UTF-8 text, typed cells (one line per bad cell: file, line, column,
    value, what is valid), fully blank rows skipped, no duplicate (region, year), every region
    a region of this run, every year a plan year (``other_years="ignore"`` skips other years
    instead), and every region × year present. Returns column → {(region, year): value} for
    each number column present; raises DatasetError listing every problem. ``key`` is the
    config key that named the file (for the messages)."""
    spec = load_schema()[spec_name]
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise DatasetError([f"{key} = {str(path)!r}: file not found"
                            + (" (a folder)" if path.is_dir() else "")])
    problems: list[str] = []
    frame = _read_text_csv(path, label, problems)
    if frame is None:
        raise DatasetError(problems)
    frame = frame.rename(columns={a: b for a, b in (spec.get("aliases") or {}).items()
                                  if b not in frame.columns})
    columns = {c: cs for c, cs in spec["columns"].items()
               if not cs.get("optional") or c in frame.columns}
    if spec.get("extra_columns") == "ignore":
        frame = frame[[c for c in frame.columns if c in columns]]
    typed = _check_columns_and_types(label, frame, {**spec, "columns": columns}, problems)
    if problems:
        raise DatasetError(problems)
    region_col, year_col = spec["key"]
    _check_duplicates(label, typed, spec, problems)
    keep = []
    for i, region, year in zip(typed.index, typed[region_col], typed[year_col]):
        if region not in regions:
            problems.append(f"{label} line {i + 2}, column {region_col}: value {region!r} — "
                            f"expected a region of this run ({', '.join(regions)})")
        if int(year) not in years:
            if other_years == "ignore":
                continue
            problems.append(f"{label} line {i + 2}, column {year_col}: value {year} — "
                            f"expected a plan year in {years[0]}–{years[-1]}")
        keep.append(i)
    typed = typed.loc[keep]
    numbers = [c for c, cs in columns.items() if cs["type"] in ("number", "share")]
    have = set(zip(typed[region_col], typed[year_col].astype(int)))
    gaps = [f"{r}/{y}" for r in regions for y in years if (r, y) not in have]
    if gaps and not problems:
        problems.append(f"{label}: no row for region/year {', '.join(gaps[:5])}"
                        + (f" and {len(gaps) - 5} more" if len(gaps) > 5 else "")
                        + f" (expected one row per region and year {years[0]}–{years[-1]})")
    if problems:
        raise DatasetError(problems)
    return {col: {(str(r), int(y)): float(v)
                  for r, y, v in zip(typed[region_col], typed[year_col], typed[col])}
            for col in numbers}


def read_fixed_plan(path: str, regions, years) -> dict[str, dict]:
    """A plan to evaluate (``fixed_plan=PATH``): region (or region_id), year, land_ha,
    supply_10k_m2 and optionally purchased_10k_m2, subsidised_new_10k_m2 (a previous run's
    plan.csv works); checked as :func:`read_region_year_csv` says."""
    if not Path(path).is_file() and not Path(path).is_dir():
        raise DatasetError([f"fixed_plan = {path!r}: expected 'none', 'guidance' or a CSV file; "
                            f"file not found"])
    return read_region_year_csv(path, "fixed_plan", tuple(regions), tuple(years), "fixed_plan")


def read_demand_csv(path: str | Path, regions, years) -> dict[tuple[str, int], float]:
    """A user demand table (``demand.source=csv demand.csv=PATH``): region_id, year,
    demand_10k_m2, one row per region and plan year (other years are ignored)."""
    return read_region_year_csv(path, "demand_csv", tuple(regions), tuple(years), "demand.csv",
                                other_years="ignore")["demand_10k_m2"]


def check_rows(fname: str, frame: pd.DataFrame, spec: dict, levels: dict[str, str],
               years: dict[str, tuple[int, ...]], problems: list[str],
               city_id: str | None = None) -> None:
    """Row-level checks of one typed table: duplicate keys, region ids, coverage of ids and years."""
    _check_duplicates(fname, frame, spec, problems)
    _check_domains(fname, frame, spec, levels, problems)
    _check_coverage(fname, frame, spec, levels, years, problems, city_id)


def _normalise_table_names(manifest: dict, schema: dict) -> None:
    """Old table names (``inventory_2025``) → their year-neutral names, in the manifest's table
    list and in every relation that names a table (the old names keep working)."""
    tables = manifest.get("tables")
    if isinstance(tables, dict):
        manifest["tables"] = {TABLE_ALIASES.get(k, k): v for k, v in tables.items()}

    def walk(node):
        if isinstance(node, dict):
            return {k: (TABLE_ALIASES.get(v, v) if isinstance(v, str) else walk(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [TABLE_ALIASES.get(v, v) if isinstance(v, str) else walk(v) for v in node]
        return node

    if isinstance(manifest.get("relations"), dict):
        manifest["relations"] = walk(manifest["relations"])


def _rename_printed_refs(typed: dict[str, pd.DataFrame]) -> None:
    """printed_totals / printed_shares rows naming a table by its old name name the new one."""
    for name in ("printed_totals", "printed_shares"):
        frame = typed.get(name)
        if frame is None or "table" not in frame.columns:
            continue
        frame["table"] = frame["table"].map(lambda t: TABLE_ALIASES.get(t, t))
        if "denominator" in frame.columns:
            frame["denominator"] = frame["denominator"].map(_rename_denominator)


def _rename_denominator(value):
    if isinstance(value, str) and ":" in value:
        table, row = value.split(":", 1)
        return f"{TABLE_ALIASES.get(table, table)}:{row}"
    return value


def _fill_stock_columns(fname: str, frame: pd.DataFrame, problems: list[str]) -> None:
    """Any two of stock, monthly sales and cycle give the third (cycle = stock ÷ monthly
    sales); a row with fewer than two, or three that disagree beyond rounding (half a month,
    or 5% of a long cycle), is a problem. Fills the frame in place."""
    if not set(STOCK_COLUMNS) <= set(frame.columns):
        return
    stock, sales, cycle = (frame[c].astype(float).copy() for c in STOCK_COLUMNS)
    for i in frame.index:
        s, m, c = stock[i], sales[i], cycle[i]
        given = [v == v for v in (s, m, c)]
        where = f"{fname} line {i + 2}"  # the file's line, as the column checks number it
        if any(p.startswith((where + ",", where + ":")) for p in problems):
            continue  # a cell of this row is already reported: no follow-on line
        if sum(given) < 2:
            problems.append(f"{where}: region {frame.at[i, 'region_id']!r} gives "
                            f"{sum(given)} of inventory_10k_m2, monthly_sales_10k_m2, "
                            f"cycle_months; expected any two (cycle = stock ÷ monthly sales)")
            continue
        if not given[0]:
            stock[i] = c * m
        elif not given[1]:
            sales[i] = s / c if c > 0 else float("nan")
        elif not given[2]:
            cycle[i] = s / m if m > 0 else (0.0 if s == 0 else float("inf"))
            if m <= 0 < s:
                problems.append(f"{where}, column monthly_sales_10k_m2: value {m:g} — expected "
                                f"monthly sales > 0 for {s:g} 10k_m2 of unsold stock")
        elif m > 0 and abs(s / m - c) > max(0.5, 0.05 * c):
            problems.append(f"{where}, column cycle_months: value {c:g} — the row's stock "
                            f"{s:g} ÷ monthly sales {m:g} gives {s / m:.1f} months; expected "
                            f"the three to agree (or leave one blank)")
    frame["inventory_10k_m2"], frame["monthly_sales_10k_m2"], frame["cycle_months"] = (
        stock, sales, cycle)


def _read_manifest(root: Path, problems: list[str]) -> dict | None:
    path = root / "manifest.yaml"
    if not path.is_file():
        problems.append(f"{path}: missing file (every dataset needs a manifest.yaml; see scenarios/chifeng/manifest.yaml)")
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problems.append(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})")
        return None
    if not isinstance(manifest, dict):
        problems.append(f"{path}: expected a mapping of keys (name, base_year, plan_years, tables, ...)")
        return None
    # history_years (only with a land history) and main_city_id (a city may have none) are
    # optional
    for key in ("name", "base_year", "plan_years", "city_id", "tables"):
        if key not in manifest:
            problems.append(f"{path}: missing key {key!r}")
    if manifest.get("lang") not in (None, "zh", "en"):
        problems.append(f"{path}: lang = {manifest['lang']!r} (expected zh or en, or no lang)")
    cites = manifest.get("citations")
    if cites is not None and not (isinstance(cites, dict) and all(
            isinstance(v, (str, int, float)) for v in cites.values())):
        problems.append(f"{path}: key 'citations' must map roles to how the plan cites them "
                        f"(purchases: §6.1.1)")
        manifest["citations"] = {}
    if not isinstance(manifest.get("tables", {}), dict):
        problems.append(f"{path}: key 'tables' must map table names to {{file: ...}}")
        manifest["tables"] = {}
    return manifest


def _is_year(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1900 <= v <= 2200


def _year_range(manifest: dict, key: str, problems: list[str]) -> tuple[int, ...]:
    value = manifest.get(key)
    if (isinstance(value, list) and len(value) == 2 and all(_is_year(v) for v in value)
            and value[0] <= value[1]):
        return tuple(range(value[0], value[1] + 1))
    if key in manifest:
        why = ("first year after last year" if isinstance(value, list) and len(value) == 2
               and all(_is_year(v) for v in value) else "not two years")
        problems.append(f"manifest.yaml: {key} = {value!r} is not valid ({why}); expected "
                        f"[first_year, last_year] in order, e.g. [2026, 2030]")
    return ()


def _check_manifest_years(manifest: dict, years: dict, problems: list[str]) -> None:
    """base_year is a year; the history ends by it and the plan starts after it."""
    base = manifest.get("base_year")
    if "base_year" in manifest and not _is_year(base):
        problems.append(f"manifest.yaml: base_year = {base!r} is not valid; expected a year "
                        f"like 2025 (the year of the stock in inventory_2025.csv)")
        return
    plan, history = years.get("plan_years"), years.get("history_years")
    if _is_year(base) and plan and plan[0] <= base:
        problems.append(f"manifest.yaml: plan_years start in {plan[0]}, not after base_year "
                        f"{base}; expected the plan to start in {base + 1} or later")
    if _is_year(base) and history and history[-1] > base:
        problems.append(f"manifest.yaml: history_years end in {history[-1]}, after base_year "
                        f"{base}; expected them to end by {base}")
    for key in ("name", "city_id", "main_city_id"):
        if key in manifest and not isinstance(manifest[key], str):
            problems.append(f"manifest.yaml: {key} = {manifest[key]!r} is not valid; expected "
                            f"text")


def _read_tables(root: Path, manifest: dict, schema: dict, problems: list[str]):
    """Read every table the schema knows as text; report missing files and unknown tables."""
    listed = manifest.get("tables", {}) or {}
    for name in listed:
        if name not in schema["tables"]:
            problems.append(f"manifest.yaml: table {name!r} is not in scenarios/SCHEMA.yaml "
                            f"(known: {', '.join(schema['tables'])})")
    out = {}
    for name, spec in schema["tables"].items():
        entry = listed.get(name) or {}
        fname = entry.get("file", f"{name}.csv") if isinstance(entry, dict) else f"{name}.csv"
        if not isinstance(fname, str) or not fname:
            problems.append(f"manifest.yaml: tables.{name}.file = {fname!r} is not valid; "
                            f"expected a file name like {name}.csv")
            continue
        path = root / fname
        if not path.is_file() and name not in listed:  # an old default file name still works
            for old in (a for a, new in TABLE_ALIASES.items() if new == name):
                if (root / f"{old}.csv").is_file():
                    fname, path = f"{old}.csv", root / f"{old}.csv"
        if not path.is_file():
            if spec.get("required"):
                problems.append(f"{fname}: missing file (required table {name!r}: {spec['meaning']})")
            elif name in listed:
                problems.append(f"{fname}: missing file (manifest.yaml lists table {name!r}; "
                                f"remove it from the manifest or add the file)")
            continue
        frame = _read_text_csv(path, fname, problems)
        if frame is not None:
            out[name] = (fname, frame)
    return out


def _read_text_csv(path: Path, label: str, problems: list[str]) -> pd.DataFrame | None:
    """Every cell as stripped text (typing happens against the schema afterwards).

    Fully blank rows (``,,,,`` — what spreadsheets write below a table) are skipped; the frame's
    index stays the row's position in the file, so ``index + 2`` is its line number."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(f"{label}: cannot be read ({exc.strerror or exc})")
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        hint = ""
        try:
            raw.decode("gb18030")
            hint = " — it looks like a GBK/GB18030 file: save it as 'CSV UTF-8' in Excel"
        except UnicodeDecodeError:
            pass
        problems.append(f"{label}: cannot be read as a UTF-8 CSV (line {line}: byte "
                        f"0x{raw[exc.start]:02x} is not UTF-8){hint}")
        return None
    if not raw.strip(b" \t\r\n,\xef\xbb\xbf"):
        problems.append(f"{label}: the file is empty (expected a header row and data rows)")
        return None
    too_wide = _rows_wider_than_header(raw.decode("utf-8-sig"))
    if too_wide:
        line, fields, width = too_wide
        problems.append(f"{label} line {line}: {fields} fields where the header has {width} — "
                        f"cannot be read as a UTF-8 CSV (a comma inside a value? write numbers "
                        f"without thousands separators, quote text that has commas)")
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                            skipinitialspace=True, skip_blank_lines=False, index_col=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        problems.append(f"{label}: cannot be read as a UTF-8 CSV ({str(exc).splitlines()[0]})")
        return None
    frame = frame.apply(lambda col: col.str.strip())
    frame.columns = [str(c).strip() for c in frame.columns]
    blank = (frame == "").all(axis=1) if len(frame.columns) else pd.Series(dtype=bool)
    return frame[~blank]


def _rows_wider_than_header(text: str) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first row with more non-empty fields than the
    header (pandas would silently take its first field as an index), or None."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header:
            return None
        width = len(header)
        for row in reader:
            while len(row) > width and not row[-1].strip():
                row = row[:-1]
            if len(row) > width:
                return reader.line_num, len(row), width
    except csv.Error:
        return None  # pandas reports what it cannot read
    return None


def _check_columns_and_types(fname: str, frame: pd.DataFrame, spec: dict, problems: list[str]):
    columns = spec["columns"]
    frame = frame.copy()
    for col in columns:
        if col not in frame.columns:
            if columns[col].get("optional"):
                frame[col] = ""  # an optional column left out: every cell blank
                continue
            problems.append(f"{fname}: missing column {col!r} ({columns[col]['meaning']})")
    for col in frame.columns:
        if col not in columns:
            problems.append(f"{fname}: unexpected column {col!r} (expected: {', '.join(columns)})")
    typed = frame.copy()
    for col, cspec in columns.items():
        if col not in frame.columns:
            continue
        values = []
        for i, raw in zip(frame.index, frame[col]):
            value, expected = _parse_cell(raw, cspec)
            if expected:
                problems.append(f"{fname} line {i + 2}, column {col}: value {raw!r} — expected {expected}")
            values.append(value)
        typed[col] = pd.Series(values, index=frame.index, dtype=object)
        if cspec["type"] in ("number", "share"):
            typed[col] = pd.to_numeric(typed[col], errors="coerce").astype(float)
        elif cspec["type"] in ("year", "count"):
            typed[col] = pd.array(values, dtype="Int64")
    return typed


def _parse_cell(raw: str, cspec: dict):
    """Return (value, None) or (None, 'what was expected')."""
    kind = cspec["type"]
    unit = cspec.get("unit", "")
    if raw == "":
        if cspec.get("nullable") or kind == "text" and cspec.get("nullable", False):
            return None, None
        return None, f"a value (column may not be empty; {cspec['meaning']})"
    if kind == "id":
        return (raw, None) if ID_RE.match(raw) else (None, "a lower-case ASCII id like main_city")
    if kind in ("text", "source"):
        return raw, None
    if kind == "enum":
        values = cspec["values"]
        return (raw, None) if raw in values else (None, f"one of {', '.join(values)}")
    if kind == "period":
        m = PERIOD_RE.match(raw)
        if m and (m.group(2) is None or int(m.group(2)) >= int(m.group(1))):
            return raw, None
        return None, "a year (2025) or a range (2026-2030)"
    if kind in ("year", "count"):
        whole = "a whole number >= 0" if kind == "count" else "a year like 2026"
        if not NUMBER_RE.match(raw):
            return None, _number_hint(raw, whole)
        number = float(raw)
        if not 0 <= number <= MAX_ABS_CELL or number != int(number):
            return None, whole
        if kind == "year" and not 1900 <= number <= 2200:
            return None, "a year like 2026 (1900–2200)"
        return int(number), None
    if not NUMBER_RE.match(raw):
        return None, _number_hint(raw, f"a number in {unit}")
    number = float(raw)
    if not abs(number) <= MAX_ABS_CELL:
        return None, f"a number in {unit} of magnitude at most {MAX_ABS_CELL:g}"
    if kind == "share" and not 0.0 <= number <= 1.0:
        return None, "a share in [0, 1] (48.45% is written 0.4845)"
    if kind == "number" and number < 0 and not cspec.get("signed"):
        return None, f"a non-negative number in {unit}"
    return number, None


def _number_hint(raw: str, expected: str) -> str:
    """What was expected, with the reason a number-like cell is not read as one."""
    if THOUSANDS_RE.match(raw):
        return f"{expected}, without thousands separators ({raw.replace(',', '')})"
    if any(ch.isdecimal() and not ch.isascii() for ch in raw):
        ascii_digits = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch
                               for ch in raw)
        return f"{expected} in ASCII digits ({ascii_digits}, not full-width)"
    if raw.strip().lower().lstrip("+-") in ("inf", "infinity", "nan"):
        return f"{expected} (a finite number)"
    if raw.endswith("%"):
        return f"{expected} (a share is written 0.2, not 20%)"
    return expected


def _check_regions(frame: pd.DataFrame | None, manifest: dict, problems: list[str]) -> dict[str, str]:
    """Map region_id → level; check the geography hangs together."""
    if frame is None or "region_id" not in frame or "level" not in frame:
        return {}
    levels = {rid: lvl for rid, lvl in zip(frame["region_id"], frame["level"]) if rid and lvl}
    city_id, main_id = manifest.get("city_id"), manifest.get("main_city_id")
    cities = [rid for rid, lvl in levels.items() if lvl == "city"]
    if len(cities) != 1:
        problems.append(f"regions.csv: expected exactly one row with level city, found {len(cities)}")
    if city_id and levels.get(city_id) != "city":
        problems.append(f"manifest.yaml: city_id {city_id!r} is not a level-city row of regions.csv")
    if main_id and levels.get(main_id) != "region":
        problems.append(f"manifest.yaml: main_city_id {main_id!r} is not a level-region row of regions.csv")
    split = manifest.get("guidance_split")
    if split is not None and split not in GUIDANCE_SPLITS:
        problems.append(f"manifest.yaml: guidance_split = {split!r} is not valid; expected one "
                        f"of {', '.join(GUIDANCE_SPLITS)}")
    if not main_id and any(lvl == "district" for lvl in levels.values()):
        problems.append("regions.csv: district rows but manifest.yaml names no main_city_id; "
                        "expected main_city_id: the region the districts split")
    if not any(lvl == "region" for lvl in levels.values()):
        problems.append("regions.csv: no row with level region (a dataset needs at least one planning region)")
    if "parent_id" in frame:
        for i, rid, lvl, parent in zip(frame.index, frame["region_id"], frame["level"], frame["parent_id"]):
            want = {"region": city_id, "district": main_id}.get(lvl)
            if want and parent != want:
                problems.append(f"regions.csv line {i + 2}, column parent_id: value {parent!r} — "
                                f"expected {want!r} for a {lvl}")
    return levels


def _check_duplicates(fname: str, frame: pd.DataFrame, spec: dict, problems: list[str]):
    key = [k for k in spec.get("key", []) if k in frame.columns]
    if len(key) != len(spec.get("key", [])) or frame.empty:
        return
    first: dict[tuple, int] = {}
    for i, row in zip(frame.index, frame[key].itertuples(index=False, name=None)):
        if any(v is None or v is pd.NA for v in row):
            continue
        if row in first:
            problems.append(f"{fname} line {i + 2}: duplicate row for {', '.join(key)} = "
                            f"{', '.join(map(str, row))} (first at line {first[row] + 2})")
        else:
            first[row] = i


DOMAIN_LEVELS = {"region": {"region"}, "district": {"district"},
                 "region_or_city": {"region", "city"}, "any": {"city", "region", "district"}}


def _check_domains(fname, frame, spec, levels, problems):
    if not levels:
        return
    for col, cspec in spec["columns"].items():
        domain = cspec.get("domain")
        if not domain or col not in frame.columns:
            continue
        allowed = DOMAIN_LEVELS[domain]
        for i, value in zip(frame.index, frame[col]):
            if value is None or value is pd.NA:
                continue
            if value not in levels:
                valid = sorted(k for k, lvl in levels.items() if lvl in allowed)
                shown = ", ".join(valid[:12]) + (f", … ({len(valid)} in all)"
                                                 if len(valid) > 12 else "")
                problems.append(f"{fname} line {i + 2}, column {col}: value {value!r} — "
                                f"expected a region id from regions.csv: {shown}")
            elif levels[value] not in allowed:
                problems.append(f"{fname} line {i + 2}, column {col}: value {value!r} is a "
                                f"{levels[value]} — expected a {' or '.join(sorted(allowed))}")


def _check_coverage(fname, frame, spec, levels, years, problems, city_id=None):
    level = spec.get("coverage")
    if not level or not levels or "region_id" not in frame.columns:
        return
    if level == "region_or_city_total":
        # guidance printed per region, or only as city totals per year (split by the run)
        ids = set(frame["region_id"])
        if city_id in ids and ids != {city_id}:
            problems.append(f"{fname}: rows for both the city ({city_id!r}) and regions; "
                            f"expected one row per region and year, or city totals only")
            return
        expected_ids = [city_id] if ids == {city_id} else [
            rid for rid, lvl in levels.items() if lvl == "region"]
        level = "city" if ids == {city_id} else "region"
    else:
        expected_ids = [rid for rid, lvl in levels.items() if lvl == level]
    series = next((c.get("series") for c in spec["columns"].values() if c.get("series")), None)
    present = set(frame["region_id"])
    for rid in expected_ids:
        if rid not in present:
            problems.append(f"{fname}: no row for {level} {rid!r} (every {level} in regions.csv needs one)")
    if series and "year" in frame.columns:
        want = years.get(series, ())
        if not want:
            return  # the manifest's years are missing or wrong: reported there
        for rid in expected_ids:
            if rid not in present:
                continue
            have = {int(y) for y in frame.loc[frame["region_id"] == rid, "year"] if y is not pd.NA}
            missing = [y for y in want if y not in have]
            extra = sorted(y for y in have if y not in want)
            if missing:
                problems.append(f"{fname}: column year, {rid}: no row for year "
                                f"{', '.join(map(str, missing))} (expected every year "
                                f"{want[0]}–{want[-1]})")
            for y in extra:
                line = int(frame.index[(frame["region_id"] == rid) & (frame["year"] == y)][0]) + 2
                problems.append(f"{fname} line {line}, column year: value {y} — expected a year "
                                f"in {want[0]}–{want[-1]}")


def period_label(years) -> str:
    """'2026-2030' for a span of years, '2026' for one year (the facts' period column)."""
    years = tuple(years)
    return str(years[0]) if len(years) == 1 or years[0] == years[-1] else f"{years[0]}-{years[-1]}"


def resolve_period(token: str, base_year, plan_years) -> str:
    """A required fact's period: ``base`` → the manifest's base year, ``plan`` → its plan
    period; anything else as written."""
    token = str(token)
    if token == "base" and base_year is not None:
        return str(base_year)
    if token == "plan" and plan_years:
        return period_label(plan_years)
    return token


def _check_stock_cycle(fname: str, frame: pd.DataFrame, problems: list[str]) -> None:
    """A region with unsold stock has a positive cycle: a cycle of 0 months with stock means
    infinite monthly sales (cycle = stock ÷ average monthly sales)."""
    if not {"inventory_10k_m2", "cycle_months"} <= set(frame.columns):
        return
    for i, stock, cycle in zip(frame.index, frame["inventory_10k_m2"], frame["cycle_months"]):
        if stock == stock and cycle == cycle and stock > 0 and cycle <= 0:
            problems.append(f"{fname} line {i + 2}, column cycle_months: value {cycle:g} — "
                            f"expected a cycle > 0 months for {stock:g} 10k_m2 of unsold stock "
                            f"(cycle = stock ÷ average monthly sales)")


def _check_required_facts(facts: pd.DataFrame | None, schema: dict, problems: list[str],
                          base_year=None, plan_years=()):
    if facts is None or not {"fact", "scope", "period", "unit", "value"} <= set(facts.columns):
        return
    have = set(zip(facts["fact"], facts["scope"], facts["period"]))
    for req in schema.get("required_facts", []):
        period = resolve_period(req["period"], base_year, plan_years)
        if (req["fact"], req["scope"], period) not in have:
            problems.append(f"facts.csv: no row for fact {req['fact']!r}, scope {req['scope']!r}, "
                            f"period {period} ({req['meaning']}, in {req['unit']})")
    for i, unit, value in zip(facts.index, facts["unit"], facts["value"]):
        if unit == "share" and value == value and not 0.0 <= value <= 1.0:
            problems.append(f"facts.csv line {i + 2}, column value: value {value!r} — expected a share "
                            f"in [0, 1] because its unit is share")


def _check_printed_refs(raw, typed, problems):
    """printed_totals / printed_shares must point at tables and columns that exist."""
    for name in ("printed_totals", "printed_shares"):
        if name not in typed:
            continue
        fname = raw[name][0]
        frame = typed[name]
        for i, table, column in zip(frame.index, frame["table"], frame["column"]):
            if table not in typed:
                problems.append(f"{fname} line {i + 2}, column table: value {table!r} — expected a "
                                f"table of this dataset ({', '.join(sorted(typed))})")
            elif column not in typed[table].columns:
                problems.append(f"{fname} line {i + 2}, column column: value {column!r} — expected a "
                                f"column of {table} ({', '.join(typed[table].columns)})")


def _check_relations(manifest, typed, schema, problems):
    """Every table a manifest relation names must be loaded."""
    relations = manifest.get("relations") or {}
    if not isinstance(relations, dict):
        problems.append("manifest.yaml: relations must be a mapping of check kinds")
        return

    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("table", "districts", "regions", "inventory", "supply", "demand",
                         "cycle_table", "land_table") and isinstance(v, str):
                    if v not in typed:
                        problems.append(f"manifest.yaml: relations.{where} names table {v!r}, "
                                        f"which this dataset does not have")
                else:
                    walk(v, f"{where}.{k}" if k not in ("a", "b") else where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for kind, body in relations.items():
        if kind in ("totals", "shares"):
            for t in body or []:
                if t not in typed:
                    problems.append(f"manifest.yaml: relations.{kind} names table {t!r}, "
                                    f"which this dataset does not have")
        else:
            walk(body, kind)


def _build(root, manifest, typed, levels, years) -> Dataset:
    typed = {name: frame.reset_index(drop=True) for name, frame in typed.items()}
    regions_frame = typed["regions"]
    as_region = {r.region_id: Region(r.region_id, r.name_zh, r.level, r.parent_id or "")
                 for r in regions_frame.itertuples(index=False)}
    # Years and counts as plain ints for downstream arithmetic.
    for frame in typed.values():
        if "year" in frame.columns and str(frame["year"].dtype) == "Int64":
            frame["year"] = frame["year"].astype(int)
    return Dataset(
        name=str(manifest["name"]),
        root=root.resolve(),
        manifest=MappingProxyType(manifest),
        data_hash=dataset_hash(root),
        city=as_region[manifest["city_id"]],
        main_city_id=manifest.get("main_city_id") or None,
        guidance_split=str(manifest.get("guidance_split") or "base_sales"),
        regions=tuple(r for r in as_region.values() if r.level == "region"),
        districts=tuple(r for r in as_region.values() if r.level == "district"),
        base_year=int(manifest["base_year"]),
        history_years=years["history_years"],
        plan_years=years["plan_years"],
        _tables=MappingProxyType(typed),
    )


def dataset_hash(root: str | Path) -> str:
    """sha256 over the dataset's files (names and bytes), so a run records exactly what it read."""
    digest = hashlib.sha256()
    for path in sorted(Path(root).iterdir()):
        if path.is_file() and path.suffix in (".csv", ".yaml", ".yml"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
