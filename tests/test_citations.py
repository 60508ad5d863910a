"""Citations come from the dataset (model/citations.py): Chifeng's reports cite 表45, 表48, 表19,
表34, §2.2.3, §2.4.1 and §6.1.1 because its data says so; another city's cite its own tables, or
nothing. (plan.xlsx and the comparison of a three_year_city sweep: tests/test_second_city.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from model.citations import for_summary, parts, run_citations
from model.config import default_settings
from model.data import DatasetError, load_dataset
from model.inputs import NATIONAL_LAND_RULE_SOURCE, land_rule_source
from model.labels import Labels
from model.workbook import sheet_name

CHIFENG_CITATIONS = {
    "supply_guidance": "表45", "district_supply_guidance": "表46", "land_guidance": "表48",
    "district_land_guidance": "表49", "base_inventory": "表19", "targets": "表34, 第五章",
    "land_rule": "§2.2.3", "cycle_band": "§2.4.1", "purchases": "§6.1.1",
}
CHIFENG_ONLY = ("表45", "表46", "表48", "表49", "表19", "表34", "§2.2.3", "§2.4.1", "§6.1.1")


def _summary(settings, ds):
    inputs = SimpleNamespace(land_rule_source=land_rule_source(settings, ds))
    return for_summary(settings, ds, inputs)


def test_chifeng_cites_its_tables_and_sections(chifeng):
    summary = _summary(default_settings(), chifeng)
    assert summary["citations"] == CHIFENG_CITATIONS
    assert summary["target_names_zh"]["land_total_ha[city]"] == "新增城镇住宅用地供应量"


def test_another_city_cites_its_own_tables_and_the_national_rule(three_year_city):
    cites = _summary(default_settings(dataset="tests/data/three_year_city"),
                     three_year_city)["citations"]
    assert cites == {"supply_guidance": "计划表1", "land_guidance": "计划表2",
                     "base_inventory": "住房统计", "targets": "计划正文",
                     "land_rule": NATIONAL_LAND_RULE_SOURCE}
    assert not any(c in v for v in cites.values() for c in CHIFENG_ONLY)


def test_a_band_or_rule_set_in_the_config_cites_nothing(chifeng):
    settings = default_settings(**{"objective.band_low_months": 10.0,
                                   "land.suspend_above_months": 30.0})
    cites = _summary(settings, chifeng)["citations"]
    assert "cycle_band" not in cites and "land_rule" not in cites
    assert run_citations(chifeng, "none")["supply_guidance"] == "表45"
    assert "land_rule" not in run_citations(chifeng, "none")


def test_labels_cite_by_role_and_leave_out_the_bracket_without_one():
    zh = Labels("zh", citations={"targets": "表34, 第五章", "supply_guidance": "表45"})
    assert (zh.cite_first("targets"), zh.cite_all("targets")) == ("表34", "表34与第五章")
    assert zh.bracket("supply_guidance") == "（表45）" and zh.bracket("cycle_band") == ""
    en = Labels("en", citations={"targets": "表34, 第五章"})
    assert en.cite_all("targets") == "表34 and 第五章"
    assert parts("§1.4, 表19、表32") == ["§1.4", "表19", "表32"]
    assert zh.indicator("purchased_10k_m2") == "收购存量商品住房"
    assert Labels("zh", citations={"purchases": "§6.1.1"}).indicator("purchased_10k_m2") == \
        "收购存量商品住房（§6.1.1）"
    # sheet names: the role words, and the table the dataset cites if any
    assert sheet_name("targets", zh) == "指标（表34）" and sheet_name("land", zh) == "用地"
    assert sheet_name("supply", Labels("en", citations={"supply_guidance": "T/1"})) == \
        "Supply (T_1)"  # no / in a sheet name


def test_target_names_are_the_datasets_own(chifeng, three_year_city):
    other = Labels.for_dataset(three_year_city, "zh")
    assert other.target_key("land_total_ha[city,2026-2028]") == \
        "住宅用地供应（合成市，2026—2028年）"
    assert other.target_name("land_total_ha") == "住宅用地供应"
    assert other.target_name("land_rule") == "住宅用地供应与去化周期挂钩规则"  # the model's own
    # Chifeng prints the vacancy target per scope (城镇…, 主城区…): the family name, scope beside
    L = Labels.for_dataset(chifeng)
    assert L.target_key("vacancy_share[main_city,2030]") == "住房空置率（主城区，2030年）"
    assert L.target_key("land_total_ha[city,2026-2030]") == \
        "新增城镇住宅用地供应量（全市，2026—2030年）"
    # a run's summary carries them to the reports, which read run directories only
    run = Labels("zh").for_run({"target_names_zh": {"land_total_ha[city]": "住宅用地供应"},
                                "citations": {"land_guidance": "计划表2"}})
    assert run.target_name("land_total_ha") == "住宅用地供应"
    assert run.cite("land_guidance") == "计划表2"
    assert Labels("zh").for_run({}).citations == {}  # a run from before: no citations, no error


def test_manifest_citations_must_map_roles_to_text(dataset_copy):
    manifest = dataset_copy / "manifest.yaml"
    text = manifest.read_text(encoding="utf-8").replace("  purchases: §6.1.1",
                                                         "  purchases: [§6.1.1]")
    manifest.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_dataset(dataset_copy)
    assert any("key 'citations' must map roles" in p for p in err.value.problems)
