"""The one land → presale timing model that every stage uses (docs/timing.md).

In the plan's statistics, supply (供应, 表45, §2.2.1.1) is floor area newly approved for presale
(批准预售, plus 现售 registrations of completed homes); it joins the for-sale stock (表19) the day it
is approved. Land sold (出让, 表21, 表48) becomes presale only after contracts, permits and building
to the presale threshold: about 9–18 months (centre near 12). Floor area sold as completed homes
(现房; the plan aims at 45% of sales by 2030, 表34) waits for completion: about 24–36 months.

:class:`Timing` holds the two lag distributions (months) and the completed-home share. From it:

* :func:`arrival_pmf` — P(floor area of land sold in month m is first presaleable in m + k), the
  mixture ``(1 − c)·presale + c·completed``, each discretised to whole months;
* :func:`annual_shares` — a_k, the share of a year's land (sold evenly over its twelve months)
  first presaleable in the same year (k = 0), the next (k = 1), …: what the optimiser uses;
* :func:`lag_table` — the replay's quantile table of whole-month lags whose histogram *is*
  :func:`arrival_pmf`, so the replay's expected arrivals equal the optimiser's shares exactly;
* :func:`opening_pipeline` — floor area on land sold before the plan not yet presaleable at the
  end of the base year, and the plan year in which each part becomes presaleable.

Pure numpy; no pandas, Pyomo or Hydra here. Numbers in months and 万m² (``_10k_m2``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from scipy import special

MONTHS_PER_YEAR = 12
DISTRIBUTIONS = ("gamma", "lognormal", "fixed")
#: Resolution of the replay's lag draws: 65,536 equally likely quantiles.
LAG_TABLE_SIZE = 1 << 16


@dataclass(frozen=True)
class Timing:
    """Land sale → presale lags and the completed-home share (defaults: docs/timing.md).

    ``lag_months_*``: land sale → presale approval for floor area sold off-plan (预售): mean 12
    months, sd 3, at most 24 — the 9–18-month range of permits plus building to the presale
    threshold in a construction season of about April–October (judgement; range 9–18 for the
    mean). ``completed_*``: the share of floor area sold as completed homes (现售) and its lag,
    land sale → completion: share 0.2 (judgement; range 0–0.45, the plan's 2030 aim for 现房 sales,
    表34), mean 30 months, sd 4, at most 48 (24–36 typical)."""

    lag_months_mean: float = 12.0
    lag_months_sd: float = 3.0
    lag_months_max: int = 24
    completed_share: float = 0.2
    completed_lag_months_mean: float = 30.0
    completed_lag_months_sd: float = 4.0
    completed_lag_months_max: int = 48
    distribution: str = "gamma"

    def problems(self) -> list[str]:
        """Every invalid field, one line each (config key ``timing.<field>``)."""
        out = []

        def bad(name: str, valid: str) -> None:
            out.append(f"timing.{name} = {getattr(self, name)!r} is not valid; expected {valid}")

        if self.distribution not in DISTRIBUTIONS:
            bad("distribution", " or ".join(repr(d) for d in DISTRIBUTIONS))
        for prefix in ("", "completed_"):
            mean = getattr(self, f"{prefix}lag_months_mean")
            sd = getattr(self, f"{prefix}lag_months_sd")
            cap = getattr(self, f"{prefix}lag_months_max")
            if not _finite(mean) or not 0 <= mean <= 120:
                bad(f"{prefix}lag_months_mean", "a number of months in [0, 120]")
            if not _finite(sd) or not 0 <= sd <= 60:
                bad(f"{prefix}lag_months_sd", "a number of months in [0, 60]")
            if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or not 0 <= cap <= 240:
                bad(f"{prefix}lag_months_max", "a whole number of months in [0, 240]")
            elif _finite(mean) and cap < round(mean):
                bad(f"{prefix}lag_months_max",
                    f"a whole number of months >= {prefix}lag_months_mean ({mean:g})")
        if not _finite(self.completed_share) or not 0 <= self.completed_share <= 1:
            bad("completed_share", "a share in [0, 1] (20% is written 0.2)")
        return out


def _finite(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) \
        and math.isfinite(x)


# ---------------------------------------------------------------------------------------------
# Monthly lags
# ---------------------------------------------------------------------------------------------
def lag_pmf(mean: float, sd: float, max_months: int, distribution: str = "gamma") -> np.ndarray:
    """P(lag = k whole months), k = 0 … max_months: the gamma (or lognormal) with this mean and
    sd rounded to the nearest month, its tail beyond ``max_months`` folded into the last entry;
    all mass at round(mean) when the lag is fixed (distribution 'fixed', sd ≈ 0 or mean ≈ 0).

    Shape (max_months + 1,), sums to 1. Computed through :func:`lag_table`'s quantiles so that the
    replay's draws have exactly this distribution (to 1/65,536)."""
    table = _single_table(distribution, float(mean), float(sd), int(max_months))
    return _histogram(table, int(max_months) + 1)


