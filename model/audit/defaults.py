"""Default relations: the checks any plan's numbers allow, derived from the tables a dataset has.

A manifest lists the relations its author wrote down; a second city's manifest may list few or
none. The audit adds, for every dataset, the relations its tables make possible, in the same
relation format, and runs them through the same check families:

- ``same_quantity``: each guidance table's total against the target of the same quantity (Σ
  supply_guidance against ``supply_total_10k_m2``, Σ land_guidance against ``land_total_ha``)
  at the target's scope, when the target covers the plan period in the table's unit;
- ``cycle_projections``: the plan's own destocking arithmetic — base stock + supply guidance −
  demand (the demand table, else the base-year sales rate held flat) — against the cycle target,
  with the peak and lowest year-end cycle on the way and the land rules along the path;
- ``land_rules``: the land rules (the dataset's thresholds, else the national 2024 rule) on the
  first plan year's land guidance;
- ``ratios``: floor area per hectare (supply ÷ land guidance) against a plausible plot-ratio band
  (:data:`PLOT_RATIO_BAND`, a judgement: see :data:`PLOT_RATIO_BAND_NOTE`);
- ``stock_identity``: stock ÷ monthly sales against the cycle, in base stock rows printing all
  three;
- ``implied_sales``: the base-year sales the text reports against stock ÷ cycle × 12;
- ``totals`` / ``shares``: every table with printed totals or shares;
- ``district_sums``: with districts, each district table against the main-city row.

District versions are added when the dataset has districts (a main city and its four district
tables). Guidance printed only as city totals is split as the Dataset splits it, said in the
notes. A default is dropped when the manifest already lists the same relation (the manifest's
own always wins: same tables, or the same two selectors); every check a default produces carries
``origin = default``. ``audit_defaults: false`` in the manifest turns the defaults off;
``audit_defaults: {plot_ratio_band: [low, high]}`` sets another band.
"""
from __future__ import annotations

from model.audit.core import ALL, raw_table
from model.data import Dataset, period_label

#: Floor area sold (万m²) ÷ residential land (ha), i.e. the plot ratio (1 万m²/ha = FAR 1).
PLOT_RATIO_BAND = (1.0, 3.0)
PLOT_RATIO_BAND_NOTE = (
    "band 1–3 is a judgement, not a rule: residential land below plot ratio 1.0 is low-density "
    "housing outside 普通住房 (国办发〔2005〕26号 sets ≥ 1.0 for it), and about 3 is the highest "
    "plot ratio GB 50180-2018 (城市居住区规划设计标准) allows a residential block of 19–26 storeys; "
    "floor area sold is below gross floor area, so a plan's ratio sits lower still")

#: Target → the guidance table and column giving the same quantity, and the target's unit.
TARGET_TABLES = (("supply_total_10k_m2", "supply_guidance", "supply_10k_m2", "10k_m2",
                  "supply", "供应"),
                 ("land_total_ha", "land_guidance", "land_ha", "ha", "land", "用地"))

#: District table ↔ region table pairs (district_sums).
DISTRICT_PAIRS = (("district_demand", "demand", "demand_10k_m2"),
                  ("district_supply_guidance", "supply_guidance", "supply_10k_m2"),
                  ("district_land_guidance", "land_guidance", "land_ha"),
                  ("district_base_inventory", "base_inventory", "inventory_10k_m2"))


def options(ds: Dataset) -> dict | None:
    """The manifest's ``audit_defaults`` (None: defaults off)."""
    value = ds.manifest.get("audit_defaults", True)
    if value is False or (isinstance(value, dict) and value.get("enabled", True) is False):
        return None
    return dict(value) if isinstance(value, dict) else {}


def default_relations(ds: Dataset) -> dict[str, list]:
    """kind → the default relations the manifest does not already list."""
    opts = options(ds)
    if opts is None:
        return {}
    listed = ds.manifest.get("relations") or {}
    out: dict[str, list] = {}
    for kind, rels in proposed(ds, opts).items():
        mine = list(listed.get(kind) or [])
        keep = [r for r in rels if not any(same_relation(kind, r, m) for m in mine)]
        if keep:
            out[kind] = keep
    return out


