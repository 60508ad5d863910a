"""What every report calls things: region and target names, units and column headers in Chinese
(zh) or English (en), and numbers rounded as the plan prints them.

One :class:`Labels` per report, bound to a language and to the dataset's Chinese region names::

    from model.labels import Labels
    L = Labels.for_dataset(ds, lang=settings.report.lang)   # None → the manifest's lang, else en
    L.region("main_city")                 # '主城区'                  | 'Main city'
    L.unit("10k_m2")                      # '万㎡'                    | '10k m²'
    L.header("supply", "10k_m2")          # '供应（万㎡）'            | 'Supply (10k m²)'
    L.target("cycle_months", "city", "2030")   # '商品住宅去化周期（全市，2030年）'
    L.number(1231.3100000001, "10k_m2")   # '1231.31'
    L.value(0.332, "share")               # '33.20%'
    L.value(22.96, "months")              # '23.0个月'               | '23.0 months'
    L.term("met")                         # '达成'                    | 'met'
    L.pick(zh="共{n}个方案", en="{n} runs", n=4)   # a one-off sentence in the report's language
    # inside a sentence (the mid-term review's note): short words, the plan's units
    L.scope_word("main_city")             # '主城区'                  | 'main city'
    L.target_word("cycle_months")         # '去化周期'                | 'destocking cycle'
    L.group_word("land_total")            # '用地总量'                | 'land total'
    L.figure(0.2, "share")                # '20.0%'
    L.figure(196.4, "10k_m2") + L.figure_unit("10k_m2")   # '196.40万㎡' | '196.40 万m²'
    L = L.for_run(summary)                # + the run's citations and the dataset's target names
    L.cite("supply_guidance")             # '表45' for Chifeng, None when the dataset gives none
    L.bracket("cycle_band")               # '（§2.4.1）' | ' (§2.4.1)', '' without a citation

Citations of tables and sections are never written here: they are the dataset's, by role
(model/citations.py; a run's summary.json ``citations``), so another city's report cites its own
tables, or none. Target names are the dataset's own (targets.csv ``indicator_zh``) when it prints
one name for a target family; :data:`TARGETS` names the families it does not (and the model's own).

Rounding (:data:`DECIMALS`) follows how Chifeng's plan prints (the bundled example): 2 decimals
for 万㎡, 公顷 and 亿元 (its 表45, 表48), 1 for months (it prints whole months in 表19; one
decimal keeps the differences between runs visible), 2 for percentages (28.85%, its §2.4.2). The
language comes from ``report.lang`` (zh|en); when
it is null, from the dataset manifest's ``lang`` (scenarios/SCHEMA.yaml); else en
(:func:`resolve_lang`). English region names are the dataset's ASCII ids written out
(``bairin_left`` → ``Bairin Left``); Chinese ones are ``regions.csv``'s ``name_zh``.
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from model.data import Dataset

LANGS = ("zh", "en")
DEFAULT_LANG = "en"

# unit code (as in the tables' `unit` columns and column-name suffixes) → (zh, en)
UNITS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "10k_m2": ("万㎡", "10k m²"),
    "ha": ("公顷", "ha"),
    "months": ("个月", "months"),
    "100m_yuan": ("亿元", "100m yuan"),
    "10k_yuan": ("万元", "10k yuan"),
    "yuan_m2": ("元/㎡", "yuan/m²"),
    "share": ("%", "%"),
    "probability": ("%", "%"),
    "count": ("个", ""),
    "dwellings": ("套", "dwellings"),
    "10k_dwellings": ("万套", "10k dwellings"),
    "households": ("户", "households"),
    "region-years": ("个区县·年", "region-years"),
    "m2_per_person": ("㎡/人", "m²/person"),
    "m2_per_dwelling": ("㎡/套", "m²/dwelling"),
    "10k_m2_per_year": ("万㎡/年", "10k m²/year"),
    "10k_m2_per_ha": ("万㎡/公顷", "10k m²/ha"),
    "yuan": ("元", "yuan"),
})

# English text that quotes the plan's figures (the plan audit's console) keeps the plan's own
# units where UNITS would translate them (万m², not 10k m²); any other code is written as it is
QUOTED_UNITS: Mapping[str, str] = MappingProxyType({
    "10k_m2": "万m²", "100m_yuan": "亿元", "10k_yuan": "万元", "yuan_m2": "yuan/m²",
})

# The kind of quantity a figure in a unit is, in a sentence ("574.93 belongs to hectares (land)",
# "本是公顷数") → (zh, en), where that is not the unit itself (None: zh the UNITS word, en the code)
UNIT_KINDS: Mapping[str, tuple[str | None, str | None]] = MappingProxyType({
    "10k_m2": (None, "万m² (floor area)"),
    "ha": (None, "hectares (land)"),
    "share": ("比例", "a share"),
})


# decimals a figure in this unit is printed with (shares and probabilities: of the percentage)
DECIMALS: Mapping[str, int] = MappingProxyType({
    "10k_m2": 2, "ha": 2, "100m_yuan": 2, "10k_yuan": 0, "yuan_m2": 0, "months": 1,
    "share": 2, "probability": 0, "count": 0, "dwellings": 0, "10k_dwellings": 2,
    "households": 0, "region-years": 0, "m2_per_person": 1,
})

# target_id (targets.csv) → (zh, en): the model's name for each target family (the Chinese as
# Chifeng's plan words them). A dataset's own indicator_zh wins where it prints one name for the
# family (Labels.target_name).
TARGETS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "cycle_months": ("商品住宅去化周期", "destocking cycle"),
    "cycle_floor_months": ("去化周期下限（合理区间下限）", "destocking cycle floor (band low)"),
    "vacancy_share": ("住房空置率", "vacancy rate"),
    "supply_total_10k_m2": ("新建商品住宅总量", "new commercial housing supply"),
    "land_total_ha": ("新增城镇住宅用地供应量", "new residential land supply"),
    "subsidised_share": ("保障性住房占新增供应比例", "subsidised share of new supply"),
    "subsidised_volume_10k_m2": ("保障性住房筹集量", "subsidised housing provided"),
    "purchase_spending_100m_yuan": ("收购存量商品住房支出", "public purchase spending"),
    "public_spending_100m_yuan": ("政府住房支出", "public housing spending"),
    "development_finance_100m_yuan": ("房地产开发贷款", "development finance"),
    "land_revenue_100m_yuan": ("土地出让收入", "land revenue"),
    "land_rule": ("住宅用地供应与去化周期挂钩规则", "land rule (land tied to the cycle)"),
    "unmet_demand_10k_m2": ("未满足需求", "unmet demand"),
    "presale_ramp": ("商品住宅供应节奏（年度增减幅度）", "presale pace (change year on year)"),
    "land_ramp": ("住宅用地供应节奏（不超过历史水平倍数）", "land pace (multiple of history)"),
    "terminal_feed": ("规划期末用地储备（次年可供应量）",
                      "land for the year after the plan (presale ready)"),
})

# target_id → (zh, en): the short name a sentence uses for a target family, its scope written
# before it (全市去化周期 18.0 → 21.0个月; the mid-term review's note and target_change_zh)
TARGET_WORDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "cycle_months": ("去化周期", "destocking cycle"),
    "cycle_floor_months": ("去化周期下限", "cycle floor"),
    "vacancy_share": ("空置率", "vacancy"),
    "supply_total_10k_m2": ("商品住宅供应总量", "supply total"),
    "land_total_ha": ("住宅用地总量", "land total"),
    "subsidised_volume_10k_m2": ("保障性住房", "subsidised housing"),
    "subsidised_share": ("保障性住房占比", "subsidised share"),
    "unmet_demand_10k_m2": ("未满足需求", "unmet demand"),
})

# target group (the config's targets.<group>, as review.hard names them) → (zh, en)
TARGET_GROUPS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "cycle": ("去化周期", "cycle"),
    "land_total": ("用地总量", "land total"),
    "supply_total": ("供应总量", "supply total"),
    "subsidised": ("保障性住房", "subsidised housing"),
    "vacancy": ("空置率", "vacancy"),
    "cycle_floor": ("去化周期下限", "cycle floor"),
})

# shared vocabulary: table headers, chart axes, verdicts → (zh, en)
TERMS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "region": ("区域", "Region"),
    "district": ("片区名称", "District"),
    "total": ("合计", "Total"),
    "city_total": ("全市合计", "City total"),
    "year": ("年份", "Year"),
    "supply": ("供应", "Supply"),
    "presale": ("商品住宅供应（批准预售）", "Commercial housing supply (presale approval)"),
    "land": ("住宅用地", "Residential land"),
    "land_supply": ("商品住宅用地供应", "Residential land supply"),
    "inventory": ("商品住宅库存", "Unsold stock"),
    "cycle": ("去化周期", "Destocking cycle"),
    "sales": ("销售", "Sales"),
    "demand": ("需求", "Demand"),
    "unmet_demand": ("未满足需求", "Unmet demand"),
    "purchased": ("收购存量商品住房", "Unsold stock bought"),
    "subsidised_new": ("新建保障性住房", "Subsidised housing built"),
    "share_of_city": ("占全市比例", "Share of city"),
    "indicator": ("指标名称", "Indicator"),
    "scope": ("范围", "Scope"),
    "period": ("年限", "Period"),
    "unit": ("单位", "Unit"),
    "required": ("规划目标", "Target"),
    "achieved": ("本方案", "Achieved"),
    "shortfall": ("差距", "Shortfall"),
    "met_column": ("是否达成", "Met?"),
    "met": ("达成", "met"),
    "missed": ("未达成", "missed"),
    "mode": ("约束方式", "Mode"),
    "source": ("来源", "Source"),
    "note": ("说明", "Note"),
    "plan_guidance": ("规划指引", "plan guidance"),
    "run": ("方案", "Run"),
    "status": ("状态", "Status"),
    "scenario": ("情景", "Scenario"),
    "month": ("月份", "Month"),
    "median": ("中位数", "median"),
    "band": ("合理区间", "reasonable band"),
    "stock_out": ("库存不足（低于合理区间或需求未满足）",
                  "stock-out (below the band, or demand unmet)"),
    "band_breach": ("超出合理区间上限", "above the band"),
    "end_of_year": ("年末", "end of year"),
    "start": ("期初", "start"),
    "targets_met_share": ("共同目标达成率", "share of common targets met"),
    "no_plan": ("无方案", "no plan"),
    "cycle_start": ("年初去化周期", "Start-of-year cycle"),
    "rule_state": ("规则要求", "Rule"),
    "land_allowed": ("允许新增用地", "Land allowed"),
    "land_planned": ("方案用地", "Land planned"),
    "land_breach": ("超出", "Breach"),
    "complies": ("是否符合", "Complies?"),
    "complies_yes": ("符合", "yes"),
    "complies_no": ("违反", "breached"),
    # the land rule's verdict on a region-year (plan.csv land_rule_state)
    "rule.suspend": ("暂停新增商品住宅用地", "suspend: no new land"),
    "rule.revitalise": ("盘活多少、供应多少", "only as much as revitalised"),
    "rule.add": ("可增加供地", "may add land"),
    "rule.free": ("不受限制", "not restricted"),
    "rule.none": ("未执行规则", "no rule"),
    # target modes (targets.csv `mode`)
    "mode.hard": ("硬约束", "hard"),
    "mode.soft": ("软目标", "soft"),
    "mode.off": ("不考核", "off"),
    "mode.evaluate": ("仅评估", "evaluated"),
    "mode.rule": ("规则", "rule"),
    "mode.observed": ("实际值", "observed"),
    "mode.report": ("仅报告", "reported"),
    # where a target comes from (targets.csv `origin`)
    "origin": ("类别", "Kind"),
    "origin.plan": ("规划目标", "plan target"),
    "origin.model": ("模型设定", "model setting"),
    "origin.rule": ("规则", "rule"),
    # senses
    "sense.max": ("不高于", "at most"),
    "sense.min": ("不低于", "at least"),
    # statuses (summary.json `status`)
    "status.optimal": ("已求得最优方案", "optimal"),
    "status.infeasible": ("硬约束无法同时满足", "infeasible"),
    "status.input_error": ("输入有误", "input error"),
    "status.solver_error": ("求解器未得到最优解", "solver error"),
    "status.incomplete": ("未完成", "did not finish"),
    "status.damaged": ("文件在运行后被改动或缺失", "files changed or missing since the run"),
    # scope classes of the target heatmap
    "scope.city": ("全市", "city"),
    "scope.main_city": ("主城区", "main city"),
    "scope.regions": ("各区县", "regions"),
})

# the headline indicators (summary.json `headline` / `replay`) → (zh, en); {year} = final year,
# {cite} = the citation of the role in CITED_INDICATORS, bracketed (empty without one)
INDICATORS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "cycle_months_city": ("{year}年末去化周期（全市）", "Destocking cycle end of {year}, city"),
    "cycle_months_main_city": ("{year}年末去化周期（主城区）",
                               "Destocking cycle end of {year}, main city"),
    "vacancy_share_city": ("{year}年住房空置率（全市）", "Vacancy {year}, city"),
    "vacancy_share_main_city": ("{year}年住房空置率（主城区）", "Vacancy {year}, main city"),
    "land_total_ha": ("新增住宅用地（{period}）", "Residential land {period}"),
    "supply_total_10k_m2": ("新建商品住宅供应（{period}）", "New commercial housing supply {period}"),
    "sales_total_10k_m2": ("商品住宅销售（{period}）", "Sales {period}"),
    "unmet_demand_10k_m2": ("未满足需求（{period}）", "Demand left unmet {period}"),
    "purchased_10k_m2": ("收购存量商品住房{cite}", "Unsold stock bought for subsidised housing"),
    "subsidised_new_10k_m2": ("新建保障性住房", "Subsidised housing built"),
    "inventory_end_city_10k_m2": ("{year}年末商品住宅库存（全市）", "Unsold stock end of {year}, city"),
    "public_spending_100m_yuan": ("政府住房支出（{period}）", "Public spending {period}"),
    "land_revenue_100m_yuan": ("土地出让收入（{period}）", "Land revenue {period}"),
    "replay_p_cycle_le_target_city": ("市场模拟：{year}年12月全市去化周期达标概率",
                                      "Replay: P(city cycle ≤ target, {year}-12)"),
    "replay_cycle_end_months_p50_city": ("市场模拟：{year}年12月全市去化周期中位数",
                                         "Replay: median city cycle {year}-12"),
    "replay_expected_unmet_demand_city": ("市场模拟：未满足需求期望值",
                                          "Replay: expected unmet demand, city"),
    "replay_p_land_suspended_city": ("市场模拟：至少一年暂停供地的概率",
                                     "Replay: P(land suspended in ≥ 1 year)"),
    "targets_met_share": ("共同目标达成率（{n}项共同目标）", "Share of the {n} common targets met"),
    "targets_reported": ("报告的目标数", "Targets reported"),
    "land_rule_broken_region_years": ("违反供地规则的区县·年", "Region-years breaking the land rule"),
    "status": ("状态", "Status"),
    "scenario": ("情景", "Scenario"),
})


# indicator → the citation role its {cite} stands for
CITED_INDICATORS: Mapping[str, str] = MappingProxyType({"purchased_10k_m2": "purchases"})


class LabelError(ValueError):
    """An unknown language or a label key not in the catalogue."""


def check_lang(lang: str, where: str = "report.lang") -> str:
    """``lang`` if it is a known report language, else LabelError naming ``where``."""
    if lang not in LANGS:
        raise LabelError(f"{where} = {lang!r} is not valid; expected one of: {', '.join(LANGS)}")
    return lang


def resolve_lang(setting: str | None, manifest: Mapping[str, Any] | None = None) -> str:
    """The report language: ``setting`` (report.lang) if given, else the dataset manifest's
    ``lang``, else en."""
    if setting:
        return check_lang(str(setting))
    lang = (manifest or {}).get("lang")
    return check_lang(str(lang), "manifest.yaml lang") if lang else DEFAULT_LANG


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: a Chinese character (East Asian wide/full-width) two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(text))


def pad(text: str, width: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``width`` terminal columns (``<`` left, ``>`` right), so
    Chinese columns line up as ``format(text, '<20')`` does for ASCII."""
    gap = " " * max(width - display_width(text), 0)
    return f"{gap}{text}" if align == ">" else f"{text}{gap}"


