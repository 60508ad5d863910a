"""Check families about the market the plan describes and forecasts: sales implied by stock and
cycle, the stock-flow of the history years, the forecast against the base-year market, and the
destocking path the plan's own supply and demand tables produce.

Floor area in 万m² (10k_m2), cycles in months. The destocking cycle follows the plan's definition
(inventory ÷ average monthly sales of the previous 12 months).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import spearmanr

from model.audit.core import (
    ALL, FINDING, INFO, MATERIAL, MINOR, OK, PRINTED, ROUNDING, ROW_SUM, UNCLEAR, Check, Dataset,
    fact_source, missing, printed_total, raw_table, region_year_table, resolve, resolve_period,
    rule_thresholds, scope_label, source_of, split_note, split_note_zh, status_of, step_of,
    fact_decimals, text_decimals, years_label,
)


# ---------------------------------------------------------------------------------------------
# Sales implied by inventory and cycle
# ---------------------------------------------------------------------------------------------
def implied_sales_10k_m2(inventory_10k_m2: float, cycle_months: float) -> float:
    """Annual sales (万m²/yr) implied by an inventory and its destocking cycle: inventory ÷ cycle × 12."""
    return inventory_10k_m2 / cycle_months * 12 if cycle_months > 0 else math.nan


def check_implied_sales(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Sales implied by inventory ÷ cycle × 12 against the sales the text reports, per row and
    summed. For a district table the sum is compared with the main city's reported sales.
    Tolerance: cycles are printed in whole months, so each implied figure is uncertain by
    inventory × 12 × 0.5 ÷ cycle² (summed over rows)."""
    out = []
    for rel in relations:
        inv = ds.table(rel["inventory"])
        period = resolve_period(ds, rel.get("period", "BASE"))
        aggregate = ds.main_city_id if rel["inventory"].startswith("district_") else ds.city.region_id
        implied = [implied_sales_10k_m2(i, c) for i, c in zip(inv["inventory_10k_m2"], inv["cycle_months"])]
        tols = [i * 12 * 0.5 / (c * c) if c else 0.0 for i, c in zip(inv["inventory_10k_m2"], inv["cycle_months"])]
        scopes = [(aggregate, float(sum(implied)), float(sum(tols)), len(inv))]
        scopes += [(rid, float(v), float(t), 1) for rid, v, t in zip(inv["region_id"], implied, tols)]
        src = source_of(ds, rel["inventory"])
        for scope, value, tol, n in scopes:
            reported = ds.fact_or_none(rel["sales_fact"], scope, period)
            if reported is None:
                continue
            status = status_of(reported, value, tol + 0.005)
            what = f"the sum over {n} rows of" if n > 1 else ""
            note = (f"{period} sales reported vs {what} inventory ÷ cycle × 12 "
                    f"(±{tol:.1f} from whole-month cycles)").replace("  ", " ")
            if status == FINDING and n > 1:
                note += (f"; the rows' stock {inv['inventory_10k_m2'].sum():.2f} 万m² and cycles "
                         f"imply {value / 12:.2f} 万m² a month against {reported / 12:.2f} reported")
            out.append(Check("implied sales", f"{src}; {fact_source(ds, rel['sales_fact'], scope)}",
                             scope_label(ds, scope, period), reported, value, note, status,
                             key=f"implied:{rel['inventory']}:{scope}", unit="10k_m2",
                             note_zh=f"{period}年{ds.name_zh(scope)}销售印为 {reported:g} 万㎡，"
                             f"{src}库存÷去化周期×12 得 {value:.2f} 万㎡",
                             scope_id=scope, year=str(period),
                             step=step_of(fact_decimals(ds, rel['sales_fact'], scope, period)),
                             verdict=UNCLEAR if status == FINDING else ""))
    return out