# ---------------------------------------------------------------------------------------------
# What the tables allow
# ---------------------------------------------------------------------------------------------
def proposed(ds: Dataset, opts: dict) -> dict[str, list]:
    out: dict[str, list] = {}
    levels = [("", "base_inventory")]
    if ds.has_districts:
        levels.append(("district_", "district_base_inventory"))

    out["same_quantity"] = _target_totals(ds)
    band = list(opts.get("plot_ratio_band") or PLOT_RATIO_BAND)
    band_note = (PLOT_RATIO_BAND_NOTE if tuple(band) == PLOT_RATIO_BAND
                 else f"band {band[0]:g}–{band[1]:g} set by the manifest's audit_defaults")
    for prefix, inventory in levels:
        supply, land, demand = (f"{prefix}supply_guidance", f"{prefix}land_guidance",
                                f"{prefix}demand")
        has_supply, has_land = ds.has_table(supply), ds.has_table(land)
        if ds.has_table(inventory) and has_supply:
            rel = {"inventory": inventory, "supply": supply, "target": "cycle_months",
                   "lowest": True}
            if ds.has_table(demand):
                rel["demand"] = demand
            if has_land:
                rel["land_table"] = land
            out.setdefault("cycle_projections", []).append(rel)
        if ds.has_table(inventory) and has_land:
            out.setdefault("land_rules", []).append({"cycle_table": inventory, "land_table": land})
        if has_supply and has_land:
            rel = {"name": f"floor area per hectare of land ({ds.cite(supply)} ÷ {ds.cite(land)})",
                   "name_zh": f"每公顷用地的住宅面积（{ds.cite(supply)}÷{ds.cite(land)}）",
                   "numerator": {"table": supply, "column": "supply_10k_m2"},
                   "denominator": {"table": land, "column": "land_ha"},
                   "unit": "10k_m2_per_ha", "band": band, "drift_share": None,
                   "band_note": band_note}
            if ds.guidance_is_city_total(supply) or ds.guidance_is_city_total(land):
                rel["city_totals"] = True
            out.setdefault("ratios", []).append(rel)
        if ds.has_table(inventory) and _prints_all_three(ds, inventory):
            out.setdefault("stock_identity", []).append({"inventory": inventory})
        if ds.has_table(inventory) and _reports_sales(ds, inventory):
            out.setdefault("implied_sales", []).append(
                {"inventory": inventory, "sales_fact": "sales_10k_m2", "period": "BASE"})
    for kind, table in (("totals", "printed_totals"), ("shares", "printed_shares")):
        if ds.has_table(table):
            out[kind] = list(dict.fromkeys(ds.table(table)["table"]))
    if ds.has_districts:
        out["district_sums"] = [{"districts": d, "regions": r, "column": c}
                                for d, r, c in DISTRICT_PAIRS if ds.has_table(r)]
    return {k: v for k, v in out.items() if v}


def _target_totals(ds: Dataset) -> list[dict]:
    """Each guidance table's total against the target of the same quantity, at the target's
    scope (the city: all rows; a region: its row), when the target covers the plan period."""
    plan = period_label(ds.plan_years)
    out = []
    for target_id, table, column, unit, what, what_zh in TARGET_TABLES:
        if not ds.has_table(table):
            continue
        rows = set(ds.table(table)["region_id"])
        for t in ds.targets():
            if t.target_id != target_id or str(t.period) != plan or t.unit != unit:
                continue
            if t.scope == ds.city.region_id:
                row = ALL
            elif t.scope in rows and not ds.guidance_is_city_total(table):
                row = t.scope
            else:
                continue
            where = "" if row == ALL else f" {t.scope}"
            out.append({
                "name": (f"{what} total{where}, {ds.cite(table)} rows vs target "
                         f"({t.source})"),
                "name_zh": f"{ds.cite(table)}{what_zh}合计与目标（{t.source}）",
                "a": {"table": table, "column": column, "row": row, "year": ALL},
                "b": {"target": target_id, "scope": t.scope}})
    return out


def _prints_all_three(ds: Dataset, table: str) -> bool:
    raw = raw_table(ds, table)
    cols = ("inventory_10k_m2", "monthly_sales_10k_m2", "cycle_months")
    if not set(cols) <= set(raw.columns):
        return False
    return bool(((raw[list(cols)] != "").all(axis=1)).any())


def _reports_sales(ds: Dataset, table: str) -> bool:
    """True when the text reports base-year sales for the table's aggregate or one of its rows."""
    aggregate = ds.main_city_id if table.startswith("district_") else ds.city.region_id
    scopes = [aggregate, *ds.table(table)["region_id"]]
    return any(ds.has_fact("sales_10k_m2", s, ds.base_year) for s in scopes if s)


# ---------------------------------------------------------------------------------------------
# Is a default already listed?
# ---------------------------------------------------------------------------------------------
def _selector(sel: dict) -> tuple:
    if not isinstance(sel, dict):
        return (repr(sel),)
    if "table" in sel:
        return ("table", sel["table"], sel.get("column"), str(sel.get("row", ALL)),
                str(sel.get("year", ALL)), bool(sel.get("printed", False)),
                float(sel.get("scale", 1.0)), float(sel.get("sign", 1.0)), "per" in sel)
    if "target" in sel:
        return ("target", sel["target"], sel.get("scope", "city"))
    return tuple(sorted((k, repr(v)) for k, v in sel.items()))


def same_relation(kind: str, default, listed) -> bool:
    """True when a manifest relation asks for the check a default would add."""
    if kind in ("totals", "shares"):
        return default == listed
    if not isinstance(listed, dict):
        return False
    if kind == "same_quantity":
        return ({_selector(default["a"]), _selector(default["b"])}
                == {_selector(listed.get("a")), _selector(listed.get("b"))})
    if kind == "ratios":
        def side(rel, k):
            sel = rel.get(k) or {}
            return sel.get("table"), sel.get("column")
        return all(side(default, k) == side(listed, k) for k in ("numerator", "denominator"))
    fields = {"cycle_projections": ("inventory", "supply"),
              "land_rules": ("cycle_table", "land_table"),
              "stock_identity": ("inventory",),
              "implied_sales": ("inventory", "sales_fact"),
              "district_sums": ("districts", "regions", "column")}[kind]
    return all(default.get(f) == listed.get(f) for f in fields)
