"""Check families about the plan's rules for land: the land-supply rules applied to the first plan
year, the directives the text gives individual districts, and the plot ratios the text states
against those the supply and land tables imply. Land in hectares, floor area in 万m² (so floor
area ÷ land in 万m²/ha equals the plot ratio)."""
from __future__ import annotations

import math

from model.audit.core import (
    ALL, DERIVED, DIFFERENT, FINDING, INFO, MATERIAL, METHOD, MINOR, OK, PRINTED, ROW_SUM, UNCLEAR,
    UNIFORM_SHARE, Check, Dataset, region_year_table, rule_thresholds, printed_total, scope_label,
    source_of, split_note, split_note_zh, uniform_ratio, years_label,
)
from model.audit.market import implied_sales_10k_m2


def rule_names(ds: Dataset) -> dict[tuple[str, float], str]:
    """Check name per rule (label, threshold); the suspension threshold is added to the name when
    two rules share a source label."""
    rules = rule_thresholds(ds)
    labels = [r[0] for r in rules]
    return {(label, suspend): (f"land rule {label}" if labels.count(label) == 1
                               else f"land rule {label} (> {suspend:g} months)")
            for label, suspend, _ in rules}


def check_land_rules(ds: Dataset, relations: list[dict]) -> list[Check]:
    """The plan's own land rules applied to its first-plan-year land guidance.

    For each rule the dataset states (a suspension threshold, and for the national rule a band
    where land may only match what is revitalised): a finding where the base-year cycle is above
    the suspension threshold yet land is planned; in the revitalise band the allowed amount is
    not stated by the plan, so the row is information (no computed value), not a finding.

    Land guidance printed only as city totals is split over the regions as the Dataset splits it
    (said in the note); a region's land is then the split's, not the plan's: a breach is minor
    (the plan keeps the rule if its city total leaves that region out) and its figure derived.
    """
    out = []
    first = ds.plan_years[0]
    names = rule_names(ds)
    for rel in relations:
        cyc = ds.table(rel["cycle_table"])
        land = region_year_table(ds, rel["land_table"], "land_ha")
        split, split_zh = split_note(ds, rel["land_table"]), split_note_zh(ds, rel["land_table"])
        land_first = dict(zip(land.loc[land["year"] == first, "region_id"],
                              land.loc[land["year"] == first, "land_ha"]))
        tables = f"{source_of(ds, rel['cycle_table'])}; {source_of(ds, rel['land_table'])}"
        for rid, cycle in zip(cyc["region_id"], cyc["cycle_months"]):
            planned = float(land_first.get(rid, 0.0))
            gives = (f"the split gives it {planned:.2f} ha in {first} ({split})" if split
                     else f"the plan gives {planned:g} ha in {first}")
            gives_zh = (f"{split_zh}，{first}年约 {planned:.2f} 公顷" if split
                        else f"规划{first}年仍安排 {planned:g} 公顷")
            band = (f"{gives} and the plan does not state what is revitalised" if split
                    else f"the plan gives {planned:g} ha and does not state what is revitalised")
            band_zh = (f"{split_zh}，{first}年约 {planned:.2f} 公顷" if split
                       else f"规划安排 {planned:g} 公顷")
            for label, suspend, revitalise in rule_thresholds(ds):
                name = names[(label, suspend)]
                key = f"rule:{label}:{suspend:g}:{rel['land_table']}:{rid}"
                if cycle > suspend:
                    status = FINDING if planned > 0 else OK
                    # With a city total, the plan keeps the rule if the total goes to regions
                    # at or below the threshold; when there are none, the total itself breaks it.
                    nowhere = split and all(c > suspend for c in cyc["cycle_months"])
                    severity = ((MINOR if split and not nowhere else MATERIAL)
                                if status == FINDING else "")
                    if not split or status != FINDING:
                        keeps = ""
                    elif nowhere:
                        total = float(land.loc[land["year"] == first, "land_ha"].sum())
                        keeps = (f"; every region's cycle is above {suspend:g} months, so the "
                                 f"city total of {total:g} ha itself breaks the rule")
                    else:
                        keeps = (f"; the plan keeps the rule only if its city total puts none "
                                 f"in {rid}")
                    out.append(Check(
                        name, tables, scope_label(ds, rid, first), planned, 0.0,
                        f"{label}: {ds.base_year} cycle {cycle:g} months > {suspend:g} → no new land "
                        f"until it falls below {suspend:g}; {gives}" + keeps,
                        status, key=key, unit="ha", scope_id=rid, year=str(first), step=0.01,
                        verdict=UNCLEAR, severity=severity,
                        printed_as=DERIVED if split else PRINTED,
                        note_zh=f"{label}：{ds.name_zh(rid)}{ds.base_year}年去化周期 {cycle:g} 个月，超过 "
                        f"{suspend:g} 个月应暂停新增住宅用地，但{gives_zh}"))
                elif revitalise is not None and cycle > revitalise:
                    out.append(Check(
                        name, tables, scope_label(ds, rid, first), planned, math.nan,
                        f"{label}: {ds.base_year} cycle {cycle:g} months in ({revitalise:g}, "
                        f"{suspend:g}] → land only up to what is revitalised in {first} "
                        f"(盘活多少、供应多少); {band}", INFO, key=key, unit="ha", scope_id=rid,
                        year=str(first),
                        printed_as=DERIVED if split else PRINTED,
                        note_zh=f"{label}：{ds.name_zh(rid)}去化周期 {cycle:g} 个月，新增用地不得超过当年"
                        f"盘活存量；{band_zh}，未说明盘活规模"))
    return out


