"""The robust plan beyond one machine: progressive hedging with mpi-sppy over MPI (docs/robust.md).

The extensive form (model/robust/extensive.py) holds every scenario in one HiGHS model; its size
grows with the scenario count. Progressive hedging (Rockafellar & Wets 1991) solves each
scenario's model on its own — the same scenario model, :func:`model.robust.extensive.build_scenario`
— and drives the first-stage decisions (:func:`~model.robust.extensive.first_stage_vars`) of all
scenarios to agree with a penalty ρ on their distance from the mean. mpi-sppy spreads the
scenarios over MPI ranks::

    pip install '.[mpi]'                      # mpi-sppy, mpi4py and an MPI library (mpich)
    mpiexec -n 4 python -m model.robust.ph robust.scenarios=40 --iterations 100 --rho 1 \\
        --out runs/robust_ph.json

Arguments after the options are the run's dotted config overrides (as ``python -m model.run``).
Rank 0 writes a JSON with the expected objective, PH's convergence metric, the iterations and
the first stage's land by region and year. With the land rule's binaries PH is a heuristic (it
converges for convex models; with binaries it usually settles, as here, but without a bound);
``risk=chance`` couples the scenarios and needs the extensive form.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

import pyomo.environ as pyo

from model.config import RobustConfig
from model.robust import extensive as ex
from model.robust.scenarios import Scenario, reference_plan

log = logging.getLogger(__name__)


def scenario_creator(name: str, scenarios: dict[str, Scenario], robust: RobustConfig):
    """mpi-sppy's scenario creator: the scenario model of ``name`` with its first stage and
    probability attached."""
    from mpisppy.utils import sputils

    s = scenarios[name]
    m = ex.build_scenario(s.inputs, robust)
    first_cost = pyo.quicksum(m.weight_land * (m.land_ha[i] + m.subsidised_land_ha[i])
                              for i in m.land_ha)
    sputils.attach_root_node(m, first_cost, ex.first_stage_vars(m))
    m._mpisppy_probability = s.probability
    return m


def run_ph(scenarios: Sequence[Scenario], robust: RobustConfig, iterations: int = 100,
           rho: float = 1.0, convthresh: float = 1e-5, solver_name: str = "highs"
           ) -> dict[str, Any]:
    """Progressive hedging over ``scenarios`` (each MPI rank gets its share); returns, on every
    rank, the expected objective, PH's convergence metric and the first stage's land."""
    if robust.risk == "chance":
        raise ValueError("robust.risk = 'chance' couples the scenarios (Σ p χ ≤ 1 − α); solve it "
                         "as the extensive form (python -m model.run +scenario=robust)")
    from mpisppy import MPI
    from mpisppy.opt.ph import PH

    by_name = {s.name: s for s in scenarios}
    options = {
        "solver_name": solver_name, "PHIterLimit": int(iterations), "defaultPHrho": float(rho),
        "convthresh": float(convthresh), "verbose": False, "display_progress": False,
        "display_timing": False, "iter0_solver_options": {}, "iterk_solver_options": {},
        "asynchronousPH": False, "display_convergence_detail": False,
    }
    ph = PH(options, list(by_name), scenario_creator,
            scenario_creator_kwargs={"scenarios": by_name, "robust": robust})
    conv, objective, _bound = ph.ph_main()
    land: dict[str, float] = {}
    for m in ph.local_scenarios.values():
        for (r, y), v in m.land_ha.items():
            land[f"{r}/{y}"] = land.get(f"{r}/{y}", 0.0) + pyo.value(v) / len(ph.local_scenarios)
    comm = MPI.COMM_WORLD
    ranks = comm.Get_size()
    gathered = comm.allgather(land)
    mean = {k: sum(g[k] for g in gathered) / ranks for k in land}
    return {"ranks": ranks, "scenarios": len(scenarios), "objective": float(objective),
            "convergence": float(conv), "iterations": int(ph._PHIter),
            "land_ha_total": sum(mean.values()), "land_ha": mean}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.robust.ph", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--rho", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("overrides", nargs="*", help="dotted config overrides, key=value")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    scenarios, robust = sample_for_ph(args.overrides)
    result = run_ph(scenarios, robust, args.iterations, args.rho)
    from mpisppy import MPI

    if MPI.COMM_WORLD.Get_rank() == 0:
        text = json.dumps(result, indent=2, ensure_ascii=False)
        if args.out is not None:
            args.out.write_text(text, encoding="utf-8")
        print(text)
    return 0


def sample_for_ph(overrides: Sequence[str]) -> tuple[list[Scenario], RobustConfig]:
    """The run's scenarios, as ``python -m model.run +scenario=robust`` samples them (every rank
    draws the same ones from ``robust.seed``)."""
    import yaml

    from model import pipeline
    from model.config import default_settings
    from model.data import load_dataset
    from model.inputs import build_inputs

    pairs = {}
    for item in overrides:
        key, _, value = item.partition("=")
        pairs[key.lstrip("+")] = yaml.safe_load(value)
    settings = default_settings(**{"robust.enabled": True, **pairs})
    ds = load_dataset(pipeline.resolve_dataset(settings.dataset))
    ref = reference_plan(settings, ds, build_inputs(settings, ds))
    return list(ref.sample()), settings.robust


if __name__ == "__main__":
    sys.exit(main())
