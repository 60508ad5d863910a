"""Where the figures a report cites come from, by role, as the dataset prints it.

Every table or section citation in a run's outputs (plan.xlsx sheet names and source lines, the
comparison's headings and captions) is looked up here, never written into code: a run records
:func:`run_citations` in ``summary.json`` (``citations``) and the report modules, which read run
directories only, take it from there (:class:`model.labels.Labels` ``cite``). A role without a
citation is left out of the mapping, and the label simply has no bracket.

=========================  ==========================================================  ========
role                       from                                                        Chifeng
=========================  ==========================================================  ========
supply_guidance            manifest ``tables.supply_guidance.source``                  表45
district_supply_guidance   manifest ``tables.district_supply_guidance.source``         表46
land_guidance              manifest ``tables.land_guidance.source``                    表48
district_land_guidance     manifest ``tables.district_land_guidance.source``           表49
base_inventory             manifest ``tables.base_inventory.source``                   表19
targets                    manifest ``tables.targets.source``                          表34, 第五章
land_rule                  the run's ``land_rule_source`` (the dataset's threshold      §2.2.3
                           fact, else the national 2024 notice; none for a rule set in
                           the config)
cycle_band                 facts.csv ``cycle_band_low_months`` source, when the run's   §2.4.1
                           band comes from the facts (not from the config)
purchases (and any other)  manifest ``citations`` (a role the tables do not carry)     §6.1.1
=========================  ==========================================================  ========
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from model.data import Dataset

#: role → dataset table whose manifest ``source`` is the citation
TABLE_ROLES: Mapping[str, str] = {
    "supply_guidance": "supply_guidance",
    "district_supply_guidance": "district_supply_guidance",
    "land_guidance": "land_guidance",
    "district_land_guidance": "district_land_guidance",
    "base_inventory": "base_inventory",
    "targets": "targets",
}
#: manifest sources that name no place in the plan
NOT_A_CITATION = ("per row", "-", "")
#: land_rule_source values that are not a citation (no rule; thresholds set in the config)
NO_RULE_SOURCE = ("none", "config")


def table_citation(ds: "Dataset", table: str) -> str | None:
    """How the dataset cites ``table`` (its manifest ``source``), or None when the dataset does
    not have the table or gives it no source (:meth:`Dataset.cite` falls back to the table's
    name, which is not a citation)."""
    from model.data import TABLE_ALIASES

    if not ds.has_table(table):
        return None
    cited = ds.cite(table)
    if cited == TABLE_ALIASES.get(table, table) or cited.strip() in NOT_A_CITATION:
        return None
    return cited


def run_citations(ds: "Dataset", land_rule_source: str | None = None,
                  band_from_facts: bool = True) -> dict[str, str]:
    """role → citation for a run on ``ds`` (see the module docstring); roles without one are
    left out. ``band_from_facts``: the run's cycle band is the dataset's (objective.band_*_months
    null), so the band cites the facts' source."""
    out: dict[str, str] = {}
    for role, table in TABLE_ROLES.items():
        cited = table_citation(ds, table)
        if cited:
            out[role] = cited
    if land_rule_source and str(land_rule_source) not in NO_RULE_SOURCE:
        out["land_rule"] = str(land_rule_source)
    if band_from_facts:
        band = ds.fact_source("cycle_band_low_months")
        if band and ds.has_fact("cycle_band_high_months"):
            out["cycle_band"] = band
    extra = ds.manifest.get("citations") or {}
    if isinstance(extra, Mapping):
        out.update({str(k): str(v) for k, v in extra.items() if v not in (None, "")})
    return out


def for_summary(settings: Any, ds: "Dataset", inputs: Any) -> dict[str, Any]:
    """The ``summary.json`` entries the reports cite from: ``citations`` (role → citation) and
    ``target_names_zh`` (``target_id[scope]`` → the dataset's indicator_zh)."""
    objective = getattr(settings, "objective", None)
    band_from_facts = (getattr(objective, "band_low_months", None) is None
                       and getattr(objective, "band_high_months", None) is None)
    return {
        "citations": run_citations(ds, getattr(inputs, "land_rule_source", None),
                                   band_from_facts),
        "target_names_zh": dataset_target_names(ds),
    }


def dataset_target_names(ds: "Dataset") -> dict[str, str]:
    """``target_id[scope]`` → the target's name as the dataset prints it (targets.csv
    indicator_zh)."""
    if not ds.has_table("targets"):
        return {}
    t = ds.table("targets")
    if "indicator_zh" not in t:
        return {}
    return {f"{row.target_id}[{row.scope}]": str(row.indicator_zh)
            for row in t.itertuples(index=False)
            if str(row.indicator_zh) not in ("", "nan")}


def parts(citation: str | None) -> list[str]:
    """A citation split into the places it names: ``'表34, 第五章'`` → ``['表34', '第五章']``."""
    if not citation:
        return []
    return [p for p in (s.strip() for s in re.split(r"[,，、;；]", str(citation))) if p]
