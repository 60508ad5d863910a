"""A short audit report for officials: audit_report.md and audit_report.html next to audit.csv.

Chinese first, with English. Material findings first; each finding that follows from another is
listed under it rather than on its own, so each row of the tables is one error to correct.
Figures carry their units (万㎡, 公顷, 个月, %, 套). The HTML is plain and needs no server.
"""
from __future__ import annotations

import html
import math
from pathlib import Path

from model.audit.core import (
    ALL, COPY, DEFAULT, DERIVED, DIFFERENT, FINDING, INFO, MATERIAL, METHOD, MINOR, ROUNDING, ROW_SUM, TYPO, UNCLEAR, Check, Dataset,
)
from model.audit.links import theme_rank
from model.labels import Labels

SEVERITY_ZH = {MATERIAL: "重大", MINOR: "一般", ROUNDING: "舍入级"}
SEVERITY_EN = {MATERIAL: "material", MINOR: "minor", ROUNDING: "rounding"}
VERDICT_ZH = {TYPO: "笔误", COPY: "抄录错误", DIFFERENT: "口径不同", METHOD: "方法问题",
              UNCLEAR: "原因不明"}
# What the "printed" column holds when it is not a figure as printed.
PRINTED_AS_ZH = {ROW_SUM: ("各行之和，非印出数字", "row sum, not printed"),
                 DERIVED: ("由印出数字推算", "derived from printed figures")}
ZH = Labels("zh")  # units as officials write them (万㎡, 公顷, 个月): model.labels
# Check name (or its start) → theme in Chinese.
THEMES_ZH = [
    ("printed total", "合计与分项不符"), ("printed share", "占比与合计不符"),
    ("districts vs main city", "片区之和与主城区不符"), ("same quantity", "同一数据两处不一致"),
    ("derived figure", "文中推导数据有误"), ("stated range", "文中所述区间与数据不符"),
    ("implied ratio", "隐含比值异常"), ("supply profile", "供应按固定比例分年"),
    ("supply method", "供应未扣减现有库存"), ("implied sales", "库存与去化周期隐含的销售"),
    ("stock-flow history", "历史库存与供销不衔接"), ("forecast vs", "需求预测高于基年市场"),
    ("claim: forecast matches market", "“基本匹配”的说法不成立"),
    ("forecast uplift vs stock", "库存越重的地区预测增幅越大"),
    ("peak cycle on the plan's path", "规划路径上去化周期先升后降"),
    ("lowest cycle on the plan's path", "规划路径上的最低去化周期"),
    ("stock identity", "库存、月均销售与去化周期不符"),
    ("land rule", "供地规则与规划用地冲突"), ("district land directive", "片区供地要求与用地表冲突"),
    ("plot ratio", "容积率与供应/用地之比不符"), ("stated growth rate", "年均增速与起止数值不符"),
    ("target vs current level", "目标低于现状"), ("target vs flows", "目标与可实现的变化不符"),
]


def theme_zh(check: str) -> str:
    if " cycle from the plan's tables" in check:
        return "按规划表格推算的期末去化周期未达目标"
    if " cycle at " in check:
        return "按基年销售推算的期末去化周期"
    for start, zh in THEMES_ZH:
        if check.startswith(start):
            return zh + ("（规划路径上）" if "on the plan's path" in check and start == "land rule"
                         else "")
    return check