def check_land_directives(ds: Dataset, relations: list[dict]) -> list[Check]:
    """What the text tells individual districts about land, against the land and supply tables.

    Relation: {directives: TABLE, land_table, supply, inventory[, demand]}. stop_new_land: land planned over
    the plan years should be 0. cap_sales_plus_share: supply each year at most the base-year
    annual sales (inventory ÷ cycle × 12) × (1 + cap_share); one check per directive, printed =
    the largest yearly supply. restrict (严控): no number to check; listed as information.
    """
    out = []
    years = ds.plan_years
    for rel in relations:
        directives = ds.table(rel["directives"])
        land, sup = ds.table(rel["land_table"]), ds.table(rel["supply"])
        inv = ds.table(rel["inventory"])
        l_src, s_src = source_of(ds, rel["land_table"]), source_of(ds, rel["supply"])
        land_total_main = float(land["land_ha"].sum())
        for d in directives.itertuples(index=False):
            rid = d.region_id
            land_r = land[land["region_id"] == rid]
            ha = float(land_r["land_ha"].sum())
            printed_ha = printed_total(ds, rel["land_table"], "land_ha", rid, ALL)
            key = f"directive:{d.directive}:{rid}"
            quote = f"{d.source}: “{d.quote_zh}”"
            if d.directive == "stop_new_land":
                status = FINDING if ha > 0 else OK
                out.append(Check(
                    "district land directive", f"{d.source}; {l_src}",
                    scope_label(ds, rid, years_label(years)), ha, 0.0,
                    f"{quote} — yet {l_src} gives {ha:.2f} ha over {years_label(years)}"
                    + ("" if math.isnan(printed_ha) else f" (printed total {printed_ha:g})")
                    + ", " + ", ".join(f"{int(y)}: {v:g}" for y, v in zip(land_r["year"], land_r["land_ha"])),
                    status, key=key, unit="ha", scope_id=rid, year=years_label(years), step=0.01,
                    verdict=UNCLEAR, severity=MATERIAL if status == FINDING else "",
                    printed_as=ROW_SUM if len(land_r) > 1 else "printed",
                    note_zh=f"{d.source}要求{ds.name_zh(rid)}“{d.quote_zh}”，但{l_src}仍安排 "
                    f"{ha:.2f} 公顷"))
            elif d.directive == "cap_sales_plus_share":
                row = inv[inv["region_id"] == rid]
                if row.empty:
                    continue
                stock, cycle = float(row["inventory_10k_m2"].iloc[0]), float(row["cycle_months"].iloc[0])
                sales = implied_sales_10k_m2(stock, cycle)
                cap = sales * (1 + float(d.cap_share))
                sup_r = sup[sup["region_id"] == rid]
                by_year = dict(zip(sup_r["year"].astype(int), sup_r["supply_10k_m2"].astype(float)))
                over = {y: v for y, v in by_year.items() if v > cap + 0.005}
                peak = max(by_year.values()) if by_year else math.nan
                dem = ds.table(rel["demand"]) if rel.get("demand") else None
                fc = ""
                if dem is not None and rid in set(dem["region_id"]):
                    first = float(dem[(dem["region_id"] == rid) & (dem["year"] == years[0])]["demand_10k_m2"].sum())
                    # 年度去化量 is the year's absorption, i.e. sales (the plan's footnote on the
                    # cycle: 去化 means selling, measured from the previous 12 months' sales), not
                    # a forecast; against the forecast the cap holds only because the supply
                    # table repeats the demand table.
                    fc = (f"; against the plan's own {years[0]} demand forecast ({first:g}) the cap "
                          f"would be {first * (1 + d.cap_share):.2f} and met, but only because "
                          f"{s_src} repeats that forecast, {first / sales:.2f}× today's sales rate; "
                          f"absorption (去化量) is sales, as the plan's cycle is measured, so the "
                          f"cap on today's sales stands")
                out.append(Check(
                    "district land directive", f"{d.source}; {s_src}; {source_of(ds, rel['inventory'])}",
                    scope_label(ds, rid, years_label(sorted(over)) if over else years_label(years)),
                    peak, cap,
                    f"{quote} — annual sales {stock:g} ÷ {cycle:g} × 12 = {sales:.2f} 万m², cap "
                    f"{cap:.2f}; {s_src} supplies "
                    + ", ".join(f"{y}: {v:g}" for y, v in by_year.items())
                    + (f" — above the cap in {len(over)} years by {sum(v - cap for v in over.values()):.2f} "
                       f"万m² in all" if over else "") + fc,
                    FINDING if over else OK, key=key, unit="10k_m2", scope_id=rid,
                    year=years_label(sorted(over)) if over else "", step=0.01, verdict=UNCLEAR,
                    severity=MATERIAL if over else "",
                    note_zh=f"{d.source}要求{ds.name_zh(rid)}“{d.quote_zh}”：年度去化量 {sales:.2f} 万㎡，"
                    f"上限 {cap:.2f} 万㎡；{s_src}年供应最高 {peak:g} 万㎡"
                    + (f"，{len(over)} 年超限" if over else "")))
            else:
                out.append(Check(
                    "district land directive", f"{d.source}; {l_src}", scope_label(ds, rid), ha,
                    math.nan, f"{quote} (严控: no number to check) — {l_src} gives {ha:.2f} ha, "
                    f"{ha / land_total_main:.1%} of the districts' land", INFO, key=key, unit="ha",
                    scope_id=rid,
                    note_zh=f"{d.source}要求{ds.name_zh(rid)}“{d.quote_zh}”（无量化标准），{l_src}安排 {ha:.2f} 公顷"))
    return out