def quoted_unit(code: str) -> str:
    """A unit after a figure in English text that quotes the plan (:data:`QUOTED_UNITS`):
    ``10k_m2`` → ``万m²``, ``100m_yuan`` → ``亿元``; other codes as given (``ha``, ``months``)."""
    return QUOTED_UNITS.get(code, str(code))


def english_name(region_id: str) -> str:
    """An ASCII region id written out: ``bairin_left`` → ``Bairin Left``, ``main_city`` →
    ``Main city``, ``city`` → ``City``."""
    if region_id == "main_city":
        return "Main city"
    return region_id.replace("_", " ").title()


def period_zh(period: str) -> str:
    """``2026-2030`` → ``2026—2030年`` (the plan's dash), ``2030`` → ``2030年``."""
    return f"{str(period).replace('-', '—')}年"


@dataclass(frozen=True)
class Labels:
    """Names, units and number formats in one language (see the module docstring)."""

    lang: str = DEFAULT_LANG
    names_zh: Mapping[str, str] = field(default_factory=dict)  # region id → regions.csv name_zh
    target_names_zh: Mapping[str, str] = field(default_factory=dict)  # dataset targets.csv
    citations: Mapping[str, str] = field(default_factory=dict)  # role → citation (citations.py)

    def __post_init__(self) -> None:
        check_lang(self.lang, "lang")

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def for_dataset(cls, ds: "Dataset", lang: str | None = None) -> "Labels":
        """Labels in ``lang`` (None → the manifest's language) with the dataset's names."""
        from model.citations import dataset_target_names, run_citations

        names = {r.region_id: r.name_zh for r in (ds.city, *ds.regions, *ds.districts)}
        return cls(resolve_lang(lang, ds.manifest), names, dataset_target_names(ds),
                   run_citations(ds))

    def with_names(self, names_zh: Mapping[str, str]) -> "Labels":
        """These labels with more region names (e.g. a run's plan.csv ``name_zh`` column)."""
        return replace(self, names_zh={**dict(names_zh), **dict(self.names_zh)})

    def for_run(self, summary: Mapping[str, Any] | None) -> "Labels":
        """These labels with a run's ``citations`` and ``target_names_zh`` (summary.json; a
        run written before they were recorded keeps what these labels have)."""
        summary = summary or {}
        citations = summary.get("citations")
        names = summary.get("target_names_zh")
        return replace(
            self,
            citations=dict(citations) if isinstance(citations, Mapping) else self.citations,
            target_names_zh={**dict(self.target_names_zh), **dict(names)}
            if isinstance(names, Mapping) else self.target_names_zh)

    @property
    def zh(self) -> bool:
        return self.lang == "zh"

    def pick(self, zh: str, en: str, **fmt: Any) -> str:
        """The ``zh`` or ``en`` text (formatted with ``fmt``) in this language."""
        text = zh if self.zh else en
        return text.format(**fmt) if fmt else text

    # -- citations ------------------------------------------------------------------------
    def cite(self, role: str) -> str | None:
        """The dataset's citation for ``role`` (model/citations.py), or None."""
        value = self.citations.get(role)
        return str(value) if value else None

    def cite_first(self, role: str) -> str | None:
        """The first place a citation names (``表34, 第五章`` → ``表34``), or None."""
        from model.citations import parts

        found = parts(self.cite(role))
        return found[0] if found else None

    def cite_all(self, role: str) -> str | None:
        """Every place a citation names, joined as a sentence: ``表34与第五章`` /
        ``表34 and 第五章``, or None."""
        from model.citations import parts

        found = parts(self.cite(role))
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        return ("、".join(found[:-1]) + "与" + found[-1]) if self.zh else (
            ", ".join(found[:-1]) + " and " + found[-1])

    def bracket(self, role: str, first: bool = False) -> str:
        """``（表45）`` / `` (表45)`` for a role with a citation, else ''."""
        cited = self.cite_first(role) if first else self.cite(role)
        if not cited:
            return ""
        return f"（{cited}）" if self.zh else f" ({cited})"

    # -- vocabulary -----------------------------------------------------------------------
    def _lookup(self, table: Mapping[str, tuple[str, str]], key: str, what: str) -> str:
        if key not in table:
            raise LabelError(f"no {what} label for {key!r}")
        zh, en = table[key]
        return zh if self.zh else en

    def term(self, key: str) -> str:
        """A word of :data:`TERMS` (headers, verdicts, modes, statuses)."""
        return self._lookup(TERMS, key, "term")

    def unit(self, code: str) -> str:
        """A unit as officials write it (万㎡, 公顷, 个月, 亿元, %); unknown codes as given."""
        return self._lookup(UNITS, code, "unit") if code in UNITS else str(code)

    def unit_kind(self, code: str) -> str:
        """The kind of quantity a figure in ``code`` is, in a sentence (:data:`UNIT_KINDS`):
        ``公顷`` / ``hectares (land)``, ``比例`` / ``a share``; otherwise :meth:`unit` (zh) or the
        code (en)."""
        zh, en = UNIT_KINDS.get(code, (None, None))
        return (zh or self.unit(code)) if self.zh else (en or str(code))

    def target_word(self, target_id: str) -> str:
        """A target family's short name inside a sentence (:data:`TARGET_WORDS`: 去化周期 /
        destocking cycle), else the id."""
        return self._lookup(TARGET_WORDS, target_id, "target") if target_id in TARGET_WORDS \
            else str(target_id)

    def group_word(self, group: str) -> str:
        """A target group (:data:`TARGET_GROUPS`: 用地总量 / land total), else the group."""
        return self._lookup(TARGET_GROUPS, group, "group") if group in TARGET_GROUPS \
            else str(group)

    def scope_word(self, scope: str) -> str:
        """The city or the main city as a target's scope inside a sentence (全市, 主城区 / city,
        main city); any other scope (a region id) as given."""
        key = f"scope.{scope}"
        return self.term(key) if scope in ("city", "main_city") else str(scope)

    def header(self, term_key: str, unit_code: str | None = None) -> str:
        """A column header with its unit: ``供应（万㎡）`` / ``Supply (10k m²)``."""
        word = self.term(term_key) if term_key in TERMS else term_key
        if not unit_code:
            return word
        unit = self.unit(unit_code)
        return f"{word}（{unit}）" if self.zh else f"{word} ({unit})"

    def year(self, year: int | str) -> str:
        """A year column: ``2026年`` / ``2026``."""
        return f"{year}年" if self.zh else str(year)

    def period(self, period: str) -> str:
        """A period: ``2026—2030年`` / ``2026–2030``."""
        return period_zh(period) if self.zh else str(period).replace("-", "–")

    def mode(self, mode: str) -> str:
        key = f"mode.{mode}"
        return self.term(key) if key in TERMS else str(mode)

    def status(self, status: str) -> str:
        key = f"status.{status}"
        return self.term(key) if key in TERMS else str(status)

    def rule_state(self, state: str) -> str:
        """The land rule's verdict (plan.csv ``land_rule_state``): 暂停新增商品住宅用地 …"""
        key = f"rule.{state}"
        return self.term(key) if key in TERMS else str(state)

    def verdict(self, met: bool) -> str:
        """``✓ 达成`` / ``✗ 未达成``."""
        return f"✓ {self.term('met')}" if met else f"✗ {self.term('missed')}"

    # -- names ----------------------------------------------------------------------------
    def region(self, region_id: str) -> str:
        """A region, district or the city by id: its Chinese name (zh) or written-out id (en)."""
        if self.zh:
            return self.names_zh.get(region_id, region_id)
        return english_name(region_id)

    def target_name(self, target_id: str, scope: str | None = None) -> str:
        """A target family's name. In Chinese: the dataset's ``indicator_zh`` when it prints
        one name for the family (another city's 住宅用地供应 stays so); when its names differ by
        scope (Chifeng: 城镇住房空置率, 主城区住房空置率, the scope written into the name) the
        family's name of :data:`TARGETS`, the scope shown beside it; a family :data:`TARGETS`
        does not know by the scope's own name. Else :data:`TARGETS`, else the id."""
        if self.zh:
            names = {v for k, v in self.target_names_zh.items()
                     if k.partition("[")[0] == target_id}
            if len(names) == 1:
                return names.pop()
            own = self.target_names_zh.get(f"{target_id}[{scope}]") if scope else None
            if own and target_id not in TARGETS:
                return own
        if target_id in TARGETS:
            return self._lookup(TARGETS, target_id, "target")
        return target_id

    def target(self, target_id: str, scope: str, period: str | int | None = None) -> str:
        """A target row: ``商品住宅去化周期（全市，2030年）`` / ``destocking cycle (City, 2030)``."""
        name = self.target_name(target_id, scope)
        parts = [self.region(scope)] + ([self.period(str(period))] if period else [])
        return f"{name}（{'，'.join(parts)}）" if self.zh else f"{name} ({', '.join(parts)})"

    def target_key(self, key: str) -> str:
        """A targets.csv ``target_key`` (``cycle_months[city,2030]``) as :meth:`target`."""
        family, _, rest = key.partition("[")
        scope, _, period = rest.rstrip("]").partition(",")
        if not scope:
            return self.target_name(family)
        return self.target(family, scope, period or None)

    def indicator(self, key: str, year: int | str = "", period: str = "", n: int | str = ""
                  ) -> str:
        """A headline indicator of :data:`INDICATORS` (``{year}``: the final plan year)."""
        text = self._lookup(INDICATORS, key, "indicator")
        cite = self.bracket(CITED_INDICATORS[key]) if key in CITED_INDICATORS else ""
        return text.format(year=year, period=self.period(period) if period else "", n=n,
                           cite=cite)

    # -- numbers --------------------------------------------------------------------------
    def number(self, x: Any, unit: str = "") -> str:
        """A figure rounded as the plan prints it in ``unit`` (:data:`DECIMALS`), without the
        unit; shares and probabilities as percentages; '–' for missing, '∞' for infinite."""
        if isinstance(x, str):
            return x
        if isinstance(x, bool):
            return self.verdict(x)
        try:
            value = float(x)
        except (TypeError, ValueError):
            return "–"
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        decimals = DECIMALS.get(unit, 2)
        if unit in ("share", "probability"):
            return f"{round(100 * value, decimals) + 0.0:.{decimals}f}%"  # + 0.0: no "-0.00"
        value = round(value, decimals) + 0.0
        return f"{value:.{decimals}f}" if self.zh else f"{value:,.{decimals}f}"

    def amount(self, x: Any, unit: str = "", spec: str = ".4g", points: bool = False) -> str:
        """A figure with its unit rounded by the format ``spec`` (as the printed summary rounds
        it, not :data:`DECIMALS`): ``amount(4.962, "months")`` → ``4.962个月`` / ``4.962 months``;
        shares as percentages (``points``: a difference of shares, 个百分点 / points)."""
        try:
            value = float(x)
        except (TypeError, ValueError):
            return "–"
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            text = "∞" if value > 0 else "−∞"
        elif unit in ("share", "probability"):
            text = format(100 * value + 0.0, spec)
            return text + (self.pick(zh="个百分点", en=" points") if points else "%")
        else:
            text = format(value + 0.0, spec)
        u = self.unit(unit) if unit else ""
        return f"{text}{u}" if self.zh else f"{text} {u}".rstrip()

    def figure(self, x: Any, unit: str = "") -> str:
        """A figure inside a sentence, as officials write a target (the same in both
        languages): a share as a percentage to 0.1 (``20.0%``), months to 0.1, anything else to
        0.01, no thousands separator; '–' for a missing or non-numeric value. Its unit follows
        from :meth:`figure_unit`."""
        if not isinstance(x, numbers.Real) or x != x:  # noqa: PLR0124 (NaN)
            return "–"
        if unit == "share":
            return f"{x:.1%}"
        return f"{x:.1f}" if unit == "months" else f"{x:.2f}"

    def figure_unit(self, unit: str) -> str:
        """The unit written right after :meth:`figure`: ``个月``, ``万㎡``, ``公顷`` / `` months``,
        `` 万m²`` (an English sentence keeps the plan's units, :data:`QUOTED_UNITS`), and
        nothing after a share (the figure carries its %). Unknown codes as given."""
        if unit == "share":
            return ""
        if self.zh:
            return self.unit(unit)
        return f" {QUOTED_UNITS.get(unit, self.unit(unit))}"

    def value(self, x: Any, unit: str = "") -> str:
        """:meth:`number` with its unit: ``1231.31万㎡``, ``23.0个月`` / ``23.0 months``."""
        text = self.number(x, unit)
        if text in ("–",) or unit in ("share", "probability", "") or unit not in UNITS:
            return text
        u = self.unit(unit)
        return f"{text}{u}" if self.zh else f"{text} {u}".rstrip()