def fmt_value(value: float, unit: str) -> str:
    """A figure with its unit, as an official would read it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit in ("share", "probability"):  # fractions (model.labels writes both as %)
        return f"{value * 100:.2f}%"
    if unit == "dwellings":
        return f"{value:,.0f} 套"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:,.2f} {ZH.unit(unit)}".strip()


def fmt_diff(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit in ("share", "probability"):
        return f"{value * 100:+.2f} 个百分点"
    if unit == "dwellings":
        return f"{value:+,.0f} 套"
    if unit == "ratio":
        return f"{value:+.2f}"
    return f"{value:+,.2f} {ZH.unit(unit)}".strip()


def _name_zh(ds: Dataset, key: str) -> str:
    name = ds.name_zh(key)
    if name == key and ds.has_table("supply_by_type"):
        types = ds.table("supply_by_type")
        hit = types[types["housing_type"] == key]
        if not hit.empty:
            return str(hit["name_zh"].iloc[0])
    return name


def scope_zh(ds: Dataset, c: Check) -> str:
    name = "合计" if c.scope_id in ("", ALL) else _name_zh(ds, c.scope_id)
    year = c.year if c.year not in ("", ALL) else ""
    if year:
        year = year.replace("–", "—")
        year = f"{year}年" if year[-1].isdigit() else year
    return f"{name} {year}".strip()


def _roots(findings: list[Check]) -> tuple[list[Check], dict[str, list[Check]]]:
    """Findings that follow from no other finding, and for each the findings under it."""
    by_key = {c.key: c for c in findings}
    children: dict[str, list[Check]] = {c.key: [] for c in findings}
    roots = []
    for c in findings:
        causes = [k for k in c.caused_by if k in by_key]
        if causes:
            children[causes[0]].append(c)
        else:
            roots.append(c)

    def descendants(key: str) -> list[Check]:
        out = []
        for child in children[key]:
            out.append(child)
            out.extend(descendants(child.key))
        return out

    return roots, {r.key: descendants(r.key) for r in roots}


def _rows(ds: Dataset, checks: list[Check], severity: str):
    findings = [c for c in checks if c.status == FINDING]
    roots, under = _roots(findings)
    for r in sorted((r for r in roots if r.severity == severity),
                    key=lambda c: (theme_rank(c.check), c.extra["id"])):
        yield r, under[r.key]


def _summary(ds: Dataset, checks: list[Check]) -> dict:
    findings = [c for c in checks if c.status == FINDING]
    roots, _ = _roots(findings)
    return {
        "checks": sum(not c.extra.get("members") for c in checks), "findings": len(findings),
        "default": sum(c.origin == DEFAULT and not c.extra.get("members") for c in checks),
        "info": sum(c.status == INFO for c in checks),
        "by_severity": {s: sum(c.severity == s for c in findings) for s in SEVERITY_ZH},
        "roots_by_severity": {s: sum(c.severity == s for c in roots) for s in SEVERITY_ZH},
    }


def write_report(ds: Dataset, checks: list[Check], out_dir: Path) -> tuple[Path, Path]:
    """Write audit_report.md and audit_report.html; return their paths."""
    out_dir = Path(out_dir)
    md, body = report_markdown(ds, checks), report_html(ds, checks)
    md_path, html_path = out_dir / "audit_report.md", out_dir / "audit_report.html"
    md_path.write_text(md, encoding="utf-8")
    html_path.write_text(body, encoding="utf-8")
    return md_path, html_path


def _intro(ds: Dataset, checks: list[Check]) -> tuple[str, str, str]:
    s = _summary(ds, checks)
    bs, rs = s["by_severity"], s["roots_by_severity"]
    title = f"{ds.manifest.get('title', ds.name)}：规划自洽性审查报告"
    dz = (f"，其中 {s['default']} 项为默认核查：数据集清单未列、由其已有表格推出的核对"
          if s["default"] else "")
    de = (f", {s['default']} of them default checks the dataset's tables allow, not listed in "
          f"its manifest" if s["default"] else "")
    zh = (f"本报告用规划文本自身的数据核对规划（数据集 {ds.name}，{s['checks']} 项核对{dz}）。共发现 "
          f"{s['findings']} 处不一致：重大 {bs[MATERIAL]} 处、一般 {bs[MINOR]} 处、舍入级 "
          f"{bs[ROUNDING]} 处；其中许多由同一错误引起，归并后需要更正的独立问题为重大 "
          f"{rs[MATERIAL]} 项、一般 {rs[MINOR]} 项、舍入级 {rs[ROUNDING]} 项（下表每行一项，"
          f"“由此引起”列出随之出错的其他数字）。差异 = 规划数字 − 复核计算；“规划数字”一般为规划所印，注明"
          f"“各行之和”的是表格各行相加所得。另有 {s['info']} 项"
          f"仅供参考，不属矛盾。")
    en = (f"This report checks the plan against its own figures (dataset {ds.name}, "
          f"{s['checks']} checks{de}). It finds {s['findings']} inconsistencies: {bs[MATERIAL]} "
          f"material, {bs[MINOR]} minor, {bs[ROUNDING]} at rounding level. Many follow from the "
          f"same error; the independent problems to correct are {rs[MATERIAL]} material, "
          f"{rs[MINOR]} minor and {rs[ROUNDING]} rounding (one per row below; 'follows' lists the "
          f"figures that are wrong because of it). Difference = the plan's figure − computed; the "
          f"plan's figure is as printed unless marked 'row sum' (the sum of its rows). "
          f"{s['info']} further figures are listed for information only and are not "
          f"contradictions.")
    return title, zh, en


HEADERS = ["编号 ID", "问题类型 Kind", "出处 Source", "范围 Scope", "规划数字 Plan's figure",
           "复核计算 Computed", "差异 Difference", "判断 Verdict", "说明 Explanation", "由此引起 Follows"]


def _cells(ds: Dataset, r: Check, under: list[Check]) -> list[str]:
    follows = ", ".join(c.extra["id"] for c in under)
    return [r.extra["id"], theme_zh(r.check), r.tables, scope_zh(ds, r),
            plan_figure(r), fmt_value(r.computed, r.unit),
            fmt_diff(r.difference, r.unit), f"{VERDICT_ZH.get(r.verdict, r.verdict)} {r.verdict}",
            r.note_zh or r.note, follows]


def plan_figure(r: Check) -> str:
    """The plan's figure with what it is when it is not printed as such (a row sum, a derived
    figure), and the year shown when the finding is one inconsistency over several years."""
    text = fmt_value(r.printed, r.unit)
    labels = []
    if r.printed_as in PRINTED_AS_ZH:
        labels.append("{}，{}".format(*PRINTED_AS_ZH[r.printed_as]))
    if r.extra.get("series_year"):
        labels.append(f"{r.extra['series_year']}年，差异最大 largest gap")
    return text + "".join(f"（{lab}）" for lab in labels)


def key_points(ds: Dataset, checks: list[Check]) -> list[str]:
    """One line per theme of the material problems: the theme, how many, their ids."""
    out = []
    rows = list(_rows(ds, checks, MATERIAL))
    themes: dict[str, list[str]] = {}
    for r, _ in rows:
        themes.setdefault(theme_zh(r.check), []).append(r.extra["id"])
    for theme, ids in themes.items():
        out.append(f"{theme}：{len(ids)} 项（{'、'.join(ids)}）")
    return out


def report_markdown(ds: Dataset, checks: list[Check]) -> str:
    title, zh, en = _intro(ds, checks)
    lines = [f"# {title}", "", "*Plan audit report: the plan checked against itself*", "", zh, "",
             en, "", "**要点（重大问题按类型） Key points (material problems by kind)**", ""]
    lines += [f"- {line}" for line in key_points(ds, checks)] + [""]
    for n, severity in enumerate((MATERIAL, MINOR, ROUNDING), start=1):
        rows = list(_rows(ds, checks, severity))
        lines += [f"## {'一二三'[n - 1]}、{SEVERITY_ZH[severity]}问题 "
                  f"({SEVERITY_EN[severity].capitalize()} findings): {len(rows)}", ""]
        if not rows:
            lines += ["无。None.", ""]
            continue
        lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        for r, under in rows:
            cells = _cells(ds, r, under)
            cells[8] = f"{cells[8]}<br>*{r.note}*"
            cells = [str(x).replace("|", "／").replace("\n", " ") for x in cells]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += _method_lines(any(c.origin == DEFAULT for c in checks))
    return "\n".join(lines) + "\n"


def _method_lines(defaults: bool = False) -> list[str]:
    """The notes at the end of the report (the line on default checks only when there are any)."""
    lines = [
        "## 四、说明 Notes", "",
        "- 重大：规划的供应、用地、需求、库存、去化周期或目标所依据的数字，差异在 1% 以上，或违反规划自身的规则。"
        " Material: a figure the plan's supply, land, demand, stock, cycle or targets rest on, off by "
        "1 % or more, or a breach of the plan's own rules.",
        "- 一般：背景统计、文字表述或较小的差异。 Minor: background statistics, wording, small differences.",
        "- 舍入级：差异在末位数字的量级（如截尾而非四舍五入）。 Rounding: a difference at the level of the "
        "last printed digit (e.g. truncated rather than rounded).",
        "- 判断：笔误（改动一个字符即可一致）、抄录错误（同一数字在别处作为另一量出现，且可判断哪一处是抄录）、"
        "口径不同（两处数字计量的并非同一事物）、方法问题（规划编制数字的方法所致，如供应等于需求按固定比例分年、"
        "未扣减现有库存）、原因不明。 Verdict: typo (one character explains it), copy error (the "
        "number is printed elsewhere as another quantity, and this is the copied printing), different "
        "quantity (the two figures measure different things), method (how the plan built its numbers: "
        "supply = demand split by a fixed profile, no stock netted), unclear.",
        "- “规划数字”一栏通常是规划印出的数字；注明“各行之和”的是规划表格各行相加所得（规划本身未印出此数），"
        "注明“推算”的是由印出数字推算的比值或占比。同一不一致逐年出现时只列一项，显示差异最大的年份，各年见说明。"
        " The plan's figure is as printed unless marked 'row sum' (the sum of the plan's rows, printed "
        "nowhere as such) or 'derived'; one inconsistency seen year by year is one row, shown at its "
        "largest gap, every year in the explanation.",
        "- 全部核对见 audit_checks.csv，全部问题见 audit.csv（含英文说明）。 Every check is in "
        "audit_checks.csv; every finding, with the English explanation, in audit.csv.", ""]
    if defaults:
        lines.insert(-2, "- 说明以“（默认核查）”开头的，是数据集清单（manifest.yaml）未列、审查按数据集"
                     "已有表格自动加入的核对（audit.csv 的 origin 列为 default）。 An explanation "
                     "starting 'default check' is a check the audit adds from the tables the "
                     "dataset has, not listed in its manifest (origin 'default' in audit.csv).")
    return lines


def report_html(ds: Dataset, checks: list[Check]) -> str:
    title, zh, en = _intro(ds, checks)
    e = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="zh-CN">', "<head>", '<meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;"
        "max-width:1400px}table{border-collapse:collapse;font-size:0.9em;margin-bottom:2em}"
        "th,td{border:1px solid #999;padding:4px 6px;vertical-align:top}th{background:#eee}"
        "td.num{text-align:right;white-space:nowrap}.en{color:#555;font-size:0.9em}</style>",
        "</head>", "<body>", f"<h1>{e(title)}</h1>",
        '<p class="en"><em>Plan audit report: the plan checked against itself</em></p>',
        f"<p>{e(zh)}</p>", f'<p class="en">{e(en)}</p>',
        "<h3>要点（重大问题按类型） <span class=\"en\">Key points (material problems by kind)</span></h3>",
        "<ul>" + "".join(f"<li>{e(line)}</li>" for line in key_points(ds, checks)) + "</ul>"]
    for n, severity in enumerate((MATERIAL, MINOR, ROUNDING), start=1):
        rows = list(_rows(ds, checks, severity))
        parts.append(f"<h2>{'一二三'[n - 1]}、{SEVERITY_ZH[severity]}问题 "
                     f"<span class=\"en\">({SEVERITY_EN[severity]} findings): {len(rows)}</span></h2>")
        if not rows:
            parts.append("<p>无。<span class=\"en\">None.</span></p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in HEADERS) + "</tr>")
        for r, under in rows:
            cells = _cells(ds, r, under)
            tds = []
            for i, cell in enumerate(cells):
                cls = ' class="num"' if i in (4, 5, 6) else ""
                text = e(str(cell))
                if i == 8:
                    text += f'<br><span class="en">{e(r.note)}</span>'
                tds.append(f"<td{cls}>{text}</td>")
            parts.append("<tr>" + "".join(tds) + "</tr>")
        parts.append("</table>")
    parts.append("<h2>四、说明 <span class=\"en\">Notes</span></h2><ul>")
    for line in _method_lines(any(c.origin == DEFAULT for c in checks))[2:-1]:
        parts.append(f"<li>{e(line[2:])}</li>")
    parts += ["</ul>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"
