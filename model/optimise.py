"""Model inputs → a Pyomo model of the five-year plan (no solver here; see model/solve.py).

:func:`build` reads like a table of contents: sets, parameters, variables, then one
``add_<family>`` per constraint family, then the objective. Each family's docstring gives its
maths with index sets and units; docs/formulation.md has the whole formulation.

Every number that can change between runs of the same shape is a *mutable* Param, and every
target's mode is a bound on its slack, so :func:`set_params` can move a built model to new inputs
without rebuilding it (sweeps, sensitivity, the relaxation re-solves). What changes the shape —
regions, years, lag, land rule, which targets exist — is :meth:`ModelInputs.structure`.

Units: floor area 万m² (``_10k_m2``), land ha, money 亿元 (``_100m_yuan``), dwellings 万 (``_10k``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pyomo.environ as pyo

from model import timing as tm
from model.inputs import ModelInputs, TargetRow

YUAN_PER_10K_YUAN = 1e4  # 万m² × 元/m² = 万元; ÷ 1e4 = 亿元
FAMILIES_BY_TARGET = {
    "cycle_months": "cycle_targets",
    "cycle_floor_months": "cycle_floor_targets",
    "vacancy_share": "vacancy_targets",
    "supply_total_10k_m2": "supply_total_targets",
    "land_total_ha": "land_total_targets",
    "subsidised_share": "subsidised_share_targets",
    "subsidised_volume_10k_m2": "subsidised_volume_targets",
    "purchase_spending_100m_yuan": "money_targets",
    "public_spending_100m_yuan": "money_targets",
    "development_finance_100m_yuan": "money_targets",
    "land_revenue_100m_yuan": "money_targets",
}


WEIGHTS = (
    "unmet_demand",
    "inventory_above_band",
    "inventory_below_band",
    "inventory_holding",
    "land",
    "public_money",
    "aim_below",
    "aim_above",
    "presale_ramp",
    "land_ramp",
    "terminal",
)


class StructureChanged(ValueError):
    """New inputs need a different model shape; build a new model instead of set_params."""


def build(inputs: ModelInputs) -> pyo.ConcreteModel:
    """The plan model for ``inputs``: a MILP when the land rule is enforced, else an LP."""
    m = pyo.ConcreteModel(name="housing_plan")
    m.structure = inputs.structure()
    m.target_rows = {t.key: t for t in inputs.targets}
    add_sets(m, inputs)
    add_parameters(m, inputs)
    add_variables(m, inputs)
    add_inventory_balance(m)
    add_demand(m)
    if not inputs.plan_fixed:
        add_presale_ready(m, inputs)
    add_public_purchases(m)
    add_destocking_cycle(m)
    add_inventory_band(m)
    add_aim(m)
    add_ramps(m)
    if not inputs.plan_fixed:
        add_terminal(m, inputs)
    if enforces_land_rule(inputs):
        add_land_rule(m, inputs)
    add_totals(m)
    add_vacancy(m)
    add_subsidised_housing(m)
    add_money(m)
    add_objective(m)
    set_params(m, inputs)
    return m


def enforces_land_rule(inputs: ModelInputs) -> bool:
    """The land rule is a constraint unless it is 'none' or the run only evaluates
    (plan_as_written)."""
    return inputs.land_rule != "none" and not inputs.evaluate_only


# ---------------------------------------------------------------------------------------------
# Sets, parameters, variables
# ---------------------------------------------------------------------------------------------
def add_sets(m: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    r"""regions r, years y (later_years: all but the first), the main city's members, vacancy
    scopes s (city, main_city), and the targets t, grouped by constraint family. In a mid-term
    review, observed_years are fixed to the actuals and rule_years (later_years minus
    observed_years) are the years the land rule governs."""
    m.regions = pyo.Set(initialize=inputs.regions, ordered=True)
    m.years = pyo.Set(initialize=inputs.years, ordered=True)
    m.later_years = pyo.Set(initialize=inputs.years[1:], ordered=True)
    # mid-term review: years fixed to the actuals, and the later years whose land the rule governs
    m.observed_years = pyo.Set(initialize=inputs.observed_years, ordered=True)
    m.rule_years = pyo.Set(
        initialize=[y for y in inputs.years[1:] if y not in inputs.observed_years], ordered=True
    )
    m.main_city = pyo.Set(initialize=inputs.main_city_members, within=m.regions, ordered=True)
    m.vacancy_scopes = pyo.Set(initialize=inputs.vacancy_scopes, ordered=True)
    m.targets = pyo.Set(initialize=[t.key for t in inputs.targets], ordered=True)
    for family in sorted(set(FAMILIES_BY_TARGET.values())):
        keys = [t.key for t in inputs.targets if FAMILIES_BY_TARGET[t.target_id] == family]
        m.add_component(family, pyo.Set(initialize=keys, within=m.targets, ordered=True))


def add_parameters(m: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """Every number of the model, as a mutable Param (values are set by :func:`set_params`)."""
    R, S = m.regions, m.vacancy_scopes
    RY, SY = m.regions * m.years, m.vacancy_scopes * m.years

    def p(name, index=None, doc=""):
        comp = (
            pyo.Param(index, mutable=True, initialize=0.0, doc=doc)
            if index is not None
            else pyo.Param(mutable=True, initialize=0.0, doc=doc)
        )
        m.add_component(name, comp)

    p("inventory0_10k_m2", R, "unsold stock at the end of the base year (表19)")
    p("demand_10k_m2", RY, "demand per year")
    p("plot_ratio_10k_m2_per_ha", R, "floor area per hectare")
    p("ready_share_cum", pyo.Set(initialize=range(len(inputs.years) + 1)),
      "F_j: share of a year's land floor area presaleable within j years (timing model)")
    p("pipeline_ready_10k_m2", RY, "opening pipeline floor area becoming presaleable in the year")
    p("carry_ready_10k_m2", R, "ready, not yet presold at the end of the observed years")
    p("pipeline_ready_next_10k_m2", R, "opening pipeline becoming presaleable after the last year")
    p("aim_cycle_months", doc="the stock the plan aims to hold, months of sales")
    m.ramp_scopes = pyo.Set(initialize=[name for name, _ in inputs.ramp_scopes], ordered=True)
    m.ramp_members = {name: members for name, members in inputs.ramp_scopes}
    p("presale_base_10k_m2", m.ramp_scopes, "base-year presale (the first ramp's starting level)")
    p("presale_change_share", doc="largest presale change from one year to the next")
    p("land_cap_ha", R, "land a year developers can be expected to take up (ramp)")
    p("terminal_feed_share", doc="share of the last year's demand ready for the next year")
    p("subsidised_plot_ratio", R, "万m² of subsidised floor area per ha of its land")
    p("land_max_ha", RY, "cap on new land (also the land rule's big-M)")
    p("supply_max_10k_m2", RY, "cap on supply")
    p("inventory_max_10k_m2", RY, "bound on end-of-year stock (the cycle indicators' big-M)")
    p("revitalised_ha", RY, "land revitalised in the year (§2.2.3)")
    p("land_allowed_first_year_ha", R, "land the rule allows in the first year (base-year cycle)")
    p("suspend_above_months", doc="land rule: no land above this start-of-year cycle")
    p("revitalise_above_months", doc="land rule: revitalised land only above this cycle")
    p("price_yuan_m2", R, "new-housing price")
    p("land_price_10k_yuan_per_ha", R, "land price")
    p("purchase_price_factor", doc="share of the price paid for unsold stock")
    p("build_cost_yuan_m2", doc="public cost of building subsidised housing")
    p("dev_finance_share", doc="development loans as a share of sales value")
    p("max_purchase_share_of_stock", doc="purchases ≤ this × start-of-year stock")
    p("subsidised_new_max_10k_m2", doc="cap on subsidised new building per region-year")
    p("dwellings0_10k", S, "urban dwellings, base year")
    p("vacant0_10k", S, "vacant (low-use) dwellings, base year")
    p("dwelling_size_m2", S, "average dwelling")
    p("household_formation_10k", SY, "net new households")
    p("removals_10k", SY, "dwellings demolished or renewed")
    p("band_low_months", doc="reasonable cycle band, low end (§2.4.1)")
    p("band_high_months", doc="reasonable cycle band, high end (§2.4.1)")
    for w in WEIGHTS:
        p(f"weight_{w}", doc="objective weight")
    p("target_value", m.targets, "target value in its policy unit")
    p("target_penalty", m.targets, "objective points per unit of slack")


def add_variables(m: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """Decisions per region r and year y, the targets' slacks, and the land rule's binaries."""
    RY = m.regions * m.years
    nn = pyo.NonNegativeReals
    m.land_ha = pyo.Var(RY, within=nn, bounds=lambda m, r, y: (0, m.land_max_ha[r, y]))
    m.supply_10k_m2 = pyo.Var(RY, within=nn, bounds=lambda m, r, y: (0, m.supply_max_10k_m2[r, y]))
    m.sales_10k_m2 = pyo.Var(RY, within=nn)
    m.unmet_demand_10k_m2 = pyo.Var(RY, within=nn)
    m.purchased_10k_m2 = pyo.Var(RY, within=nn)
    m.subsidised_new_10k_m2 = pyo.Var(
        RY, within=nn, bounds=lambda m, r, y: (0, m.subsidised_new_max_10k_m2)
    )
    m.inventory_end_10k_m2 = pyo.Var(RY, within=nn)
    m.inventory_above_band_10k_m2 = pyo.Var(RY, within=nn)
    m.inventory_below_band_10k_m2 = pyo.Var(RY, within=nn)
    m.aim_above_10k_m2 = pyo.Var(RY, within=nn)
    m.aim_below_10k_m2 = pyo.Var(RY, within=nn)
    m.presale_ramp_up_10k_m2 = pyo.Var(m.ramp_scopes * m.years, within=nn)
    m.presale_ramp_down_10k_m2 = pyo.Var(m.ramp_scopes * m.years, within=nn)
    m.land_ramp_ha = pyo.Var(RY, within=nn)
    m.terminal_short_10k_m2 = pyo.Var(m.regions, within=nn)
    m.subsidised_land_ha = pyo.Var(RY, within=nn)
    m.slack = pyo.Var(m.targets, within=nn)
    if enforces_land_rule(inputs):
        RL = m.regions * m.rule_years
        m.suspend = pyo.Var(
            RL,
            within=pyo.Binary,
            doc="1 if the start-of-year cycle may exceed the suspend threshold",
        )
        if inputs.revitalise_above_months is not None:
            m.revitalise_band = pyo.Var(
                RL,
                within=pyo.Binary,
                doc="1 if the start-of-year cycle may exceed the revitalise threshold",
            )

    def start(m, r, y):
        return (
            m.inventory0_10k_m2[r]
            if y == m.years.first()
            else m.inventory_end_10k_m2[r, m.years.prev(y)]
        )

    m.inventory_start_10k_m2 = pyo.Expression(RY, rule=start)


# ---------------------------------------------------------------------------------------------
# Constraint families
# ---------------------------------------------------------------------------------------------
def add_inventory_balance(m: pyo.ConcreteModel) -> None:
    """Stock-flow of unsold commercial housing, for r ∈ regions, y ∈ years (万m²):

        inventory_end[r,y] = inventory_start[r,y] + supply[r,y] − sales[r,y] − purchased[r,y]

    with inventory_start[r,first] = inventory0[r] (表19) and inventory_start[r,y] =
    inventory_end[r,y−1] after that; inventory_end ≥ 0.
    """
    m.inventory_balance = pyo.Constraint(
        m.regions * m.years,
        rule=lambda m, r, y: (
            m.inventory_end_10k_m2[r, y]
            == m.inventory_start_10k_m2[r, y]
            + m.supply_10k_m2[r, y]
            - m.sales_10k_m2[r, y]
            - m.purchased_10k_m2[r, y]
        ),
    )


def add_demand(m: pyo.ConcreteModel) -> None:
    """Demand is sold or unmet, for r ∈ regions, y ∈ years (万m²):

    sales[r,y] + unmet[r,y] = demand[r,y]
    """
    m.demand_balance = pyo.Constraint(
        m.regions * m.years,
        rule=lambda m, r, y: (
            m.sales_10k_m2[r, y] + m.unmet_demand_10k_m2[r, y] == m.demand_10k_m2[r, y]
        ),
    )


def add_presale_ready(m: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """Presale needs floor area the timing model has made ready (docs/timing.md), for
    r ∈ regions and each year y not observed (万m²; F_j = Σ_{k≤j} a_k, the timing model's
    cumulative annual shares; ρ the plot ratio):

        Σ_{τ≤y} supply[r,τ] ≤ carry[r] + Σ_{τ≤y} pipeline_ready[r,τ]
                              + ρ_r Σ_{t≤y} (F_{y−t} − F_{o−t}) · land[r,t]

    (τ over the years not observed; o = the last observed year, F_j = 0 for j < 0, so without a
    mid-term review the bracket is F_{y−t}.) Cumulative: floor area made ready may be presold
    in a later year (held back), never earlier. Land sold in year t first becomes presaleable
    in t (share a_0), t + 1 (a_1), …; the pipeline is floor area on land sold before the plan.

    Not built when a plan is fixed (plan_as_written): its deliverability is reported instead
    (deliverability.csv)."""
    years = list(inputs.years)
    free = [y for y in years if y not in inputs.observed_years]
    last_obs = years.index(inputs.observed_years[-1]) if inputs.observed_years else -1

    def cum(j):
        return m.ready_share_cum[j] if j >= 0 else 0.0

    def rule(m, r, y):
        i = years.index(y)
        presold = sum(m.supply_10k_m2[r, t] for t in free if t <= y)
        ready = m.carry_ready_10k_m2[r] + sum(
            m.pipeline_ready_10k_m2[r, t] for t in free if t <= y)
        land = sum(
            (cum(i - j) - cum(last_obs - j)) * m.land_ha[r, years[j]] for j in range(i + 1)
        )
        return presold <= ready + m.plot_ratio_10k_m2_per_ha[r] * land

    m.presale_ready = pyo.Constraint(m.regions, free, rule=rule)


def add_public_purchases(m: pyo.ConcreteModel) -> None:
    """Public purchases of unsold stock for subsidised housing (§6.1.1), r ∈ regions, y ∈ years:

        purchased[r,y] ≤ max_purchase_share · inventory_start[r,y]       (万m²)

    Their budget is a money target (add_money). Not for observed years (mid-term review):
    what was bought is data.
    """
    m.purchase_stock = pyo.Constraint(
        m.regions * m.years,
        rule=lambda m, r, y: (
            pyo.Constraint.Skip
            if y in m.observed_years
            else m.purchased_10k_m2[r, y]
            <= m.max_purchase_share_of_stock * m.inventory_start_10k_m2[r, y]
        ),
    )


def _members(m: pyo.ConcreteModel, scope: str):
    if scope == "city":
        return list(m.regions)
    if scope == "main_city":
        return list(m.main_city)
    return [scope]


def add_destocking_cycle(m: pyo.ConcreteModel) -> None:
    """Destocking cycle target, for each cycle target t (scope s: city or a region; year y):

        Σ_{r∈s} inventory_end[r,y] − target_months[t] / 12 · Σ_{r∈s} sales[r,y] ≤ slack[t]   (万m²)

    i.e. cycle = inventory ÷ (sales ÷ 12) ≤ target months, with the slack in 万m² of stock above
    what the target allows (0 when hard).
    """

    def rule(m, t):
        row: TargetRow = m.target_rows[t]
        rs = _members(m, row.scope)
        return (
            sum(m.inventory_end_10k_m2[r, row.year] for r in rs)
            - m.target_value[t] / 12.0 * sum(m.sales_10k_m2[r, row.year] for r in rs)
            <= m.slack[t]
        )

    m.cycle_max = pyo.Constraint(m.cycle_targets, rule=rule)

    def floor(m, t):
        row: TargetRow = m.target_rows[t]
        rs = _members(m, row.scope)
        return (
            sum(m.inventory_end_10k_m2[r, row.year] for r in rs) + m.slack[t]
            >= m.target_value[t] / 12.0 * sum(m.demand_10k_m2[r, row.year] for r in rs)
        )

    # the band floor (terminal band): stock ≥ floor months of *demand* (sales + unmet), slack in
    # 万m² of stock short of it — measured against demand, not sales, so that turning buyers
    # away never lowers the requirement (selling one more 万m² costs one 万m² of floor, no more)
    m.cycle_floor = pyo.Constraint(m.cycle_floor_targets, rule=floor)


def add_inventory_band(m: pyo.ConcreteModel) -> None:
    """Stock outside the reasonable cycle band (§2.4.1, 12–18 months), r ∈ regions, y ∈ years:

    above[r,y] ≥ inventory_end[r,y] − band_high / 12 · sales[r,y]       (万m²)
    below[r,y] ≥ band_low / 12 · demand[r,y] − inventory_end[r,y]

    (the floor against demand: turning buyers away never lowers it)
    """
    RY = m.regions * m.years
    m.inventory_above_band = pyo.Constraint(
        RY,
        rule=lambda m, r, y: (
            m.inventory_above_band_10k_m2[r, y]
            >= m.inventory_end_10k_m2[r, y] - m.band_high_months / 12.0 * m.sales_10k_m2[r, y]
        ),
    )
    m.inventory_below_band = pyo.Constraint(
        RY,
        rule=lambda m, r, y: (
            m.inventory_below_band_10k_m2[r, y]
            >= m.band_low_months / 12.0 * m.demand_10k_m2[r, y] - m.inventory_end_10k_m2[r, y]
        ),
    )


def add_aim(m: pyo.ConcreteModel) -> None:
    """Deviation from the aimed stock (``objective.aim_cycle_months``, default the band's middle,
    15 months), either side, r ∈ regions, y ∈ years (万m²):

    aim_above[r,y] ≥ inventory_end[r,y] − aim / 12 · sales[r,y]
    aim_below[r,y] ≥ aim / 12 · demand[r,y] − inventory_end[r,y]      (demand: see the band floor)

    so the stock held is a stated safety margin, not an artefact of the band weights (stock short
    of the aim costs more than stock above it: objective.aim_below / aim_above)."""
    RY = m.regions * m.years
    m.aim_above = pyo.Constraint(RY, rule=lambda m, r, y: (
        m.aim_above_10k_m2[r, y]
        >= m.inventory_end_10k_m2[r, y] - m.aim_cycle_months / 12.0 * m.sales_10k_m2[r, y]))
    m.aim_below = pyo.Constraint(RY, rule=lambda m, r, y: (
        m.aim_below_10k_m2[r, y]
        >= m.aim_cycle_months / 12.0 * m.demand_10k_m2[r, y] - m.inventory_end_10k_m2[r, y]))


def add_ramps(m: pyo.ConcreteModel) -> None:
    """A realistic pace (``ramp.*``), y ∈ years not observed (万m², ha), for each ramp scope g
    (``ramp.presale_scope``: the city and the main city by default) with Q[g,y] = Σ_{r∈g}
    supply[r,y], and each region r:

    Q[g,y] ≤ (1 + s) · Q[g,y−1] + up[g,y]
    Q[g,y] ≥ (1 − s) · Q[g,y−1] − down[g,y]
    land[r,y] ≤ cap[r] + land_over[r,y]

    with Q[g,first−1] = the base year's presale (§2.2.1.1; ``presale_base``), s =
    ``ramp.presale_change_share`` (0.4) and cap = ``ramp.land_multiple_of_history`` (1) × the
    most land the region sold in one history year (表21). The slacks cost
    ``ramp.*_penalty`` (soft), are fixed at 0 (hard) or free (off)."""
    free = [y for y in m.years if y not in m.observed_years]

    def q(g, y):
        return sum(m.supply_10k_m2[r, y] for r in m.ramp_members[g])

    def prev(g, y):
        return m.presale_base_10k_m2[g] if y == m.years.first() else q(g, m.years.prev(y))

    m.presale_ramp_up = pyo.Constraint(m.ramp_scopes, free, rule=lambda m, g, y: (
        q(g, y) <= (1 + m.presale_change_share) * prev(g, y) + m.presale_ramp_up_10k_m2[g, y]))
    m.presale_ramp_down = pyo.Constraint(m.ramp_scopes, free, rule=lambda m, g, y: (
        q(g, y) >= (1 - m.presale_change_share) * prev(g, y) - m.presale_ramp_down_10k_m2[g, y]))
    m.land_ramp = pyo.Constraint(m.regions, free, rule=lambda m, r, y: (
        m.land_ha[r, y] <= m.land_cap_ha[r] + m.land_ramp_ha[r, y]))


def add_terminal(m: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """Nothing ends in the last plan year Y (``terminal.*``), r ∈ regions (万m²): floor area ready
    and not presold by the end of Y, plus what land sold by Y (and the opening pipeline) makes
    ready in Y + 1, covers ``feed_share`` × the last year's demand:

        carry[r] + Σ_{τ≤Y} pipeline_ready[r,τ] + pipeline_ready[r,Y+1]
          + ρ_r Σ_{t≤Y} (F_{Y+1−t} − F_{o−t}) land[r,t] − Σ_{τ≤Y} supply[r,τ]
          + short[r] ≥ feed_share · demand[r,Y]

    (sums over the years not observed; o the last observed year, as in add_presale_ready)."""
    years = list(inputs.years)
    free = [y for y in years if y not in inputs.observed_years]
    last_obs = years.index(inputs.observed_years[-1]) if inputs.observed_years else -1
    n = len(years)

    def cum(j):
        return m.ready_share_cum[j] if j >= 0 else 0.0

    def rule(m, r):
        held = m.carry_ready_10k_m2[r] + sum(
            m.pipeline_ready_10k_m2[r, t] - m.supply_10k_m2[r, t] for t in free)
        land = sum((cum(n - j) - cum(last_obs - j)) * m.land_ha[r, years[j]] for j in range(n))
        ready_next = m.pipeline_ready_next_10k_m2[r] + m.plot_ratio_10k_m2_per_ha[r] * land
        above_aim = (m.inventory_end_10k_m2[r, years[-1]]
                     - m.aim_cycle_months / 12.0 * m.demand_10k_m2[r, years[-1]])
        return (held + ready_next + above_aim + m.terminal_short_10k_m2[r]
                >= m.terminal_feed_share * m.demand_10k_m2[r, years[-1]])

    m.terminal_feed = pyo.Constraint(m.regions, rule=rule)


def add_land_rule(m: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """The land rule on the start-of-year cycle c[r,y] (§2.2.3; §9.3 strict variant), exactly.

    First year, from the base-year cycle (表19) as data:
        land[r,first] ≤ land_allowed_first_year[r]     (0 above S; revitalised[r] between R and S)

    Later years y, where c[r,y] = 12 · inventory_end[r,y−1] ÷ sales[r,y−1] depends on decisions.
    With binaries suspend[r,y] and (§2.2.3 only) revitalise_band[r,y], and big-M values
    M[r,y−1] = inventory_max[r,y−1] (stock can never exceed it):
        inventory_end[r,y−1] − S/12 · sales[r,y−1] ≤ M · suspend[r,y]         (c > S ⇒ suspend = 1)
        land[r,y] ≤ land_max[r,y] · (1 − suspend[r,y])                         (suspend ⇒ no land)
        inventory_end[r,y−1] − R/12 · sales[r,y−1] ≤ M · revitalise_band[r,y]  (c > R ⇒ band = 1)
        land[r,y] ≤ land_max[r,y] − (land_max[r,y] − revitalised[r,y]) · revitalise_band[r,y]
    (S = 36, R = 18 months for §2.2.3; S = 18, no R for §9.3; each less
    ``land.rule_margin_months``, 1 by default, so that a plan keeps its cycle a month inside a
    threshold it relies on.) The feasible set is exactly
    {c ≤ S or land = 0} ∩ {c ≤ R or land ≤ revitalised}: the binaries only choose a side.

    Mid-term review: observed years are data (their breaches are reported, not prevented); the
    rule holds for y ∈ rule_years, so the first year after the observed ones is governed by the
    observed end-of-year stock and sales — the rule applies to what actually happened.
    """
    first = m.years.first()
    m.land_rule_first_year = pyo.Constraint(
        m.regions,
        rule=lambda m, r: (
            pyo.Constraint.Skip
            if first in m.observed_years
            else m.land_ha[r, first] <= m.land_allowed_first_year_ha[r]
        ),
    )
    RL = m.regions * m.rule_years

    def prev(y):
        return m.years.prev(y)

    m.cycle_above_suspend = pyo.Constraint(
        RL,
        rule=lambda m, r, y: (
            m.inventory_end_10k_m2[r, prev(y)]
            - m.suspend_above_months / 12.0 * m.sales_10k_m2[r, prev(y)]
            <= m.inventory_max_10k_m2[r, prev(y)] * m.suspend[r, y]
        ),
    )
    m.land_rule_suspend = pyo.Constraint(
        RL, rule=lambda m, r, y: (m.land_ha[r, y] <= m.land_max_ha[r, y] * (1 - m.suspend[r, y]))
    )
    if inputs.revitalise_above_months is not None:
        m.cycle_above_revitalise = pyo.Constraint(
            RL,
            rule=lambda m, r, y: (
                m.inventory_end_10k_m2[r, prev(y)]
                - m.revitalise_above_months / 12.0 * m.sales_10k_m2[r, prev(y)]
                <= m.inventory_max_10k_m2[r, prev(y)] * m.revitalise_band[r, y]
            ),
        )
        m.land_rule_revitalise = pyo.Constraint(
            RL,
            rule=lambda m, r, y: (
                m.land_ha[r, y]
                <= m.land_max_ha[r, y]
                - (m.land_max_ha[r, y] - m.revitalised_ha[r, y]) * m.revitalise_band[r, y]
            ),
        )


def add_totals(m: pyo.ConcreteModel) -> None:
    """Five-year totals (第五章, 表34), each a target t:

    Σ_{r,y} supply[r,y] − slack[t] ≤ supply_total[t]        (万m²; 1089.46)
    Σ_{r,y} (land[r,y] + subsidised_land[r,y]) − slack[t] ≤ land_total[t]   (ha; 574.93)

    (表34's land total is new residential land, subsidised housing's included.)
    """
    m.supply_total_max = pyo.Constraint(
        m.supply_total_targets,
        rule=lambda m, t: (
            sum(m.supply_10k_m2[r, y] for r in m.regions for y in m.years) - m.slack[t]
            <= m.target_value[t]
        ),
    )
    m.land_total_max = pyo.Constraint(
        m.land_total_targets,
        rule=lambda m, t: (
            sum(m.land_ha[r, y] + m.subsidised_land_ha[r, y] for r in m.regions for y in m.years)
            - m.slack[t]
            <= m.target_value[t]
        ),
    )


def add_vacancy(m: pyo.ConcreteModel) -> None:
    """Dwelling stock-flow (万 dwellings) for scopes s ∈ {city, main_city} (§2.4.2):

        completions[s,y] = Σ_{r∈s} (supply[r,y] + subsidised_new[r,y]) ÷ dwelling_size[s]
        dwellings[s,y]   = dwellings0[s] + Σ_{τ≤y} (completions[s,τ] − removals[s,τ])
        vacant[s,y]      = vacant0[s] + Σ_{τ≤y} (completions[s,τ] − households[s,τ] − removals[s,τ])

    (万m² ÷ m² = 万 dwellings.) Vacancy target t (scope s, year y):
        vacant[s,y] − target_share[t] · dwellings[s,y] ≤ slack[t]       (万 dwellings)
    """
    SY = m.vacancy_scopes * m.years
    m.completions_10k = pyo.Expression(
        SY,
        rule=lambda m, s, y: sum(
            m.supply_10k_m2[r, y] + m.subsidised_new_10k_m2[r, y] for r in _members(m, s)
        )
        / m.dwelling_size_m2[s],
    )

    def upto(y):
        return [t for t in m.years if t <= y]

    m.dwellings_10k = pyo.Expression(
        SY,
        rule=lambda m, s, y: m.dwellings0_10k[s]
        + sum(m.completions_10k[s, t] - m.removals_10k[s, t] for t in upto(y)),
    )
    m.vacant_10k = pyo.Expression(
        SY,
        rule=lambda m, s, y: m.vacant0_10k[s]
        + sum(
            m.completions_10k[s, t] - m.household_formation_10k[s, t] - m.removals_10k[s, t]
            for t in upto(y)
        ),
    )

    def rule(m, t):
        row: TargetRow = m.target_rows[t]
        return (
            m.vacant_10k[row.scope, row.year]
            - m.target_value[t] * m.dwellings_10k[row.scope, row.year]
            <= m.slack[t]
        )

    m.vacancy_max = pyo.Constraint(m.vacancy_targets, rule=rule)


def add_subsidised_housing(m: pyo.ConcreteModel) -> None:
    """Subsidised housing (表47 blank: scenario inputs), met by new building or public purchases:

    Σ_r (subsidised_new[r,y] + purchased[r,y]) + slack[t] ≥ share[t] · Σ_r supply[r,y]   (万m²)
    Σ_r (subsidised_new[r,y] + purchased[r,y]) + slack[t] ≥ volume[t]                    (万m²)

    New subsidised building uses land, counted in the land total (add_totals) and valued at the
    land revenue it forgoes (add_money), r ∈ regions, y ∈ years:

    subsidised_new[r,y] ≤ subsidised_plot_ratio[r] · subsidised_land[r,y]
    """
    m.subsidised_land = pyo.Constraint(
        m.regions * m.years,
        rule=lambda m, r, y: (
            m.subsidised_new_10k_m2[r, y] <= m.subsidised_plot_ratio[r] * m.subsidised_land_ha[r, y]
        ),
    )

    def provided(m, y, scope="city"):
        return sum(m.subsidised_new_10k_m2[r, y] + m.purchased_10k_m2[r, y]
                   for r in _members(m, scope))

    m.subsidised_share_min = pyo.Constraint(
        m.subsidised_share_targets,
        rule=lambda m, t: (
            provided(m, m.target_rows[t].year) + m.slack[t]
            >= m.target_value[t] * sum(m.supply_10k_m2[r, m.target_rows[t].year] for r in m.regions)
        ),
    )
    m.subsidised_volume_min = pyo.Constraint(
        m.subsidised_volume_targets,
        rule=lambda m, t: (
            provided(m, m.target_rows[t].year, m.target_rows[t].scope) + m.slack[t]
            >= m.target_value[t]
        ),
    )


def add_money(m: pyo.ConcreteModel) -> None:
    """Money accounts per region and year (以房定钱, §9.4), 亿元, and their optional limits:

        land_revenue[r,y]     = land[r,y] · land_price[r] ÷ 1e4                    (万元/ha → 亿元)
        purchase_spending     = purchased · price[r] · purchase_price_factor ÷ 1e4
        build_spending        = subsidised_new · build_cost ÷ 1e4
        public_spending       = purchase_spending + build_spending
        land_forgone          = subsidised_land · land_price[r] ÷ 1e4  (revenue the land would fetch)
        development_finance   = supply · price[r] · dev_finance_share ÷ 1e4
    Limit t (city, year y): Σ_r account[r,y] − slack[t] ≤ limit (max), or + slack ≥ limit (min).
    """
    RY = m.regions * m.years
    k = 1.0 / YUAN_PER_10K_YUAN
    m.land_revenue_100m_yuan = pyo.Expression(
        RY, rule=lambda m, r, y: (m.land_ha[r, y] * m.land_price_10k_yuan_per_ha[r] * k)
    )
    m.purchase_spending_100m_yuan = pyo.Expression(
        RY,
        rule=lambda m, r, y: (
            m.purchased_10k_m2[r, y] * m.price_yuan_m2[r] * m.purchase_price_factor * k
        ),
    )
    m.build_spending_100m_yuan = pyo.Expression(
        RY, rule=lambda m, r, y: (m.subsidised_new_10k_m2[r, y] * m.build_cost_yuan_m2 * k)
    )
    m.land_forgone_100m_yuan = pyo.Expression(
        RY, rule=lambda m, r, y: (m.subsidised_land_ha[r, y] * m.land_price_10k_yuan_per_ha[r] * k)
    )
    m.public_spending_100m_yuan = pyo.Expression(
        RY,
        rule=lambda m, r, y: (
            m.purchase_spending_100m_yuan[r, y] + m.build_spending_100m_yuan[r, y]
        ),
    )
    m.development_finance_100m_yuan = pyo.Expression(
        RY,
        rule=lambda m, r, y: (m.supply_10k_m2[r, y] * m.price_yuan_m2[r] * m.dev_finance_share * k),
    )

    def rule(m, t):
        row: TargetRow = m.target_rows[t]
        account = getattr(m, row.target_id)
        total = sum(account[r, row.year] for r in m.regions)
        if row.sense == "min":
            return total + m.slack[t] >= m.target_value[t]
        return total - m.slack[t] <= m.target_value[t]

    m.money_limit = pyo.Constraint(m.money_targets, rule=rule)


UNMET_EARLY_PREMIUM = 0.1  # per year earlier; see add_objective


def add_objective(m: pyo.ConcreteModel) -> None:
    """Minimise a weighted sum (points; 1 point = 1 亿元 of public money; docs/formulation.md §7
    gives each weight's meaning and size):

    w_unmet · Σ (1 + UNMET_EARLY_PREMIUM)^(Y_last − y) · unmet
    + w_ramp · Σ (ramp_up + ramp_down) + w_land_ramp · Σ land_over + w_terminal · Σ short
    + w_above · Σ above_band + w_below · Σ below_band + w_aim_below · Σ aim_below
    + w_aim_above · Σ aim_above
    + w_hold · Σ inventory_end + w_land · Σ (land + subsidised_land)
    + w_public · Σ (public_spending + land_forgone) + Σ_t penalty[t] · slack[t]

    The premium on early unmet demand makes buyers first come, first served: stock is never held
    back from this year's buyers to serve next year's (the market replay cannot do that either).
    Subsidised building is charged its construction and the land revenue its land forgoes, so
    buying unsold stock wins exactly when it costs less in money and land.
    """
    RY = [(r, y) for r in m.regions for y in m.years]
    last = max(m.years)
    m.objective = pyo.Objective(
        sense=pyo.minimize,
        expr=(
            m.weight_unmet_demand * sum(
                (1.0 + UNMET_EARLY_PREMIUM) ** (last - i[1]) * m.unmet_demand_10k_m2[i] for i in RY)
            + m.weight_presale_ramp * sum(
                m.presale_ramp_up_10k_m2[i] + m.presale_ramp_down_10k_m2[i]
                for i in m.presale_ramp_up_10k_m2)
            + m.weight_land_ramp * sum(m.land_ramp_ha[i] for i in RY)
            + m.weight_terminal * sum(m.terminal_short_10k_m2[r] for r in m.regions)
            + m.weight_inventory_above_band * sum(m.inventory_above_band_10k_m2[i] for i in RY)
            + m.weight_inventory_below_band * sum(m.inventory_below_band_10k_m2[i] for i in RY)
            + m.weight_aim_below * sum(m.aim_below_10k_m2[i] for i in RY)
            + m.weight_aim_above * sum(m.aim_above_10k_m2[i] for i in RY)
            + m.weight_inventory_holding * sum(m.inventory_end_10k_m2[i] for i in RY)
            + m.weight_land * sum(m.land_ha[i] + m.subsidised_land_ha[i] for i in RY)
            + m.weight_public_money * sum(
                m.public_spending_100m_yuan[i] + m.land_forgone_100m_yuan[i] for i in RY)
            + sum(m.target_penalty[t] * m.slack[t] for t in m.targets)
        ),
    )


# ---------------------------------------------------------------------------------------------
# Moving a built model to new inputs
# ---------------------------------------------------------------------------------------------
@dataclass
class Changes:
    """What :func:`set_params` changed: Param components (by name) and variables whose bounds or
    fixing changed — what a persistent solver must be told."""

    params: set[str] = field(default_factory=set)
    variables: list = field(default_factory=list)


def set_params(m: pyo.ConcreteModel, inputs: ModelInputs) -> Changes:
    """Write ``inputs`` into the model's mutable Params, slack bounds (target modes) and fixed
    decisions, touching only what differs from the last call. Raises StructureChanged if
    ``inputs`` need a different model shape."""
    if inputs.structure() != m.structure:
        raise StructureChanged(
            "these inputs change the model's shape (regions, years, lag, land "
            "rule, evaluate mode or the set of targets); build a new model"
        )
    m.target_rows = {t.key: t for t in inputs.targets}
    written = m.__dict__.setdefault("_written", {})
    changes = Changes()

    def put(name: str, values) -> None:
        if name in written and written[name] == values:
            return
        comp = m.component(name)
        if isinstance(values, Mapping):
            for k, v in values.items():
                comp[k] = v
        else:
            comp.set_value(values)
        written[name] = values
        changes.params.add(name)

    for name in (
        "inventory0_10k_m2",
        "demand_10k_m2",
        "plot_ratio_10k_m2_per_ha",
        "land_max_ha",
        "supply_max_10k_m2",
        "inventory_max_10k_m2",
        "revitalised_ha",
        "price_yuan_m2",
        "land_price_10k_yuan_per_ha",
        "purchase_price_factor",
        "build_cost_yuan_m2",
        "dev_finance_share",
        "max_purchase_share_of_stock",
        "dwellings0_10k",
        "vacant0_10k",
        "dwelling_size_m2",
        "household_formation_10k",
        "removals_10k",
        "band_low_months",
        "band_high_months",
    ):
        put(name, getattr(inputs, name))
    put("land_allowed_first_year_ha", inputs.land_allowed_first_year_ha)
    put("ready_share_cum", dict(enumerate(tm.cumulative_shares(inputs.ready_shares,
                                                               len(inputs.years) + 1))))
    put("pipeline_ready_10k_m2", inputs.pipeline_ready_10k_m2)
    put("carry_ready_10k_m2", {r: inputs.carry_ready_10k_m2.get(r, 0.0) for r in inputs.regions})
    put("pipeline_ready_next_10k_m2",
        {r: inputs.pipeline_ready_next_10k_m2.get(r, 0.0) for r in inputs.regions})
    put("aim_cycle_months", inputs.aim_cycle_months)
    put("presale_base_10k_m2", dict(inputs.presale_base_10k_m2))
    put("presale_change_share", inputs.presale_change_share)
    # no land history: no cap (the largest land a region may take, never binding)
    no_cap = {r: max(v for (rr, _y), v in inputs.land_max_ha.items() if rr == r)
              for r in inputs.regions}
    put("land_cap_ha", {r: inputs.land_cap_ha.get(r, no_cap[r]) for r in inputs.regions})
    put("terminal_feed_share", inputs.terminal_feed_share)
    put("subsidised_plot_ratio",
        {r: inputs.subsidised_plot_ratio.get(r, inputs.plot_ratio_10k_m2_per_ha[r])
         for r in inputs.regions})
    # the optimiser keeps rule_margin_months inside each threshold (add_land_rule)
    margin = inputs.rule_margin_months
    put("suspend_above_months", max(min(inputs.suspend_above_months, 1e6) - margin, 0.0))
    put("revitalise_above_months", max((inputs.revitalise_above_months or 0.0) - margin, 0.0))
    total_demand = sum(inputs.demand_10k_m2.values())
    put("subsidised_new_max_10k_m2", max(total_demand, 1.0) if inputs.allow_new_build else 0.0)
    for w in WEIGHTS:
        put(f"weight_{w}", getattr(inputs, f"weight_{w}"))
    put("target_value", {t.key: t.value for t in inputs.targets})
    put("target_penalty", {t.key: (t.penalty if t.mode == "soft" else 0.0) for t in inputs.targets})
    for name, mode, var in (("ramp", inputs.ramp_mode, m.presale_ramp_up_10k_m2),
                            ("ramp", inputs.ramp_mode, m.presale_ramp_down_10k_m2),
                            ("ramp", inputs.ramp_mode, m.land_ramp_ha),
                            ("terminal", inputs.terminal_mode, m.terminal_short_10k_m2)):
        key = f"_mode_{var.name}"
        if written.get(key) != mode:
            for v in var.values():
                v.setub(0.0 if mode == "hard" else None)
                changes.variables.append(v)
            written[key] = mode
    modes = written.setdefault("_modes", {})
    for t in inputs.targets:
        if modes.get(t.key) != t.mode:
            m.slack[t.key].setub(0.0 if t.mode == "hard" else None)
            changes.variables.append(m.slack[t.key])
            modes[t.key] = t.mode
    for var, values in (
        (m.land_ha, inputs.fixed_land_ha),
        (m.supply_10k_m2, inputs.fixed_supply_10k_m2),
        (m.purchased_10k_m2, inputs.fixed_purchased_10k_m2),
        (m.subsidised_new_10k_m2, inputs.fixed_subsidised_new_10k_m2),
        (m.sales_10k_m2, inputs.fixed_sales_10k_m2),
    ):
        key = f"_fixed_{var.name}"
        if key in written and written[key] == values:
            continue
        changes.variables += _fix(var, values)
        written[key] = values
    return changes


def _fix(var, values) -> list:
    """Fix ``var`` at the indices of ``values`` and unfix it elsewhere (everywhere when values is
    None; a mid-term review fixes only the observed years); return the touched variables."""
    values = values or {}
    touched = []
    for k, v in var.items():
        if k in values:
            v.fix(values[k])
            touched.append(v)
        elif v.fixed:
            v.unfix()
            touched.append(v)
    return touched


def binaries(m: pyo.ConcreteModel) -> list:
    """The land rule's binary variables (empty for an LP)."""
    out = []
    for name in ("suspend", "revitalise_band"):
        comp = m.component(name)
        if comp is not None:
            out += list(comp.values())
    return out
