"""The mid-term review's note says only what the run's tables support (issue 12 follow-up):
the "no adjustment needed" verdict names only targets the dataset has and the re-plan meets,
and says what the re-plan misses (the band floor, unmet demand, a region sold out, a total
exceeded); candidates for targets the dataset does not model are "not applicable"; infeasible
candidates show their smallest feasible level. Small hand-made tables for the wording, and
three_year_city (no main city, no vacancy figures) end to end."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd

from model.review import (
    candidate_groups,
    relaxation_levels,
    relaxation_text,
    replan_status,
    target_change,
)
from model.review_note import relaxation_note, status_items

TESTS = Path(__file__).resolve().parent
THREE_YEAR_CITY = TESTS / "data" / "three_year_city"
ACTUALS_2026 = TESTS / "data" / "three_year_city_actuals_2026.csv"


def _targets(rows):
    cols = ["target_key", "target_id", "scope", "period", "unit", "sense", "required",
            "achieved_replan", "shortfall_replan", "met_replan", "kind", "observed_year"]
    return pd.DataFrame(rows, columns=cols)


COMP = pd.DataFrame({"region": ["city", "east"], "name_zh": ["合成市", "东区"]})


def test_replan_status_lists_only_rows_that_exist_and_says_what_is_missed():
    t = _targets([
        ("cycle_months[city,2029]", "cycle_months", "city", "2029", "months", "max", 18, 4.3, 0,
         True, "target", False),
        ("cycle_floor_months[city,2029]", "cycle_floor_months", "city", "2029", "months", "min",
         12, 4.3, 7.7, False, "check", False),
        ("land_total_ha[city,2027-2029]", "land_total_ha", "city", "2027-2029", "ha", "max",
         113, 180, 67, False, "target", False),
        ("unmet_demand_10k_m2[city,2027-2029]", "unmet_demand_10k_m2", "city", "2027-2029",
         "10k_m2", "max", 0, 0, 0, True, "check", False),
        # an observed year's row is the past: neither kept nor missed by the re-plan
        ("land_rule[east,2027]", "land_rule", "east", "2027", "ha", "max", 0, 5, 5, False, "rule",
         True),
    ])
    status = replan_status(t)
    assert set(status["target_id"]) == {"cycle_months", "cycle_floor_months", "land_total_ha",
                                        "unmet_demand_10k_m2"}
    met, missed = status_items(status, COMP, {}, "zh")
    text = "；".join(met + missed)
    assert "保障性住房" not in text and "空置率" not in text       # not in the dataset
    assert any("去化周期下限" in m and "4.3个月" in m and "12—18个月合理区间" in m for m in missed)
    assert any("住宅用地总量" in m and "180.00公顷" in m and "超出67.00公顷" in m for m in missed)
    assert any("去化周期（2029）不高于18.0个月" in m for m in met)
    assert not any("用地" in m for m in met)


def test_relaxation_as_the_smallest_feasible_level():
    text = ("vacancy_share[city] 0.2 → 0.2923 share (+0.09235); "
            "vacancy_share[main_city] 0.18 → 0.2926 share (+0.1126)")
    assert relaxation_note(text, COMP, "zh") == "全市空置率29.23%、主城区空置率29.26%"
    assert relaxation_note(text, COMP, "en") == "city vacancy 29.23%, main city vacancy 29.26%"
    assert "116.20公顷" in relaxation_note("land_total_ha[city] 100 → 116.2 ha (+16.2)", COMP,
                                           "zh")


def test_relaxation_text_reads_back():
    """The note reads adjustments.csv's relaxation text back (model.review.relaxation_levels):
    what relaxation_text writes, at its 4 significant digits."""
    relax = pd.DataFrame({
        "group": ["vacancy_share[city]", "cycle_months[main_city]", "land_total_ha[city]"],
        "in_conflict": [True, True, False], "required": [0.2, 18.0, 574.93],
        "relaxed_to_joint": [0.292346, 23.41, 574.93], "relaxation_joint": [0.092346, 5.41, 0.0],
        "unit": ["share", "months", "ha"], "sense": ["max", "max", "max"]})
    assert relaxation_levels(relaxation_text(relax, "joint")) == [
        ("vacancy_share", "city", 0.2923, "share"), ("cycle_months", "main_city", 23.41, "months")]


def test_candidate_groups_not_applicable_same_value_same_plan():
    adj = pd.DataFrame({
        "candidate": ["keep_targets", "vacancy_20", "subsidised_10", "cycle_24", "land_minus_20"],
        "overrides": ["(targets as they stand)", "targets.vacancy.mode=hard",
                      "targets.subsidised_volume_10k_m2_per_year=10",
                      "targets.cycle_months_end=24", "targets.land_total_ha=162.4"],
        "target_change": ["none", "none", "none", "cycle_months[city] 18 → 24 months (+6)",
                          "land_total_ha[city] 203 → 162.4 ha (-40.6)"],
        "changes_nothing": [False, True, True, True, False],
    })
    targets = pd.DataFrame({"target_id": ["cycle_months", "land_total_ha",
                                          "subsidised_volume_10k_m2"]})
    g = candidate_groups(adj, targets)
    assert list(g["not_applicable"]["candidate"]) == ["vacancy_20"]
    assert list(g["same_value"]["candidate"]) == ["subsidised_10"]
    assert list(g["same"]["candidate"]) == ["cycle_24"]
    assert list(g["shown"]["candidate"]) == ["land_minus_20"]


def test_a_candidate_that_adds_a_target_is_a_change(three_year_city):
    """A subsidised volume on a dataset without a subsidised target adds a target: a change
    (never 'none', so never 'not applicable')."""
    from model.config import default_settings, with_overrides
    from model.inputs import build_inputs

    ds = THREE_YEAR_CITY
    base = default_settings(dataset=str(ds))
    keep = build_inputs(base, three_year_city)
    more = build_inputs(with_overrides(base, {"targets.subsidised_volume_10k_m2_per_year": 25}),
                        three_year_city)
    text, share, zh = target_change(keep, more)
    assert text != "none" and share > 0 and "25" in text and "25.00" in zh


def _review(tmp_path, dataset, actuals, **extra):
    from model.config import default_settings
    from model.run import run_model

    settings = default_settings(**{
        "dataset": str(dataset), "review.enabled": True, "review.actuals": str(actuals),
        "review.candidates": {"vacancy_20": ["targets.vacancy.mode=hard"],
                              "cycle_24": ["targets.cycle_months_end=24"],
                              "land_minus_20": ["targets.land_total_ha=x0.8"]},
        "review.combinations": [], "review.workers": 1, "review.replications": 10,
        "review.adjust": True, "review.current_course": True, "review.future_demand":
        "observed_ratio", "sim.replications": 10, "uncertainty.enabled": False,
        "solver.duals": False, **extra})
    out = run_model(settings, run_dir=tmp_path)
    assert out.status == "optimal", out.messages
    note = (tmp_path / "review_note.md").read_text(encoding="utf-8")
    english = (tmp_path / "review_note_en.md").read_text(encoding="utf-8")
    return out, note, english


def _key(note: str) -> str:
    return note.split("\n## ")[0]


def _no_ids_outside_brackets(note: str):
    """Candidate ids (vacancy_20) appear in Chinese prose only in brackets or table cells."""
    for line in note.splitlines():
        if line.startswith("|"):
            continue
        bare = re.sub(r"（[^）]*）|\([^)]*\)", "", line)
        assert not re.search(r"\b(vacancy|cycle|land|subsidised)_\w+", bare.replace(
            "keep_targets", "").replace("terminal.feed_share", "")), line


def test_three_year_city_note_claims_only_what_the_replan_meets(tmp_path):
    """three_year_city's re-plan ends below the 12-month floor and sells more land than the
    203 ha total (a soft target there): the note says so and never says all are kept; vacancy
    is not modelled there, so vacancy_20 is 'not applicable', not 'changes nothing'."""
    # nothing in the opening pipeline (as before the steady-state default for a city without
    # land history): the re-plan runs short of stock
    out, note, english = _review(tmp_path, THREE_YEAR_CITY, ACTUALS_2026,
                                 **{"timing.pipeline_10k_m2": 0})
    t = out.tables["targets"].set_index("target_key")
    assert not t.loc["cycle_floor_months[city,2028]", "met"]
    assert not t.loc["land_total_ha[city,2026-2028]", "met"]
    key = _key(note)
    assert "可同时满足" not in key and "均已满足" not in key
    verdict = next(line for line in key.splitlines() if "目标不需调整" in line)
    missed = verdict.split("未满足：")[1].split("；满足：")[0]
    kept = verdict.split("；满足：")[1]
    assert "去化周期下限" in missed and "住宅用地总量" in missed and "超出" in missed
    assert "住宅用地总量" not in kept and "空置率" not in kept
    assert "keep_targets" in verdict                      # holding them hard is feasible
    assert "空置率" not in verdict and "主城区" not in note
    # candidates: vacancy not modelled → not applicable, in words, id in brackets
    sec4 = note.split("## 四")[1]
    na = sec4.split("不适用（本数据集未模拟该目标）：")[1].split("\n\n")[1]
    assert "空置率目标改为硬约束（vacancy_20）" in na
    assert "vacancy_20" not in sec4.split("不适用")[0]
    assert "- 全市去化周期 18.0 → 24.0个月（cycle_24）" in sec4
    _no_ids_outside_brackets(note)
    # the observed year's land-rule breaches and the thresholds in words
    assert "2026年实际出让在2个区域·年份超出土地规则" in key and "东区2026年超出20.00公顷" in key
    assert "robust.chance_alpha" in key
    assert "not applicable (not modelled for this dataset)" in english
    assert "No target needs adjusting for feasibility" in english


def test_a_city_without_a_subsidised_target_and_a_sold_out_replan(tmp_path):
    """The new-user trial: no subsidised target, strong 2026 sales (observed_ratio demand), the
    re-plan runs regions out of stock, leaves demand unmet and exceeds the land total: none of it
    is claimed as kept, and subsidised housing is never named."""
    data = tmp_path / "city"
    shutil.copytree(THREE_YEAR_CITY, data)
    rows = (data / "targets.csv").read_text(encoding="utf-8").splitlines()
    (data / "targets.csv").write_text("\n".join(r for r in rows if "subsidised" not in r) + "\n",
                                      encoding="utf-8")
    actuals = tmp_path / "strong_2026.csv"
    actuals.write_text(
        "region_id,year,land_ha,supply_10k_m2,sales_10k_m2,purchased_10k_m2,"
        "inventory_end_10k_m2,vacancy_share,source\n"
        "east,2026,20,60,150,,30,,test\nwest,2026,18,50,110,,20,,test\n"
        "north,2026,6,20,40,,28,,test\nsouth,2026,10,30,50,,10,,test\n", encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    out, note, english = _review(run, data, actuals)
    plan = out.tables["plan"]
    assert (plan.loc[~plan["observed"], "inventory_end_10k_m2"] < 0.05).any()
    key = _key(note)
    assert "保障性住房" not in note and "subsidised" not in english.split("## ")[0]
    verdict = next(line for line in key.splitlines() if "目标不需调整" in line)
    assert "可同时满足" not in verdict
    missed = verdict.split("未满足：")[1].split("；满足：")[0]
    assert "库存售罄" in missed and "未满足需求" in missed and "去化周期下限" in missed
    assert "住宅用地总量" in missed
    assert "sold out" in english and "unmet demand" in english
