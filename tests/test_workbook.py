"""plan.xlsx, read back with openpyxl: the plan's tables in the plan's layout (表45, 表48, 表19,
表34) with Chinese headers, units and a source line, figures rounded as the plan prints them and
equal to the run's CSVs and to the plan's own tables; no workbook but a complete run when there
is no plan; extra columns and tables ignored."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from openpyxl import load_workbook

from model import results, workbook
from model.csvio import read_csv
from model.data import DEFAULT_DATASET
from model.labels import Labels
from tests.test_sweep import job_dir, scenario_sweep  # noqa: F401 (fixture)

SHEETS_ZH = ["供应（表45）", "用地（表48）", "库存与去化周期（表19）", "指标（表34）", "供地规则", "说明"]


@pytest.fixture(scope="module")
def paw(scenario_sweep):  # noqa: F811
    """The plan_as_written run directory and its workbook."""
    run_dir = job_dir(scenario_sweep, "plan_as_written")
    return run_dir, load_workbook(run_dir / "plan.xlsx")


def rows(ws) -> list[tuple]:
    return [r for r in ws.iter_rows(values_only=True)]


def find_row(ws, first: str) -> tuple:
    (row,) = [r for r in rows(ws) if r[0] == first]
    return row


def test_sheets_titles_units_and_sources(paw):
    _, wb = paw
    assert wb.sheetnames == SHEETS_ZH
    for name in SHEETS_ZH[:-1]:
        ws = wb[name]
        assert ws["A1"].value and ws["A2"].value.startswith("单位："), name
        sources = [r[0] for r in rows(ws) if isinstance(r[0], str) and r[0].startswith("资料来源")]
        assert len(sources) == 1 and "plan_as_written" in sources[0], name
    assert wb["供应（表45）"]["A2"].value == "单位：万㎡"
    assert wb["用地（表48）"]["A2"].value == "单位：公顷"


def test_supply_sheet_is_table_45(paw):
    run_dir, wb = paw
    ws = wb["供应（表45）"]
    assert rows(ws)[2] == ("区域", "2026年", "2027年", "2028年", "2029年", "2030年",
                           "2026—2030年合计")
    guidance = read_csv(DEFAULT_DATASET / "supply_guidance.csv")
    printed = guidance[(guidance["region_id"] == "main_city") & (guidance["year"] == 2026)]
    main = find_row(ws, "主城区")
    assert main[1] == float(printed["supply_10k_m2"].iloc[0]) == 119.7  # 表45 as printed
    assert main[1:6] == (119.7, 239.4, 149.63, 59.85, 29.93)
    assert main[6] == 598.51  # 表45's main-city row sums to 598.51, printed as 574.93 (audit)
    plan = read_csv(run_dir / "plan.csv")
    for name, region in (("宁城县", "ningcheng"), ("敖汉旗", "aohan")):
        row = find_row(ws, name)
        values = plan[plan["region"] == region].sort_values("year")["supply_10k_m2"]
        assert list(row[1:6]) == [round(v, 2) for v in values]
    total = find_row(ws, "合计")
    assert total[6] == 1231.31  # the rows of 表45, not its printed 1089.46
    assert ws.cell(row=4, column=2).number_format == "0.00"


def test_land_sheet_is_table_48(paw):
    _, wb = paw
    ws = wb["用地（表48）"]
    assert rows(ws)[2][-1] == "占全市比例（%）"
    main = find_row(ws, "主城区")
    assert main[1:7] == (58.91, 117.83, 73.64, 29.46, 14.73, 294.57)  # 表48's row
    total = find_row(ws, "合计")
    assert total[6] == 607.57 and total[7] == 100
    assert main[7] == round(100 * 294.57 / 607.57, 2)


def test_stock_sheet_is_table_19(paw):
    run_dir, wb = paw
    ws = wb["库存与去化周期（表19）"]
    header = rows(ws)[2:4]
    assert header[0][1] == "2025年末（期初）" and header[0][3] == "2026年末"
    assert header[1][1:3] == ("商品住宅库存（万㎡）", "去化周期（个月）")
    main = find_row(ws, "主城区")
    assert main[1:3] == (271.53, 33)  # 表19
    assert find_row(ws, "元宝山区")[1:3] == (25.62, 58)
    city = find_row(ws, "全市")
    assert city[1] == 482.0  # 表19's 全市 482.00
    plan = read_csv(run_dir / "plan.csv")
    end = plan[plan["year"] == 2030]
    assert city[-2] == round(end["inventory_end_10k_m2"].sum(), 2)
    assert city[-1] == round(12 * end["inventory_end_10k_m2"].sum() / end["sales_10k_m2"].sum(), 1)
    assert city[-1] == 23.0
    # 2028 main city 42.3 months: above the 12–18 band, in red
    cell = next(c for c in ws[5] if c.value == 42.3)
    assert cell.font.color.rgb.endswith("B71C1C")


def test_targets_sheet_is_table_34(paw):
    run_dir, wb = paw
    ws = wb["指标（表34）"]
    assert rows(ws)[2] == ("指标名称", "范围", "年限", "单位", "规划目标", "本方案", "差距",
                           "是否达成", "约束方式", "来源", "类别")
    kinds = [r[10] for r in rows(ws)[3:] if r[1]]
    assert kinds[0] == "规划目标" and kinds == sorted(kinds, key=["规划目标", "模型设定", "规则"].index)
    body = [r for r in rows(ws)[3:] if r[1]]
    by = {(r[0], r[1], r[2]): r for r in body}
    cycle = by[("商品住宅去化周期", "全市", "2030年")]
    assert cycle[3:8] == ("个月", 18, 23.0, 5.0, "✗ 未达成")
    vacancy = by[("住房空置率", "主城区", "2030年")]
    assert vacancy[3:6] == ("%", 18, 33.68)
    land = by[("新增城镇住宅用地供应量", "全市", "2026—2030年")]
    assert land[3:7] == ("公顷", 574.93, 607.57, 32.64)
    targets = read_csv(run_dir / "targets.csv")
    assert len(body) == (targets["target_id"] != "land_rule").sum()
    rule = wb["供地规则"]
    assert len([r for r in rows(rule)[3:] if r[1]]) == (targets["target_id"] == "land_rule").sum()
    first = next(r for r in rows(rule) if r[0] == "元宝山区")
    assert first[1:8] == (2026, 58, "暂停新增商品住宅用地", 0, 4.48, 4.48, "✗ 违反")


def test_about_sheet(paw):
    run_dir, wb = paw
    about = {r[0]: r[1] for r in rows(wb["说明"]) if r[0]}
    assert about["情景"] == "plan_as_written"
    assert about["运行目录"] == str(run_dir)
    assert "保留两位小数" in about["取整"]


def test_english_workbook_and_extra_columns(paw, tmp_path):
    run_dir, _ = paw
    plan = read_csv(run_dir / "plan.csv").assign(deliverable_10k_m2=1.0)  # a future column
    targets = read_csv(run_dir / "targets.csv")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    tables = {"plan": plan, "targets": targets, "uncertainty": pd.DataFrame({"x": [1.0]})}
    path = workbook.write_plan_workbook(tmp_path, tables, summary, Labels("en"))
    wb = load_workbook(path)
    assert wb.sheetnames == ["Supply (表45)", "Land (表48)", "Stock and cycle (表19)",
                             "Targets (表34)", "Land rule", "About"]
    ws = wb["Supply (表45)"]
    assert rows(ws)[2][0] == "Region" and rows(ws)[2][-1] == "Total 2026–2030"
    assert find_row(ws, "Main city")[1] == 119.7 and find_row(ws, "Total")[6] == 1231.31


def test_no_plan_no_workbook_and_the_run_completes(tmp_path):
    relaxation = pd.DataFrame({"target_key": ["cycle_months[city,2030]"], "required": [5.0]})
    results.write_run(tmp_path, {"relaxation": relaxation},
                      {"status": "infeasible", "report_lang": "zh"})
    assert (tmp_path / "summary.json").is_file() and (tmp_path / "relaxation.csv").is_file()
    assert not (tmp_path / "plan.xlsx").exists()
    assert workbook.plan_workbook({}, {"status": "input_error"}) is None


def test_rounded_as_printed():
    assert workbook.rounded(400.00000000000006, 2) == 400.0
    assert workbook.rounded(-0.0001, 2) == 0.0
    assert math.copysign(1, workbook.rounded(-0.0001, 2)) > 0  # no "-0.00"
    assert workbook.rounded(math.inf, 1) == "∞" and workbook.rounded(math.nan, 1) is None


def test_observed_years_are_marked(paw, tmp_path):
    """Mid-term review: the years fixed to the actuals say so in the headers."""
    run_dir, _ = paw
    plan = read_csv(run_dir / "plan.csv")
    plan["observed"] = plan["year"] <= 2027
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    wb = load_workbook(workbook.write_plan_workbook(tmp_path, {"plan": plan}, summary))
    assert rows(wb["供应（表45）"])[2][1:4] == ("2026年（实际）", "2027年（实际）", "2028年")
    assert rows(wb["库存与去化周期（表19）"])[2][3] == "2026年末（实际）"
    assert wb.sheetnames == ["供应（表45）", "用地（表48）", "库存与去化周期（表19）", "说明"]