def arrival_pmf(timing: Timing) -> np.ndarray:
    """P(floor area of land sold in month m is first presaleable in month m + k), k = 0 … K,
    K = the longer of the two maxima: (1 − c)·presale lag + c·completed lag. Shape (K + 1,)."""
    return _histogram(lag_table(timing), _longest(timing) + 1)


def lag_table(timing: Timing) -> np.ndarray:
    """The replay's table of whole-month lags at 65,536 equally likely quantiles of the mixture:
    the first ⌊(1 − c)·65,536⌉ entries from the presale lag, the rest from the completed-home
    lag. A uniform index into it samples a lag. Read-only, cached."""
    return _mixture_table(timing)


@functools.lru_cache(maxsize=128)
def _mixture_table(timing: Timing) -> np.ndarray:
    n_completed = int(round(timing.completed_share * LAG_TABLE_SIZE))
    presale = _single_table(timing.distribution, float(timing.lag_months_mean),
                            float(timing.lag_months_sd), int(timing.lag_months_max))
    completed = _single_table(timing.distribution, float(timing.completed_lag_months_mean),
                              float(timing.completed_lag_months_sd),
                              int(timing.completed_lag_months_max))
    # every k-th quantile of each table keeps each distribution's shape at the smaller size
    n_presale = LAG_TABLE_SIZE - n_completed
    parts = []
    if n_presale:
        parts.append(_resample(presale, n_presale))
    if n_completed:
        parts.append(_resample(completed, n_completed))
    return _frozen(np.concatenate(parts))


def _resample(table: np.ndarray, n: int) -> np.ndarray:
    """n equally likely quantiles of the distribution ``table`` holds (also of size 1)."""
    if len(table) == 1:
        return np.full(n, table[0], dtype=np.int64)
    q = (np.arange(n) + 0.5) / n
    return table[np.minimum((q * len(table)).astype(np.int64), len(table) - 1)]


@functools.lru_cache(maxsize=128)
def _single_table(distribution: str, mean: float, sd: float, max_months: int) -> np.ndarray:
    """Whole-month lags at the 65,536 quantiles (i + ½)/65,536: entry i is the smallest k with
    F(k + ½) ≥ (i + ½)/65,536 (F(max) := 1); one entry when the lag is fixed."""
    if distribution == "fixed" or sd < 1e-6 * max(mean, 1.0) or mean < 1e-6:
        return _frozen(np.array([min(int(round(mean)), max_months)], dtype=np.int64))
    half = np.arange(max_months + 1) + 0.5
    if distribution == "gamma":
        cdf = special.gammainc((mean / sd) ** 2, half / (sd * sd / mean))
    else:
        sigma = math.sqrt(math.log(1.0 + (sd / mean) ** 2))
        cdf = special.ndtr((np.log(half) - math.log(mean) + sigma * sigma / 2) / sigma)
    cdf[-1] = 1.0
    q = (np.arange(LAG_TABLE_SIZE) + 0.5) / LAG_TABLE_SIZE
    return _frozen(np.searchsorted(cdf, q, side="left").astype(np.int64))


