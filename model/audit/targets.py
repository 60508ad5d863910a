"""Check families about stated rates and targets: growth rates against the start and end values
printed beside them, targets against the current level the plan reports, and targets against the
flows that could move them (vacancy, floor area per person)."""
from __future__ import annotations

import math

from model.audit.core import (
    FINDING, INFO, MATERIAL, MINOR, OK, UNCLEAR, Check, Dataset, missing, period_years,
    raw_table, resolve, scope_label, severity_of, source_of, target_name_zh, text_decimals,
    years_label,
)


# ---------------------------------------------------------------------------------------------
# Growth rates
# ---------------------------------------------------------------------------------------------
def compound_rate(start: float, end: float, years: int) -> float:
    """Average annual growth (a fraction) from start to end over ``years`` years."""
    if start <= 0 or years <= 0:
        return math.nan
    return (end / start) ** (1 / years) - 1


def check_growth_rates(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Stated average growth rates against the start and end values printed beside them.

    Relation: {table: stated_growth}. Start = start_value, else end − increase, else
    end ÷ (1 + total growth); computed = (end ÷ start)^(1/years) − 1 over end_year − start_year.
    Tolerance: half a unit of the stated rate's last digit, plus the rounding of the inputs carried
    through. Background statistics: minor at most.
    """
    out = []
    for rel in relations:
        table = rel["table"]
        frame, raw = ds.table(table), raw_table(ds, table)
        src_label = source_of(ds, table)
        for i, r in enumerate(frame.itertuples(index=False)):
            years = int(r.end_year) - int(r.start_year)
            if not missing(r.start_value):
                start, how = float(r.start_value), f"{r.start_value:g}"
                start_half = 0.5 * 10 ** -text_decimals(raw["start_value"].iloc[i])
            elif not missing(r.increase):
                start, how = r.end_value - r.increase, f"{r.end_value:g} − {r.increase:g}"
                start_half = 0.5 * 10 ** -text_decimals(raw["increase"].iloc[i])
            elif not missing(r.total_growth_share):
                start = r.end_value / (1 + r.total_growth_share)
                how = f"{r.end_value:g} ÷ (1 {r.total_growth_share:+.1%})"
                start_half = start * 0.5 * 10 ** -text_decimals(raw["total_growth_share"].iloc[i]) \
                    / (1 + r.total_growth_share)
            else:
                continue
            computed = compound_rate(start, float(r.end_value), years)
            rate_half = 0.5 * 10 ** -text_decimals(raw["annual_growth_share"].iloc[i])
            carried = (1 + computed) * start_half / (start * years) if years else 0.0
            tol = rate_half + carried + 1e-9
            diff = abs(r.annual_growth_share - computed)
            status = OK if diff <= 1e-6 else ("rounding" if diff <= tol else FINDING)
            period_note = ""
            if str(r.rate_period) != f"{r.start_year}-{r.end_year}" and "-" in str(r.rate_period):
                period_note = (f"; the text states the rate for {r.rate_period} but gives values for "
                               f"{r.start_year} and {r.end_year}")
            note = (f"{r.name_zh} {r.start_year}→{r.end_year}: start {how} = {start:,.2f}, end "
                    f"{r.end_value:,g} → {computed:+.2%} a year over {years} years; stated "
                    f"{r.annual_growth_share:+.1%}{period_note}")
            why = getattr(r, "why", None)
            if status == FINDING and isinstance(why, str) and why:
                note += f"; {why}"
            verdict = getattr(r, "verdict", None)
            verdict = verdict if isinstance(verdict, str) and verdict else UNCLEAR
            step = 10 ** -text_decimals(raw["annual_growth_share"].iloc[i])
            out.append(Check(
                "stated growth rate", f"{r.source}", scope_label(ds, r.scope, years_label(
                    range(int(r.start_year), int(r.end_year) + 1))),
                float(r.annual_growth_share), computed, note, status,
                key=f"growth:{r.quantity}:{r.scope}:{r.start_year}:{r.end_year}", unit="share",
                scope_id=r.scope, year=f"{r.start_year}-{r.end_year}", step=step, decision=False,
                verdict=verdict if status == FINDING else "",
                severity=severity_of(r.annual_growth_share, computed, step, decision=False)
                if status == FINDING else "",
                note_zh=f"{r.name_zh}：{r.start_year}年 {start:,.2f}，{r.end_year}年 {r.end_value:,g}，"
                f"实际年均{'增长' if computed >= 0 else '下降'} {abs(computed):.2%}，文中称 "
                f"{abs(r.annual_growth_share):.1%}（{src_label}）"))
    return out


# ---------------------------------------------------------------------------------------------
# Targets against the current level
# ---------------------------------------------------------------------------------------------
def check_target_levels(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Targets against the level the plan reports for today.

    Relation entries: {target, scope, current: selector, pace: bool, why}. A target of sense min
    already reached (or max already undercut) is a finding ("already met": it asks for less than
    is done now) unless it is the largest possible share (100 %: a target to keep it), which is
    information. With ``pace: true`` the target is a cumulative amount over the plan period and
    the current figure a cumulative amount over its own period: the yearly paces are compared
    (printed = the target, computed = the current pace over the plan's length).
    """
    out = []
    plan_n = len(ds.plan_years)
    for i, rel in enumerate(relations):
        target = ds.target_or_none(rel["target"], rel.get("scope", "city"))
        if target is None:
            continue
        cur = resolve(ds, rel["current"])
        indicator = target_name_zh(ds, target.target_id, target.scope)
        value = cur.value
        how = f"{cur.label}: {cur.value:g}"
        if rel.get("pace"):
            facts = ds.table("facts")
            hit = facts[(facts["fact"] == rel["current"]["fact"])
                        & (facts["scope"] == rel["current"].get("scope", "city"))]
            cur_years = len(period_years(str(hit["period"].iloc[0]))) if not hit.empty else plan_n
            value = cur.value / cur_years * plan_n
            how = (f"{cur.label}: {cur.value:g} over {cur_years} years, {cur.value / cur_years:.2f} a "
                   f"year; the same pace over the plan's {plan_n} years")
        met = value >= target.value if target.sense == "min" else value <= target.value
        keep = met and target.unit == "share" and target.value >= 1.0 and abs(value - target.value) < 1e-9
        status = (INFO if keep else FINDING) if met else OK
        fmt = (lambda v: f"{v:.2%}") if target.unit == "share" else (lambda v: f"{v:g}")
        sense = "at least" if target.sense == "min" else "at most"
        note = (f"target {indicator} {sense} {fmt(target.value)} by {target.period} "
                f"({target.source}); now {fmt(value)} ({how})")
        if status == FINDING:
            note += " — already met: the target asks for less than is done now"
        elif keep:
            note += " — already met; the target keeps it"
        if rel.get("why"):
            note += f"; {rel['why']}"
        out.append(Check(
            "target vs current level", f"{target.source}; {cur.label}",
            scope_label(ds, target.scope, target.period), target.value, value, note, status,
            key=f"level:{target.target_id}:{target.scope}", unit=target.unit, scope_id=target.scope,
            year=target.period, step=10 ** -max(2, len(f"{target.value:g}".split(".")[-1])),
            decision=False, verdict=rel.get("verdict", UNCLEAR) if status == FINDING else "",
            severity=MINOR if status == FINDING else "",
            note_zh=f"目标“{indicator}”{target.period}年{'不低于' if target.sense == 'min' else '不高于'}"
            f" {fmt(target.value)}，而现状已达 {fmt(value)}（{cur.label}）"
            + ("，目标低于现状" if status == FINDING else "")))
    return out


# ---------------------------------------------------------------------------------------------
# Targets against the flows that could move them
# ---------------------------------------------------------------------------------------------
def check_target_flows(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Targets against the flows the plan itself sets out. Entries by ``kind``:

    vacancy: {target, scope, low_use, share, supply, sales, dwellings_sold}. Accounts =
      low-use accounts ÷ vacancy share; new dwellings = the scope's supply over the plan years ÷
      the base-year size of a dwelling sold (sales ÷ dwellings sold). Best case for the target:
      every new dwelling houses a new household and no low-use dwelling is added, so vacancy
      = low-use ÷ (accounts + new dwellings). A finding when even this is above the target; the
      note gives the low-use dwellings that would still have to be filled or removed.
    floor_area_per_capita: {target, scope, level, history_level, population, urban_share,
      supply, history_sales[, inflow]}. Urban population = population × urban share (the plan
      prints no urban population by year). Plan: (level × population + supply) ÷ population,
      with the population held constant and, more demanding, grown by ``inflow`` a year; a
      finding only when even the grown population leaves the plan's supply clearly (0.5 m²)
      above the target, information otherwise. History: the rise history_level → level needs (level − history_level) × population of
      new floor area, against the new homes sold over the history period.
    """
    out = []
    for i, rel in enumerate(relations):
        kind = rel.get("kind")
        if kind == "vacancy":
            out.extend(_vacancy(ds, rel))
        elif kind == "floor_area_per_capita":
            out.extend(_floor_area(ds, rel))
        else:
            raise ValueError(f"target_flows entry {i}: kind {kind!r} (expected vacancy or "
                             f"floor_area_per_capita)")
    return out


def _scope_supply(ds: Dataset, table: str, scope: str) -> float:
    frame = ds.table(table)
    if scope != ds.city.region_id:
        frame = frame[frame["region_id"] == scope]
    return float(frame["supply_10k_m2"].sum())


def _vacancy(ds: Dataset, rel: dict) -> list[Check]:
    scope = rel.get("scope", "city")
    target = ds.target_or_none(rel["target"], scope)
    if target is None:
        return []
    low = resolve(ds, {**rel["low_use"], "scope": scope})
    share = resolve(ds, {**rel["share"], "scope": scope})
    sales = resolve(ds, {**rel["sales"], "scope": scope})
    sold = resolve(ds, {**rel["dwellings_sold"], "scope": scope})
    accounts = low.value / share.value
    size_m2 = sales.value * 1e4 / sold.value
    supply = _scope_supply(ds, rel["supply"], scope)
    new_10k = supply * 1e4 / size_m2 / 1e4
    best = low.value / (accounts + new_10k)
    still = low.value - target.value * (accounts + new_10k)
    missed = best > target.value
    s_src = source_of(ds, rel["supply"])
    note = (f"{low.value:g} 万 low-use accounts = {share.value:.2%} → {accounts:.2f} 万 accounts; "
            f"{s_src} supply {supply:.2f} 万m² ÷ {size_m2:.1f} m² (the {ds.base_year} dwelling sold: "
            f"{sales.value:g} 万m² ÷ {sold.value:g}) = {new_10k:.2f} 万 new dwellings; even if every one "
            f"houses a new household, vacancy is {low.value:g} ÷ {accounts + new_10k:.2f} = {best:.2%} "
            f"against the target {target.value:.0%} ({target.source})")
    if missed:
        note += (f"; {still:.2f} 万 low-use dwellings more would have to be occupied, converted or "
                 f"demolished, a flow of that size the plan does not set out")
    return [Check(
        "target vs flows", f"{target.source}; {low.label}; {s_src}",
        scope_label(ds, scope, target.period), target.value, best, note,
        FINDING if missed else OK, key=f"flows:vacancy:{scope}", unit="share", scope_id=scope,
        year=target.period, step=0.01, verdict=UNCLEAR if missed else "",
        severity=MATERIAL if missed else "",
        note_zh=f"{ds.name_zh(scope)}现有低用电户 {low.value:g} 万户（{share.value:.2%}），共约 "
        f"{accounts:.2f} 万户；规划新增商品住宅约 {new_10k:.2f} 万套，即使全部由新增家庭入住，空置率"
        f"也只降到 {best:.2%}，高于 {target.value:.0%} 的目标"
        + (f"；还需消化、转化或拆除约 {still:.2f} 万套低用电住房，规划未安排相应措施" if missed else ""))]


def _floor_area(ds: Dataset, rel: dict) -> list[Check]:
    scope = rel.get("scope", "city")
    target = ds.target_or_none(rel["target"], scope)
    if target is None:
        return []
    level = resolve(ds, rel["level"])
    start = resolve(ds, rel["history_level"])
    pop = resolve(ds, rel["population"])
    urban = resolve(ds, rel["urban_share"])
    urban_pop = pop.value * urban.value
    stock = level.value * urban_pop
    supply = _scope_supply(ds, rel["supply"], scope)
    s_src = source_of(ds, rel["supply"])
    out = []
    needed = (target.value - level.value) * urban_pop
    high = (stock + supply) / urban_pop              # urban population held constant
    years = len(ds.plan_years)
    inflow = resolve(ds, rel["inflow"]).value if rel.get("inflow") else 0.0
    grown = urban_pop + inflow * years                # every migrant urban, no decline
    low = (stock + supply) / grown
    above = low > target.value + 0.5
    note = (f"urban population {pop.value:g} 万 × {urban.value:.2%} = {urban_pop:.2f} 万; housing "
            f"{level.value:g} m² × {urban_pop:.2f} = {stock:.1f} 万m²; + {s_src} supply {supply:.2f} → "
            f"{high:.2f} m² per person at a constant urban population"
            + (f", {low:.2f} if it grows by {inflow:g} 万 a year ({grown:.2f} 万)" if inflow else "")
            + f", against the target {target.value:g} ({target.source}); the target needs "
            f"{needed:.1f} 万m² net at a constant population")
    note += (" — the plan's own supply gives clearly more than the target under either population"
             if above else " — within reach of the target under the population assumptions, not a "
             "contradiction")
    out.append(Check(
        "target vs flows", f"{target.source}; {level.label}; {s_src}",
        scope_label(ds, scope, target.period), target.value, low, note,
        FINDING if above else INFO, key=f"flows:floor_area:{scope}", unit="m2_per_person",
        scope_id=scope, year=target.period, step=1.0, decision=False,
        verdict=UNCLEAR if above else "", severity=MINOR if above else "",
        note_zh=f"现有城镇住房约 {stock:.1f} 万㎡，加上规划供应 {supply:.2f} 万㎡，城镇人口不变时人均 "
        f"{high:.2f} ㎡" + (f"，城镇人口每年增加 {inflow:g} 万时人均 {low:.2f} ㎡" if inflow else "")
        + f"；目标 {target.value:g} ㎡"))
    sales = resolve(ds, rel["history_sales"])
    rise_needed = (level.value - start.value) * urban_pop
    ratio = rise_needed / sales.value if sales.value else math.nan
    unexplained = ratio > 1.1
    closing_pop = (level.value * urban_pop - sales.value) / start.value
    out.append(Check(
        "target vs flows", f"{level.label}; {sales.label}",
        scope_label(ds, scope, history_label(ds)),
        sales.value, rise_needed,
        f"floor area per person {start.value:g} → {level.value:g} m² needs "
        f"{level.value - start.value:.2f} × {urban_pop:.2f} 万 = {rise_needed:.1f} 万m² more housing at "
        f"a constant urban population, {ratio:.2f}× the {sales.value:g} 万m² of new homes sold "
        f"({sales.label}); the plan names no other source of that size. New sales alone would "
        f"close the gap only if the urban population had been {closing_pop:.1f} 万 at the start, "
        f"{closing_pop / urban_pop - 1:+.1%} on the latest (the plan prints no urban population by "
        f"year)" + (f". Read as the level at the end of {ds.history_years[0]} (like the "
                    f"{ds.base_year} figure), {start.value:g} leaves out {ds.history_years[0]}'s "
                    f"sales and the gap only widens: the finding holds under either reading"
                    if _first_history_year(ds, rel["history_level"]) else ""),
        FINDING if unexplained else OK, key=f"flows:floor_area_history:{scope}", unit="10k_m2",
        scope_id=scope, year=history_label(ds), step=0.01, decision=False,
        verdict=UNCLEAR if unexplained else "", severity=MINOR if unexplained else "",
        note_zh=f"人均住房面积由 {start.value:g} ㎡ 增至 {level.value:g} ㎡，按城镇人口不变需新增约 "
        f"{rise_needed:.1f} 万㎡，是同期新建商品住宅销售 {sales.value:g} 万㎡ 的 {ratio:.2f} 倍"))
    return out


def _first_history_year(ds: Dataset, sel: dict) -> bool:
    """True when a selector's period is the first history year (a level labelled with the year
    the history flows start in: the start of that year or its end)."""
    from model.audit.core import resolve_period
    period = resolve_period(ds, sel.get("period"))
    return bool(ds.history_years) and str(period) == str(ds.history_years[0])


def history_label(ds: Dataset) -> str:
    return years_label(ds.history_years)


__all__ = ["check_growth_rates", "check_target_levels", "check_target_flows", "compound_rate"]