def check_plot_ratios(ds: Dataset, relations: list[dict]) -> list[Check]:
    """Plot ratios the text states against supply ÷ land over the plan years.

    Relation: {ratios: TABLE, pairs: [{supply, land_table}, ...]}; each stated row is matched with
    the pair whose tables hold its region (the city: all rows of the first pair). Floor area sold
    is at most the gross floor area a plot ratio allows, so supply ÷ land above the stated ratio
    means too little land for the supply (or a higher ratio than stated). most_new_plots:
    a finding (material); project_type: a finding about one kind of project (minor, different
    quantity); some_plots: not binding on the average, information.
    """
    out = []
    for rel in relations:
        stated = ds.table(rel["ratios"])
        for r in stated.itertuples(index=False):
            pair = _pair_for(ds, rel["pairs"], r.region_id)
            if pair is None:
                continue
            sup, land = ds.table(pair["supply"]), ds.table(pair["land_table"])
            if r.region_id != ds.city.region_id:
                sup, land = sup[sup["region_id"] == r.region_id], land[land["region_id"] == r.region_id]
            supply, ha = float(sup["supply_10k_m2"].sum()), float(land["land_ha"].sum())
            implied = supply / ha if ha else math.nan
            need = supply / r.plot_ratio_max
            tables = f"{r.source}; {source_of(ds, pair['supply'])}; {source_of(ds, pair['land_table'])}"
            above = implied > r.plot_ratio_max + 0.05
            printed_note = ""
            if r.region_id == ds.city.region_id:
                ps = printed_total(ds, pair["supply"], "supply_10k_m2")
                pl = printed_total(ds, pair["land_table"], "land_ha")
                if not (math.isnan(ps) or math.isnan(pl)):
                    printed_note = f"; with the printed totals {ps:g} ÷ {pl:g} = {ps / pl:.2f}"
            uniform = _uniform_ratio(ds.table(pair["supply"]), ds.table(pair["land_table"]))
            if r.applies_to == "most_new_plots":
                status, severity, verdict = (FINDING, MATERIAL, UNCLEAR) if above else (OK, "", "")
                if above and uniform is not None:
                    verdict = METHOD
            elif r.applies_to == "project_type":
                status, severity, verdict = (FINDING, MINOR, DIFFERENT) if above else (OK, "", "")
            else:
                status, severity, verdict = INFO, "", ""
            rng = (f"{r.plot_ratio_min:g}–{r.plot_ratio_max:g}" if not math.isnan(r.plot_ratio_min)
                   else f"≤ {r.plot_ratio_max:g}")
            out.append(Check(
                "plot ratio", tables, scope_label(ds, r.region_id), float(r.plot_ratio_max), implied,
                f"{r.source} states plot ratio {rng} (“{r.applies_to_zh}”, {r.applies_to}); supply "
                f"{supply:.2f} 万m² ÷ land {ha:.2f} ha = {implied:.2f}{printed_note}; at {r.plot_ratio_max:g} "
                f"the supply needs {need:.2f} ha, {need - ha:+.2f} ha on the tables"
                + (f"; every row-year of {source_of(ds, pair['land_table'])} is "
                   f"{source_of(ds, pair['supply'])} ÷ about {uniform:.2f} (within "
                   f"{UNIFORM_SHARE * 100:g} %): the land "
                   f"table was derived from supply at one plot ratio, not from the plots the text "
                   f"describes" if verdict == METHOD else ""),
                status, key=f"far:{r.region_id}:{r.applies_to}", unit="ratio",
                scope_id=r.region_id, step=0.1, severity=severity, verdict=verdict,
                note_zh=f"{r.source}称容积率{rng}（“{r.applies_to_zh}”），而规划供应 {supply:.2f} 万㎡ ÷ 用地 "
                f"{ha:.2f} 公顷 = {implied:.2f}；按 {r.plot_ratio_max:g} 计需用地 {need:.2f} 公顷"))
    return out


def _uniform_ratio(sup, land) -> float | None:
    """The common supply ÷ land ratio of the two tables' row-years (at least 3) when it is
    uniform (:func:`~model.audit.core.uniform_ratio`: the land table is the supply table ÷ one
    plot ratio), else None."""
    join = [c for c in ("region_id", "year") if c in sup.columns and c in land.columns]
    merged = sup[join + ["supply_10k_m2"]].merge(land[join + ["land_ha"]], on=join).dropna()
    merged = merged[merged["land_ha"] > 0]
    if len(merged) < 3:
        return None
    return uniform_ratio(merged["supply_10k_m2"] / merged["land_ha"])


def _pair_for(ds: Dataset, pairs: list[dict], region_id: str) -> dict | None:
    if region_id == ds.city.region_id:
        return pairs[0] if pairs else None
    for pair in pairs:
        if region_id in set(ds.table(pair["supply"])["region_id"]):
            return pair
    return None