# ---------------------------------------------------------------------------------------------
# The base stock table's identity: cycle = stock ÷ monthly sales
# ---------------------------------------------------------------------------------------------
def check_stock_identity(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Rows of a base stock table that print all three of stock, monthly sales and cycle: the
    printed cycle against stock ÷ monthly sales. Relation: {inventory}.

    Tolerance: half a unit of the cycle's last printed digit plus the rounding of stock and sales
    carried through the division. The loader already rejects rows that disagree by more than half
    a month (or 5 % of a long cycle), so a gap beyond rounding is information, not a finding.
    Rows printing only two of the three (the loader derived the third) are not checked.
    """
    out = []
    for rel in relations:
        table = rel["inventory"]
        raw = raw_table(ds, table)
        if not {"inventory_10k_m2", "monthly_sales_10k_m2", "cycle_months"} <= set(raw.columns):
            continue
        src = source_of(ds, table)
        for r in raw.itertuples(index=False):
            texts = (r.inventory_10k_m2, r.monthly_sales_10k_m2, r.cycle_months)
            if any(t == "" for t in texts):
                continue
            stock, monthly, cycle = (float(t) for t in texts)
            if monthly <= 0:
                continue
            h_s, h_m, h_c = (0.5 * 10.0 ** -text_decimals(t) for t in texts)
            computed = stock / monthly
            tol = h_c + h_s / monthly + stock * h_m / monthly ** 2 + 1e-9
            status = status_of(cycle, computed, tol)
            if status == FINDING:
                status = INFO
            how = {OK: "consistent", ROUNDING: "consistent within the printed rounding",
                   INFO: "apart by more than the printed rounding, within the loader's tolerance "
                         "(half a month, or 5 % of a long cycle)"}[status]
            out.append(Check(
                "stock identity", src, scope_label(ds, r.region_id, ds.base_year), cycle, computed,
                f"{ds.base_year} stock {texts[0]} ÷ monthly sales {texts[1]} = {computed:.2f} "
                f"months against the printed cycle {texts[2]} (±{tol:.2f} from rounding): {how}",
                status, key=f"identity:{table}:{r.region_id}", unit="months",
                note_zh=f"{ds.name_zh(r.region_id)}{ds.base_year}年库存 {texts[0]} 万㎡ ÷ 月均销售 "
                f"{texts[1]} 万㎡ = {computed:.2f} 个月，去化周期印为 {texts[2]} 个月",
                scope_id=r.region_id, year=str(ds.base_year),
                step=10.0 ** -text_decimals(texts[2]), decision=False))
    return out


# ---------------------------------------------------------------------------------------------
# The history years: opening stock + presale − sales = closing stock
# ---------------------------------------------------------------------------------------------
def check_stock_flows(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Stock at the start of the history period + presale (new supply) − sales over the period,
    against the stock at the base year, per scope: {scope, inventory_fact, supply_fact,
    sales_fact}. The closing stock is the base-year inventory (a year-end stock).

    The opening stock is the inventory of the year before the history period when the dataset
    holds it (unambiguous: the stock at the start of the period). Otherwise it is the inventory
    labelled with the first history year, which has two readings: the stock at the start of the
    period (what the flows over the whole period need), or — read like the closing stock, a
    year-end figure — the stock at the end of the first year, when that year's flows must be left
    out. Where the first year's flows are printed, both readings are computed and the check is a
    finding only if neither closes. Where they are not, the year-end reading cannot be computed:
    the gap is what the first year's presale would have had to exceed its sales by, and the
    finding is minor with verdict unclear (the reading, not the plan's arithmetic, is in doubt).
    """
    out = []
    first = resolve_period(ds, "HISTORY_FIRST")
    prior = str(int(first) - 1)
    period = resolve_period(ds, "HISTORY")
    base = str(ds.base_year)
    for rel in relations:
        scope = rel.get("scope", "city")

        def fact(name: str, p: str):
            return resolve(ds, {"fact": rel[name], "scope": scope, "period": p})

        start_known = ds.fact_or_none(rel["inventory_fact"], scope, prior) is not None
        opening = fact("inventory_fact", prior if start_known else first)
        supply, sales, closing = (fact("supply_fact", period), fact("sales_fact", period),
                                  fact("inventory_fact", base))
        computed = opening.value + supply.value - sales.value
        tol = 0.5 * sum(r.step for r in (opening, supply, sales, closing)) + 1e-9
        status = status_of(closing.value, computed, tol)
        labels = sorted({opening.label, supply.label, sales.label, closing.label})
        gap = closing.value - computed
        when = f"the end of {prior}" if start_known else str(first)
        note = (f"stock {when} {opening.value:.2f} + presale {period} {supply.value:.2f} − sales "
                f"{sales.value:.2f} = {computed:.2f} 万m², against {closing.value:.2f} printed for "
                f"the end of {base}")
        note_zh = (f"{prior + '年末' if start_known else first + '年'}库存 {opening.value:.2f} + {period}新增供应 {supply.value:.2f} − 销售 "
                   f"{sales.value:.2f} = {computed:.2f} 万㎡，但{base}年末库存印为 "
                   f"{closing.value:.2f} 万㎡，相差 {abs(gap):.2f} 万㎡")
        severity, verdict = "", UNCLEAR if status == FINDING else ""
        if status == FINDING:
            unrecorded = (f"{abs(gap):.2f} 万m² ({abs(gap) / closing.value:.0%} of the closing "
                          f"stock) {'left' if gap < 0 else 'came into'} the stock without a "
                          f"recorded sale or presale")
            if start_known:
                note += f"; {unrecorded}"
            else:
                first_supply = ds.fact_or_none(rel["supply_fact"], scope, first)
                first_sales = ds.fact_or_none(rel["sales_fact"], scope, first)
                if first_supply is not None and first_sales is not None:
                    end_reading = computed - first_supply + first_sales
                    note += (f"; read as the stock at the start of {first}, {unrecorded}; read as "
                             f"the stock at the end of {first} (leaving out {first}'s presale "
                             f"{first_supply:g} and sales {first_sales:g}) it gives "
                             f"{end_reading:.2f}")
                    if abs(closing.value - end_reading) <= tol:
                        status, verdict = OK, ""
                        note += ", which closes: the stock is the end-of-year figure"
                else:
                    net = -gap
                    note += (f". Two readings: as the stock at the start of {first}, {unrecorded}; "
                             f"read like the {base} figure (a year-end stock), {opening.value:.2f} "
                             f"is the stock at the end of {first}, {first}'s flows drop out, and "
                             f"the figures close if {first}'s presale exceeded its sales by "
                             f"{net:.2f} 万m² — the plan does not print {first}'s flows apart, so "
                             f"which reading holds cannot be told from it: minor, unclear")
                    note_zh += (f"。若 {opening.value:.2f} 为{first}年末库存（与{base}年末口径一致），"
                                f"则应扣除{first}年的供销，只要{first}年新增供应比销售多 {net:.2f} "
                                f"万㎡ 即可衔接；规划未分年列出供销，无法判断哪种理解成立")
                    severity = MINOR
        out.append(Check("stock-flow history", "; ".join(labels), scope_label(ds, scope, period),
                         closing.value, computed, note, status, key=f"stockflow:{scope}",
                         unit="10k_m2", note_zh=note_zh, scope_id=scope, year=period,
                         step=closing.step, verdict=verdict, severity=severity))
    return out


# ---------------------------------------------------------------------------------------------
# The forecast against the base-year market
# ---------------------------------------------------------------------------------------------
def check_forecast_vs_market(ds: Dataset, relations: list[dict]) -> list[Check]:
    """The first plan year's demand forecast against the base-year market.

    Relation: {demand, inventory, sales_fact, presale_fact, tolerance_share, claim: {name, source,
    scope[, also]}}; ``also`` lists other figures the claim could mean (selectors): the claim is a
    finding only when no reading is within the tolerance.
    - Scopes with a reported base-year sales figure: first-year demand against it; a finding
      beyond ± tolerance_share.
    - The text's claim (at claim.scope) that first-year demand "basically matches" base-year
      presale (批准入市): a finding beyond ± tolerance_share. Other scopes with presale: info.
    - Every other row: uplift = first-year demand ÷ base-year sales (inventory ÷ cycle × 12). A
      finding where the uplift exceeds 1 + tolerance_share in a row whose base-year cycle is above
      the city's (stock selling slower than the city's), where a forecast of faster sales needs a
      reason the plan does not give; the rank correlation of uplift with cycle over the rows is
      reported in each note.
    """
    out = []
    first = ds.plan_years[0]
    base = str(ds.base_year)
    for rel in relations:
        dem = ds.table(rel["demand"])
        inv = ds.table(rel["inventory"])
        tol = float(rel.get("tolerance_share", 0.10))
        d_src, i_src = source_of(ds, rel["demand"]), source_of(ds, rel["inventory"])
        first_demand = dem[dem["year"] == first].groupby("region_id")["demand_10k_m2"].sum()
        aggregate = ds.main_city_id if rel["inventory"].startswith("district_") else ds.city.region_id
        city_demand = float(first_demand.sum())
        printed_first = printed_total(ds, rel["demand"], "demand_10k_m2", ALL, first)

        scopes = [aggregate] + list(first_demand.index)
        for scope in scopes:
            value = city_demand if scope == aggregate else float(first_demand.get(scope, math.nan))
            for fact, label, label_zh in ((rel["sales_fact"], "sales", "销售"),
                                          (rel.get("presale_fact"), "presale (批准入市)", "新增供应（批准入市）")):
                if not fact:
                    continue
                reported = ds.fact_or_none(fact, scope, base)
                if reported is None:
                    continue
                claim = rel.get("claim") or {}
                is_claim = fact == rel.get("presale_fact") and claim.get("scope", aggregate) == scope
                if fact == rel.get("presale_fact") and not is_claim:
                    status = INFO
                else:
                    status = FINDING if abs(value / reported - 1) > tol else OK
                name = claim.get("name", "") if is_claim else ""
                note = (f"{first} demand forecast {value:.2f} 万m² vs {base} {label} {reported:g} "
                        f"({value / reported - 1:+.1%}; tolerance ±{tol:.0%})")
                if scope == aggregate and not missing(printed_first):
                    note += f"; printed {first} total {printed_first:g}"
                also_zh = ""
                if is_claim:
                    note = f"{claim.get('source', '')} claims the forecast {name}; " + note
                    for alt in claim.get("also", []):
                        other = resolve(ds, alt)
                        note += (f"; read as {other.label} ({other.value:g}) the claim is "
                                 f"{other.value / reported - 1:+.1%} off")
                        also_zh += f"；若指{other.label}（{other.value:g}）则相差 {other.value / reported - 1:+.1%}"
                        if abs(other.value / reported - 1) <= tol:
                            status = OK
                tables = f"{d_src}; {fact_source(ds, fact, scope)}"
                out.append(Check(
                    "claim: forecast matches market" if is_claim else f"forecast vs {base} {label.split()[0]}",
                    tables, scope_label(ds, scope, first), value, reported, note, status,
                    key=f"forecast:{rel['demand']}:{fact}:{scope}", unit="10k_m2",
                    note_zh=(f"{claim.get('source', '')}称“{name}”：" if is_claim else "")
                    + f"{first}年{ds.name_zh(scope)}需求预测 {value:.2f} 万㎡，{base}年{label_zh} "
                    f"{reported:g} 万㎡（{value / reported - 1:+.1%}）" + also_zh,
                    scope_id=scope, year=str(first), step=0.1, verdict=UNCLEAR,
                    severity=MATERIAL if status == FINDING else "",
                    printed_as=ROW_SUM if scope == aggregate and len(first_demand) > 1
                    else PRINTED))
        out.extend(_uplift_by_row(ds, rel, inv, first_demand, tol, aggregate, d_src, i_src))
    return out


def _uplift_by_row(ds, rel, inv, first_demand, tol, aggregate, d_src, i_src) -> list[Check]:
    first, base = ds.plan_years[0], str(ds.base_year)
    city_cycle = ds.fact_or_none("cycle_months", aggregate, base)
    rows = []
    for rid, stock, cycle in zip(inv["region_id"], inv["inventory_10k_m2"], inv["cycle_months"]):
        sales = implied_sales_10k_m2(float(stock), float(cycle))
        demand = float(first_demand.get(rid, math.nan))
        rows.append((rid, float(cycle), demand, sales, demand / sales if sales else math.nan))
    if len(rows) < 3:
        return []
    rho, p_value = spearmanr([r[1] for r in rows], [r[4] for r in rows])
    out = []
    for rid, cycle, demand, sales, uplift in rows:
        if ds.fact_or_none(rel["sales_fact"], rid, base) is not None:
            continue  # compared with the reported sales above
        slow = city_cycle is not None and cycle > city_cycle
        status = FINDING if slow and uplift > 1 + tol else INFO
        note = (f"{first} demand {demand:.2f} = {uplift:.2f}× the {base} sales rate "
                f"{sales:.2f} 万m²/yr implied by stock {i_src} ÷ cycle {cycle:g} months × 12"
                + (f"; the city's cycle is {city_cycle:g}" if city_cycle is not None else "")
                + f"; over the {len(rows)} rows the uplift rises with the cycle "
                f"(Spearman ρ = {rho:.2f}, p = {p_value:.4f})")
        out.append(Check(
            "forecast uplift vs stock", f"{d_src}; {i_src}", scope_label(ds, rid, first), demand,
            sales, note, status, key=f"uplift:{rel['demand']}:{rid}", unit="10k_m2",
            note_zh=f"{ds.name_zh(rid)}{first}年需求预测 {demand:.2f} 万㎡，为{base}年销售速度 "
            f"{sales:.2f} 万㎡/年的 {uplift:.2f} 倍，而其去化周期 {cycle:g} 个月"
            + (f"高于全市的 {city_cycle:g} 个月" if slow else ""),
            scope_id=rid, year=str(first), step=0.1, verdict=UNCLEAR,
            severity=MATERIAL if status == FINDING else "",
            extra={"uplift": uplift, "cycle": cycle, "rho": float(rho)}))
    out.append(Check(
        "forecast uplift vs stock", f"{d_src}; {i_src}", scope_label(ds, ALL, first), math.nan,
        float(rho), f"rank correlation over {len(rows)} rows between the {base} cycle and the "
        f"{first} uplift over {base} sales: ρ = {rho:.2f} (p = {p_value:.4f})", INFO,
        key=f"uplift:{rel['demand']}:rho", unit="", scope_id=ALL, year=str(first),
        note_zh=f"各区域{base}年去化周期与{first}年需求增幅的秩相关系数 ρ = {rho:.2f}"))
    return out


# ---------------------------------------------------------------------------------------------
# The destocking path
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PathYear:
    """One year of a projected path: year-end inventory (万m²), sales that year, year-end cycle."""

    year: int
    inventory_10k_m2: float
    sales_10k_m2: float
    unmet_10k_m2: float

    @property
    def cycle_months(self) -> float:
        return self.inventory_10k_m2 / (self.sales_10k_m2 / 12) if self.sales_10k_m2 > 0 else math.inf


def project_path(inventory: float, supply: dict, demand: dict, years) -> list[PathYear]:
    """Year by year from the base-year inventory: inventory_y = inventory_{y−1} + supply_y − sales_y,
    sales_y = min(demand_y, inventory_{y−1} + supply_y). Units 万m²."""
    path = []
    for y in years:
        available = inventory + supply.get(y, 0.0)
        sales = min(demand.get(y, 0.0), available)
        inventory = available - sales
        path.append(PathYear(y, inventory, sales, demand.get(y, 0.0) - sales))
    return path


def project_cycle(inventory: float, supply: dict, demand: dict, years) -> tuple[float, float, float]:
    """(end inventory, end-year cycle in months, unmet demand) of :func:`project_path`."""
    path = project_path(inventory, supply, demand, years)
    return path[-1].inventory_10k_m2, path[-1].cycle_months, sum(p.unmet_10k_m2 for p in path)


def check_cycle_projections(ds: Dataset, relations: list[dict]) -> list[Check]:
    """The destocking path the plan's own tables produce, per row and summed.

    Relation: {inventory, supply, target[, demand][, land_table][, lowest]}. For each row and the
    sum of rows:
    - the end-of-plan cycle if every m² demanded is sold (and, for the sum, with the printed
      totals); a finding against the target only at the target's scope (the plan's cycle target
      is city-wide), info elsewhere;
    - the peak year-end cycle on the way: a finding where it exceeds the base-year cycle (the
      plan's own schedule raises the stock before it lowers it); with ``lowest: true`` also the
      lowest year-end cycle on the way (info);
    - the end-of-plan cycle if sales stay at the base-year rate (reported sales where printed,
      else inventory ÷ cycle × 12): a finding against the target at its scope, info elsewhere;
    - the land rules applied along the path: land planned in a year whose opening cycle (the
      previous year-end) is above a rule's suspension threshold.

    Without a demand table (``demand`` not given) demand is the base-year sales rate, monthly
    sales × 12, held flat (said in the note; the base-year-rate projection is then the same and
    not repeated). Guidance printed only as city totals is split over the regions as the Dataset
    splits it (said in the note); the rows' paths then rest on that split, so their peaks and
    land-rule breaches are information, while the sum of rows is the city's own total.
    """
    out = []
    years = ds.plan_years
    for rel in relations:
        inv = ds.table(rel["inventory"])
        sup = region_year_table(ds, rel["supply"], "supply_10k_m2")
        dem = ds.table(rel["demand"]) if rel.get("demand") else None
        land = (region_year_table(ds, rel["land_table"], "land_ha") if rel.get("land_table")
                else None)
        aggregate = ds.main_city_id if rel["inventory"].startswith("district_") else ds.city.region_id
        target = ds.target_or_none(rel.get("target", "cycle_months"), ds.city.region_id)
        target_value = target.value if target else math.nan
        target_scope = target.scope if target else None
        tables = "; ".join(source_of(ds, rel[k]) for k in ("inventory", "supply", "demand")
                           if rel.get(k))
        ctx = _PathContext(ds, rel, tables, target_value, target_scope, aggregate)
        series = {}
        for rid, stock, cycle in zip(inv["region_id"], inv["inventory_10k_m2"], inv["cycle_months"]):
            s = _by_year(sup, rid, "supply_10k_m2")
            if dem is not None:
                d = _by_year(dem, rid, "demand_10k_m2")
            else:
                d = {y: _monthly_sales(inv, rid) * 12 for y in years}
            l_ = _by_year(land, rid, "land_ha") if land is not None else {}
            series[rid] = (float(stock), float(cycle), s, d, l_)
        agg_stock = sum(v[0] for v in series.values())
        agg = tuple({y: sum(v[i][y] for v in series.values() if y in v[i]) for y in years}
                    for i in (2, 3, 4))
        base_cycle = ds.fact_or_none("cycle_months", aggregate, ds.base_year)
        for rid, (stock, cycle, s, d, l_) in series.items():
            out.extend(ctx.scope_checks(rid, stock, cycle, s, d, l_, "rows"))
        if base_cycle is None:
            base_cycle = agg_stock / (sum(implied for implied in (
                v[0] / v[1] for v in series.values() if v[1] > 0)))
        out.extend(ctx.scope_checks(aggregate, agg_stock, base_cycle, *agg, "sum of rows"))
        if dem is not None:
            out.extend(ctx.printed_totals_checks(agg_stock, base_cycle))
    return out


def _monthly_sales(inv, rid) -> float:
    """A row's base-year monthly sales, 万m² a month (the column, else stock ÷ cycle)."""
    row = inv[inv["region_id"] == rid].iloc[0]
    monthly = row.get("monthly_sales_10k_m2", math.nan)
    if monthly is None or missing(float(monthly)):
        cycle = float(row["cycle_months"])
        return float(row["inventory_10k_m2"]) / cycle if cycle > 0 else 0.0
    return float(monthly)


def _by_year(frame, rid, column) -> dict:
    if frame is None:
        return {}
    part = frame[frame["region_id"] == rid]
    return {int(y): float(v) for y, v in zip(part["year"], part[column])}


class _PathContext:
    """Builds the path checks of one relation (keeps check_cycle_projections readable)."""

    def __init__(self, ds, rel, tables, target, target_scope, aggregate):
        self.ds, self.rel, self.tables = ds, rel, tables
        self.target, self.target_scope, self.aggregate = target, target_scope, aggregate
        self.years = ds.plan_years
        self.last = self.years[-1]
        self.rules = rule_thresholds(ds)
        labels = [r[0] for r in self.rules]
        self.rule_names = {(label, s): (f"land rule {label}" if labels.count(label) == 1
                                        else f"land rule {label} (> {s:g} months)")
                           for label, s, _ in self.rules}
        self.method_key = f"method:{rel['supply']}"
        self.profile_key = f"profile:{rel['supply']}"
        self.has_demand = bool(rel.get("demand"))
        self.vs_target = ("(the dataset sets no cycle target)" if missing(target)
                          else f"vs target {target:g}")
        period = ds.target_or_none(rel.get("target", "cycle_months"), ds.city.region_id)
        if period is not None and str(period.period) != str(self.last):
            self.vs_target += f" (set for {period.period})"
        self.split = split_note(ds, rel["supply"], rel.get("land_table", ""))
        self.split_zh = split_note_zh(ds, rel["supply"], rel.get("land_table", ""))

    def _at_target_scope(self, rid) -> bool:
        return rid == self.target_scope

    def scope_checks(self, rid, stock, base_cycle, s, d, land, basis) -> list[Check]:
        ds, last = self.ds, self.last
        out = []
        path = project_path(stock, s, d, self.years)
        end = path[-1]
        unmet = sum(p.unmet_10k_m2 for p in path)
        missed = not missing(self.target) and end.cycle_months > self.target
        split_row = bool(self.split) and basis == "rows"
        if self.has_demand:
            sold = f"demand {sum(d.values()):.2f}"
        else:
            rate = next(iter(d.values()), 0.0)
            sold = (f"sales {sum(d.values()):.2f} (no demand table: demand is the {ds.base_year} "
                    f"sales rate, monthly sales {rate / 12:.2f} × 12 = {rate:.2f} 万m²/yr, held "
                    f"flat)")
        note = (f"plan arithmetic ({basis}): inventory {stock:.2f} + supply {sum(s.values()):.2f} − "
                f"{sold} → {end.inventory_10k_m2:.2f} 万m² at end {last}; cycle "
                f"{end.cycle_months:.1f} months {self.vs_target}")
        if split_row:
            note += f"; this row's supply is the split of the city total ({self.split})"
        if unmet > 1e-6:
            note += f"; stock runs out, {unmet:.2f} 万m² of demand unmet"
        status = INFO
        if self._at_target_scope(rid):
            status = FINDING if missed else OK
            if missed:
                note += " — target missed"
        elif missed:
            note += f" (the {self.target:g}-month target is set for {self.target_scope}, not this row)"
        out.append(Check(
            f"{last} cycle from the plan's tables", self.tables, scope_label(ds, rid, last),
            self.target, end.cycle_months, note, status, key=f"cycle:{self.rel['supply']}:{rid}",
            unit="months", scope_id=rid, year=str(last), step=1.0, severity=MATERIAL if missed else "",
            verdict=UNCLEAR, caused_by=(self.method_key,),
            note_zh=("按规划自身表格（需求全部实现）推算，" if self.has_demand else
                     f"按规划供应、销售维持{ds.base_year}年水平（无需求预测表）推算，")
            + f"{ds.name_zh(rid)}{last}年末库存 "
            f"{end.inventory_10k_m2:.2f} 万㎡，去化周期 {end.cycle_months:.1f} 个月"
            + (f"，目标 {self.target:g} 个月" if self._at_target_scope(rid) else "")
            + (f"（{self.split_zh}）" if split_row else "")))
        # The peak on the way.
        peak = max(path, key=lambda p: p.cycle_months)
        # A finding where the schedule itself raises the stock (not only the cycle, which also
        # rises when forecast demand is below the base-year sales rate), and the cycle clearly
        # (by more than a month: base-year cycles are printed in whole months) above the base.
        rises = peak.cycle_months > base_cycle + 1.0 and peak.inventory_10k_m2 > stock + 0.5
        trail = ", ".join(f"{p.year}: {p.cycle_months:.1f}" for p in path)
        sold = "demand sold" if self.has_demand else f"sales at the {ds.base_year} rate"
        on_split = (f"; this row's supply is the split of the city total ({self.split}), so "
                    f"its path is information" if split_row else "")
        if split_row:
            rises = False
        out.append(Check(
            "peak cycle on the plan's path", self.tables, scope_label(ds, rid, peak.year),
            float(base_cycle), peak.cycle_months,
            f"year-end cycle on the plan's path ({basis}: supply as guided, {sold}) — {trail} "
            f"months; the peak {peak.cycle_months:.1f} at the end of {peak.year} against "
            f"{base_cycle:g} at the end of {ds.base_year}; stock {stock:.2f} → "
            f"{peak.inventory_10k_m2:.2f} 万m²" + on_split,
            FINDING if rises else INFO, key=f"peak:{self.rel['supply']}:{rid}", unit="months",
            scope_id=rid, year=str(peak.year), step=1.0, verdict=UNCLEAR,
            severity=MATERIAL if rises else "", caused_by=(self.profile_key, self.method_key),
            note_zh=f"{ds.name_zh(rid)}按规划供应与{'需求' if self.has_demand else '基年销售'}"
            f"逐年推算，年末去化周期依次为 {trail}（个月），"
            f"{peak.year}年末达 {peak.cycle_months:.1f} 个月，"
            f"{'高于' if peak.cycle_months > base_cycle else '不高于'}{ds.base_year}年末的 "
            f"{base_cycle:g} 个月",
            extra={"path": path}))
        if self.rel.get("lowest"):
            low = min(path, key=lambda p: p.cycle_months)
            add_below = ds.fact_or_none("strict_rule_add_below_months", ds.city.region_id)
            below = (f"; below the {add_below:g} months under which "
                     f"{fact_source(ds, 'strict_rule_add_below_months', ds.city.region_id)} "
                     f"asks for more land" if add_below is not None
                     and low.cycle_months < add_below else "")
            out.append(Check(
                "lowest cycle on the plan's path", self.tables, scope_label(ds, rid, low.year),
                float(base_cycle), low.cycle_months,
                f"year-end cycle on the plan's path ({basis}: supply as guided, {sold}) — {trail} "
                f"months; the lowest {low.cycle_months:.1f} at the end of {low.year} against "
                f"{base_cycle:g} at the end of {ds.base_year}; stock {stock:.2f} → "
                f"{low.inventory_10k_m2:.2f} 万m²" + below + on_split,
                INFO, key=f"lowest:{self.rel['supply']}:{rid}", unit="months", scope_id=rid,
                year=str(low.year), step=1.0,
                note_zh=f"{ds.name_zh(rid)}按规划供应逐年推算，年末去化周期依次为 {trail}（个月），"
                f"最低为{low.year}年末的 {low.cycle_months:.1f} 个月（{ds.base_year}年末 "
                f"{base_cycle:g} 个月）", extra={"path": path}))
        # Sales at the base-year rate (the same as above when there is no demand table).
        rate = self._base_rate(rid, stock, base_cycle) if self.has_demand else math.nan
        if not missing(rate):
            flat = {y: rate for y in self.years}
            bpath = project_path(stock, s, flat, self.years)
            bend = bpath[-1]
            bmissed = not missing(self.target) and bend.cycle_months > self.target
            bstatus = (FINDING if bmissed else OK) if self._at_target_scope(rid) else INFO
            out.append(Check(
                f"{last} cycle at {ds.base_year} sales", self.tables, scope_label(ds, rid, last),
                self.target, bend.cycle_months,
                f"if sales stay at the {ds.base_year} rate {rate:.2f} 万m²/yr ({basis}): inventory "
                f"{stock:.2f} + supply {sum(s.values()):.2f} − sales "
                f"{sum(p.sales_10k_m2 for p in bpath):.2f} → {bend.inventory_10k_m2:.2f} 万m² at end "
                f"{last}; cycle {bend.cycle_months:.1f} months {self.vs_target}",
                bstatus, key=f"baserate:{self.rel['supply']}:{rid}", unit="months", scope_id=rid,
                year=str(last), step=1.0, verdict=UNCLEAR,
                severity=MATERIAL if bstatus == FINDING else "",
                note_zh=f"若销售维持{ds.base_year}年水平（{rate:.2f} 万㎡/年），{ds.name_zh(rid)}{last}年末"
                f"库存 {bend.inventory_10k_m2:.2f} 万㎡，去化周期 {bend.cycle_months:.1f} 个月"))
        # Land rules along the path.
        for label, suspend, _ in self.rules if land else ():
            opening = {self.years[0]: base_cycle}
            opening.update({p.year + 1: p.cycle_months for p in path[:-1]})
            hits = [y for y in self.years[1:] if opening[y] > suspend and land.get(y, 0) > 0]
            if not hits:
                continue
            ha = sum(land[y] for y in hits)
            detail = ", ".join(f"{y} (opening cycle {opening[y]:.1f}, {land[y]:g} ha)" for y in hits)
            out.append(Check(
                f"{self.rule_names[(label, suspend)]} on the plan's path", f"{self.tables}; "
                f"{source_of(ds, self.rel['land_table'])}", scope_label(ds, rid, years_label(hits)),
                ha, 0.0,
                f"{label}: no new land while the cycle is above {suspend:g} months; on the plan's own "
                f"path ({basis}) land is still planned in {detail}" + on_split,
                INFO if split_row else FINDING,
                key=f"pathrule:{label}:{self.rel['supply']}:{rid}", unit="ha", scope_id=rid,
                year=years_label(hits), step=0.01, verdict=UNCLEAR,
                severity="" if split_row else MATERIAL,
                printed_as=ROW_SUM if len(hits) > 1 or basis != "rows" else PRINTED,
                caused_by=(f"rule:{label}:{suspend:g}:{self.rel['land_table']}:{rid}",
                           f"peak:{self.rel['supply']}:{rid}"),
                note_zh=f"{label}规定去化周期超过 {suspend:g} 个月应暂停供地；按规划自身路径，"
                f"{ds.name_zh(rid)}在 {'、'.join(str(y) for y in hits)} 年初周期已超 {suspend:g} 个月，"
                f"却仍安排用地 {ha:.2f} 公顷"))
        return out

    def _base_rate(self, rid, stock, base_cycle) -> float:
        reported = self.ds.fact_or_none(self.rel.get("sales_fact", "sales_10k_m2"), rid,
                                        self.ds.base_year)
        if reported is not None:
            return reported
        return implied_sales_10k_m2(stock, base_cycle) if base_cycle else math.nan

    def printed_totals_checks(self, stock, base_cycle) -> list[Check]:
        """The same end-of-plan projections with the printed grand totals spread by their columns."""
        ds, rel, years, last = self.ds, self.rel, self.years, self.last
        p_sup = {y: printed_total(ds, rel["supply"], "supply_10k_m2", ALL, y) for y in years}
        p_dem = {y: printed_total(ds, rel["demand"], "demand_10k_m2", ALL, y) for y in years}
        if any(missing(v) for v in [*p_sup.values(), *p_dem.values()]):
            return []
        p_inv = printed_total(ds, rel["inventory"], "inventory_10k_m2")
        start = stock if missing(p_inv) else p_inv
        out = []
        end_inv, cycle, unmet = project_cycle(start, p_sup, p_dem, years)
        at_target = self._at_target_scope(self.aggregate)
        missed = not missing(self.target) and cycle > self.target
        note = (f"plan arithmetic (printed totals): inventory {start:.2f} + supply "
                f"{sum(p_sup.values()):.2f} − demand {sum(p_dem.values()):.2f} → {end_inv:.2f} 万m² at "
                f"end {last}; cycle {cycle:.1f} months {self.vs_target}")
        if unmet > 1e-6:
            note += f"; stock runs out, {unmet:.2f} 万m² of demand unmet"
        out.append(Check(
            f"{last} cycle from the plan's tables", self.tables, scope_label(ds, self.aggregate, last),
            self.target, cycle, note + (" — target missed" if missed and at_target else ""),
            (FINDING if missed else INFO) if at_target else INFO,
            key=f"cycle:{rel['supply']}:{self.aggregate}:printed", unit="months",
            scope_id=self.aggregate, year=str(last), step=1.0, verdict=UNCLEAR,
            severity=MATERIAL if missed and at_target else "",
            note_zh=f"按印出的合计推算，{last}年末库存 {end_inv:.2f} 万㎡，去化周期 {cycle:.1f} 个月"))
        rate = self._base_rate(self.aggregate, stock, base_cycle)
        if not missing(rate):
            end_inv, bcycle, _ = project_cycle(start, p_sup, {y: rate for y in years}, years)
            bmissed = not missing(self.target) and bcycle > self.target
            out.append(Check(
                f"{last} cycle at {ds.base_year} sales", self.tables,
                scope_label(ds, self.aggregate, last), self.target, bcycle,
                f"if sales stay at the {ds.base_year} rate {rate:.2f} 万m²/yr (printed totals): "
                f"inventory {start:.2f} + supply {sum(p_sup.values()):.2f} − sales {rate * len(years):.2f}"
                f" → {end_inv:.2f} 万m² at end {last}; cycle {bcycle:.1f} months "
                f"{self.vs_target}", (FINDING if bmissed else OK) if at_target else INFO,
                key=f"baserate:{rel['supply']}:{self.aggregate}:printed", unit="months",
                scope_id=self.aggregate, year=str(last), step=1.0, verdict=UNCLEAR,
                caused_by=(f"baserate:{rel['supply']}:{self.aggregate}",),
                severity=MATERIAL if bmissed and at_target else "",
                note_zh=f"按印出的合计、销售维持{ds.base_year}年水平推算，{last}年末去化周期 "
                f"{bcycle:.1f} 个月"))
        return out