def _histogram(table: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(table, minlength=size)[:size] / len(table)


def _longest(timing: Timing) -> int:
    return max(int(timing.lag_months_max), int(timing.completed_lag_months_max))


def max_lag_months(timing: Timing) -> int:
    """The longest lag a draw from :func:`lag_table` can return."""
    return int(lag_table(timing).max())


def draw_lag_months(rng: np.random.Generator, shape: tuple[int, ...],
                    table: np.ndarray) -> np.ndarray:
    """Lags in whole months, one per element of ``shape``, from a :func:`lag_table`."""
    if np.all(table == table[0]):
        return np.full(shape, table[0], dtype=np.int64)
    return table[rng.integers(0, len(table), size=shape, dtype=np.uint16)]


# ---------------------------------------------------------------------------------------------
# Annual shares (the optimiser's view)
# ---------------------------------------------------------------------------------------------
def annual_shares(timing: Timing) -> tuple[float, ...]:
    """a_k: the share of the floor area of land sold evenly over the twelve months of a year
    that is first presaleable k years later (k = 0, 1, …; Σ a_k = 1):

        a_k = (1/12) Σ_{m=0..11} Σ_{l : ⌊(m + l)/12⌋ = k} P(lag = l)

    With the defaults (12 ± 3 months; 20% completed homes at 30 ± 4): about 0.04, 0.73, 0.15,
    0.08 — so presale in a plan year comes mostly from the land of the year before."""
    return _annual_shares(timing)


@functools.lru_cache(maxsize=128)
def _annual_shares(timing: Timing) -> tuple[float, ...]:
    pmf = arrival_pmf(timing)
    years = (MONTHS_PER_YEAR - 1 + len(pmf) - 1) // MONTHS_PER_YEAR + 1
    out = np.zeros(years)
    for m in range(MONTHS_PER_YEAR):
        offsets = (m + np.arange(len(pmf))) // MONTHS_PER_YEAR
        np.add.at(out, offsets, pmf / MONTHS_PER_YEAR)
    while len(out) > 1 and out[-1] < 1e-15:
        out = out[:-1]
    return tuple(float(v) for v in out)


def cumulative_shares(shares: tuple[float, ...], n: int) -> tuple[float, ...]:
    """F_j = Σ_{k ≤ j} a_k for j = 0 … n − 1 (1 beyond the last share)."""
    cum = np.cumsum(np.asarray(shares, dtype=float))
    return tuple(float(cum[min(j, len(cum) - 1)]) for j in range(n))


def share_at(shares: tuple[float, ...], k: int) -> float:
    """a_k (0 for k < 0 or beyond the last share)."""
    return float(shares[k]) if 0 <= k < len(shares) else 0.0


# ---------------------------------------------------------------------------------------------
# The opening pipeline
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pipeline:
    """Floor area on land sold before the plan, per region (万m²).

    ``tranches[(region, year_sold)]`` is the floor area of each history year's land (after any
    override's scaling); ``remaining[region]`` the part not yet presaleable at the end of the
    base year; ``ready[(region, plan_year)]`` the part that becomes presaleable in each plan year
    (the rest after the last plan year). ``how`` says how it was derived."""

    tranches: Mapping[tuple[str, int], float]
    remaining: Mapping[str, float]
    ready: Mapping[tuple[str, int], float]
    how: str
    held_back: Mapping[str, float] = field(default_factory=dict)  # ready, not presold: year 1


def with_held_back(pipeline: Pipeline, held_back_10k_m2: Mapping[str, float],
                   first_year: int, how: str) -> Pipeline:
    """The pipeline plus floor area that was ready at the end of the base year but not presold
    (万m² per region): presaleable from the first plan year."""
    held = {r: float(v) for r, v in held_back_10k_m2.items() if v > 0}
    remaining = {r: v + held.get(r, 0.0) for r, v in pipeline.remaining.items()}
    ready = {k: v + (held.get(k[0], 0.0) if k[1] == first_year else 0.0)
             for k, v in pipeline.ready.items()}
    return Pipeline(pipeline.tranches, remaining, ready, f"{pipeline.how}; {how}", held)


def opening_pipeline(floor_area_sold_10k_m2: Mapping[tuple[str, int], float],
                     regions: tuple[str, ...], base_year: int, plan_years: tuple[int, ...],
                     shares: tuple[float, ...],
                     override_10k_m2: Mapping[str, float] | None = None) -> Pipeline:
    """The pipeline at the end of ``base_year`` from the floor area of land sold in each history
    year (region, year → 万m²: land sold, 表21, × plot ratio) under the annual shares a_k:

        remaining[r] = Σ_h area[r,h] · (1 − F_{b−h})        (F_j = Σ_{k≤j} a_k)
        ready[r,y]   = Σ_h area[r,h] · a_{y−h}              for plan years y

    ``override_10k_m2`` (region → 万m²) replaces a region's remaining total: its history tranches
    are scaled to it; a region with no history land gets one tranche sold in the base year."""
    override = dict(override_10k_m2 or {})
    tranches = {k: float(v) for k, v in floor_area_sold_10k_m2.items() if k[0] in regions}
    f0 = share_at(shares, 0)

    def remaining_of(r: str, tr: Mapping) -> float:
        return sum(a * (1.0 - sum(share_at(shares, k) for k in range(base_year - h + 1)))
                   for (rr, h), a in tr.items() if rr == r and h <= base_year)

    derived = {r: remaining_of(r, tranches) for r in regions}
    how = ("land sold before the plan (表21) × plot ratio, less the part presaleable by the end "
           f"of {base_year} under the timing model")
    if override:
        how += "; config timing.pipeline_10k_m2 for " + ", ".join(sorted(override))
        for r, total in override.items():
            mine = {k: v for k, v in tranches.items() if k[0] == r}
            if derived[r] > 1e-12:
                factor = float(total) / derived[r]
                tranches.update({k: v * factor for k, v in mine.items()})
            else:
                for k in mine:
                    tranches[k] = 0.0
                tranches[(r, base_year)] = float(total) / (1.0 - f0) if f0 < 1 else 0.0
    remaining = {r: remaining_of(r, tranches) for r in regions}
    ready = {(r, y): sum(a * share_at(shares, y - h) for (rr, h), a in tranches.items()
                         if rr == r and h <= base_year)
             for r in regions for y in plan_years}
    return Pipeline(tranches=tranches, remaining=remaining, ready=ready, how=how)


def scale_regions(pipeline: Pipeline, totals: Mapping[str, float], base_year: int,
                  plan_years: tuple[int, ...], shares: tuple[float, ...], how: str) -> Pipeline:
    """The pipeline with the regions of ``totals`` (region → 万m² not yet presold at the end of the
    base year) set to those totals: their history tranches scaled (a region without any gets one
    tranche sold in the base year), their held-back floor area dropped; other regions unchanged."""
    f0 = share_at(shares, 0)
    tranches = dict(pipeline.tranches)
    held = {r: v for r, v in pipeline.held_back.items() if r not in totals}
    for r, total in totals.items():
        mine = {k: v for k, v in tranches.items() if k[0] == r}
        left = sum(a * (1.0 - sum(share_at(shares, k) for k in range(base_year - h + 1)))
                   for (_r, h), a in mine.items() if h <= base_year)
        if left > 1e-12:
            tranches.update({k: v * float(total) / left for k, v in mine.items()})
        else:
            for k in mine:
                tranches[k] = 0.0
            tranches[(r, base_year)] = float(total) / (1.0 - f0) if f0 < 1 else 0.0
    regions = tuple(pipeline.remaining)
    fresh = opening_pipeline(tranches, regions, base_year, plan_years, shares)
    remaining = {r: fresh.remaining[r] + held.get(r, 0.0) for r in regions}
    ready = {k: v + (held.get(k[0], 0.0) if k[1] == plan_years[0] else 0.0)
             for k, v in fresh.ready.items()}
    return Pipeline(tranches, remaining, ready, f"{pipeline.how}; {how}", held)


def backcast_presale(pipeline: Pipeline, year: int, shares: tuple[float, ...],
                     members: tuple[str, ...]) -> float:
    """Presale the timing model implies in a history ``year`` from the history land alone
    (Σ_h area[r,h] · a_{year−h}, r ∈ members): a check against the printed base-year supply."""
    return sum(a * share_at(shares, year - h) for (r, h), a in pipeline.tranches.items()
               if r in members and h <= year)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


def ready_by_year(land_ha: Mapping[int, float], plot_ratio_10k_m2_per_ha: float,
                  shares: tuple[float, ...], pipeline_ready_10k_m2: Mapping[int, float],
                  years: tuple[int, ...]) -> dict[int, float]:
    """Floor area first presaleable in each plan year y in one region (万m²):

        ready[y] = pipeline_ready[y] + ρ Σ_{t ≤ y} a_{y−t} · land[t]

    (land in ha sold in plan years t; the pipeline from land sold before the plan)."""
    return {y: float(pipeline_ready_10k_m2.get(y, 0.0)) + plot_ratio_10k_m2_per_ha * sum(
        share_at(shares, y - t) * float(land_ha.get(t, 0.0)) for t in years if t <= y)
        for y in years}


def deliverable_presale(planned_10k_m2: Mapping[int, float], ready_10k_m2: Mapping[int, float],
                        years: tuple[int, ...]) -> dict[int, float]:
    """The presale a schedule can deliver in one region (万m²) when developers presell the plan's
    amount plus whatever they could not presell before (the backlog), as far as floor area
    already ready and not yet presold allows — the market replay's rule, in whole years:

        deliverable[y] = min(planned[y] + backlog[y−1], Σ_{τ≤y} ready[τ] − Σ_{τ<y} deliverable[τ])
        backlog[y]     = backlog[y−1] + planned[y] − deliverable[y]
    """
    out, ready_left, backlog = {}, 0.0, 0.0
    for y in years:
        ready_left += float(ready_10k_m2.get(y, 0.0))
        want = float(planned_10k_m2.get(y, 0.0)) + backlog
        out[y] = max(0.0, min(want, ready_left))
        ready_left -= out[y]
        backlog = want - out[y]
    return out
