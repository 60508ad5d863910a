"""``python -m model.run [+scenario=NAME] [key=value ...]``: optimise (or evaluate) a housing plan.

This module only wires the stages: config → dataset → (mid-term review or one optimiser run,
model/pipeline.py) → run directory. :func:`run_model` is the same as a plain function (config in,
named outcomes out, nothing written) for sweeps and sensitivity analysis; :class:`Sweep`
(model/pipeline.py, re-exported here) re-solves one built model for many dotted overrides. Scenarios combine as
a list: ``'+scenario=[district,tight_land]'`` (later files win).

Exit codes: 0 a plan (every soft target reported met or missed); 1 bad input (config, dataset,
demand CSV), one line per problem; 2 the hard targets cannot all hold — the conflict and the
smallest relaxation of each target are printed and written to relaxation.csv; 3 the solver
stopped without an optimal answer (time limit, numerical trouble).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from time import perf_counter
from typing import Any


from model import results, uncertainty
from model.config import ConfigError, to_settings
from model.data import REPO_ROOT, Dataset, DatasetError, load_dataset
from model.pipeline import (  # noqa: F401 (the public API: python -m model.run's functions)
    EXIT_INFEASIBLE,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_SOLVER,
    Outcome,
    Sweep,
    _input_error,
    optimise_run,
    replay_headline,
    replay_params,
    replay_plan,
    replay_tables,
    resolve_dataset,
    run_dataset,
    solve_and_report,
    uncertainty_outcome,
)
from model.review import run_review

log = logging.getLogger(__name__)


def run_model(
    cfg: Any, dataset: Dataset | None = None, run_dir: str | Path | None = None
) -> Outcome:
    """Config (a composed DictConfig or a RunConfig) in, named outcomes out; writes no tables.

    ``run_dir``, if given, receives HiGHS's log (and model.mps with solver.write_mps). With
    ``review.enabled`` this is the mid-term review (:func:`model.review.run_review`): the
    outcome is the re-plan's, and the review's own files (comparison, adjustments, the note) are
    written into ``run_dir`` before the caller writes the run's tables and summary.json."""
    t_start = perf_counter()
    try:
        settings = to_settings(cfg)
        ds = run_dataset(settings, dataset)
    except ConfigError as exc:
        return _input_error([str(exc)])
    except DatasetError as exc:
        return _input_error(exc.problems)
    if settings.review.enabled:
        return run_review(settings, ds, run_dir)
    if settings.robust.enabled:  # +scenario=robust (docs/robust.md)
        from model.robust.run import run_robust

        return run_robust(settings, ds, run_dir)
    return optimise_run(settings, ds, run_dir, t_start)


def report(outcome: Outcome) -> None:
    """Log the human summary (INFO) or the input errors (ERROR, one line each)."""
    if outcome.status == "input_error":
        for line in outcome.messages:
            log.error("input error: %s", line)
        return
    level = logging.INFO if outcome.exit_code == EXIT_OK else logging.ERROR
    for line in outcome.messages:
        log.log(level, line)


def _hydra_main() -> None:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from model import sweep

    @hydra.main(version_base="1.3", config_path=str(REPO_ROOT / "conf"), config_name="config")
    def main(cfg) -> int | None:
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        overrides = list(HydraConfig.get().overrides.task)

        def run_once() -> int:
            outcome = run_model(cfg, run_dir=run_dir)
            if "uncertainty" in outcome.tables:  # the heat table, before summary.json
                uncertainty.uncertainty_chart(outcome.tables["uncertainty"],
                                              Path(run_dir) / "uncertainty.png")
            results.write_run(
                run_dir,
                outcome.tables,
                {**outcome.summary, "run_dir": str(run_dir), "overrides": overrides},
            )
            report(outcome)
            zh = outcome.summary.get("report_lang") == "zh"  # the printed summary's language
            log.info("运行目录：%s" if zh else "run directory: %s", run_dir)
            return outcome.exit_code

        if HydraConfig.get().mode == RunMode.MULTIRUN:
            # a sweep job: skipped if complete; a failure is recorded (job.json), never raised
            data_hash = sweep.current_data_hash(resolve_dataset(cfg.get("dataset")))
            return sweep.run_job(run_dir, overrides, run_once, data_hash)
        code = run_once()
        if code:
            sys.exit(code)
        return None

    main()
    if sweep.last_exit_code():  # set at the end of a sweep: the largest of its jobs' codes
        sys.exit(sweep.last_exit_code())


if __name__ == "__main__":
    _hydra_main()
