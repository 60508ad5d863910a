"""``python -m model.run [+scenario=NAME] [key=value ...]``: optimise (or evaluate) a housing plan.

This module only wires the stages: config → dataset → (mid-term review or one optimiser run,
model/pipeline.py) → run directory. :func:`run_model` is the same as a plain function (config in,
named outcomes out, nothing written) for sweeps and sensitivity analysis; :class:`Sweep`
(model/pipeline.py, re-exported here) re-solves one built model for many dotted overrides. Scenarios combine as
a list: ``'+scenario=[district,tight_land]'`` (later files win).

Exit codes (docs/errors.md): 0 a plan (every soft target reported met or missed); 1 bad input
(override, config, dataset, CSV, resources), one line per problem, found before any work; 2 the
hard targets cannot all hold — the conflict and the smallest relaxation of each target are
printed and written to relaxation.csv; 3 the solver stopped without an optimal answer (time
limit, numerical trouble); 4 the run directory cannot be used (model/rundir.py); 5 an internal
error; 130 interrupted.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from time import perf_counter
from typing import Any


def _interrupted_while_starting(signum, frame):
    print("model.run: interrupted (Ctrl-C) while starting; nothing was written", file=sys.stderr,
          flush=True)
    raise SystemExit(130)


# A Ctrl-C while the command imports its libraries (a second or two) would print a traceback:
# until the imports are done it is one line and exit 130. Left alone where SIGINT is ignored
# (a job started in the background) or handled by someone else.
_STARTING = __name__ == "__main__" and signal.getsignal(signal.SIGINT) is signal.default_int_handler
if _STARTING:
    signal.signal(signal.SIGINT, _interrupted_while_starting)


from model import results, uncertainty
from model.config import RunConfig, to_settings
from model.data import REPO_ROOT, Dataset
from model.errors import UserError
from model.inputs import build_inputs
from model.pipeline import (  # noqa: F401 (the public API: python -m model.run's functions)
    EXIT_INFEASIBLE,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_SOLVER,
    Outcome,
    Sweep,
    _conflict_note,
    input_error,
    check_inputs,
    check_settings,
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
from model.review_note import with_note

if _STARTING:  # from here on the run's own handling (KeyboardInterrupt: _hydra_main)
    signal.signal(signal.SIGINT, signal.default_int_handler)

log = logging.getLogger(__name__)


def run_model(
    cfg: Any, dataset: Dataset | None = None, run_dir: str | Path | None = None
) -> Outcome:
    """Config (a composed DictConfig or a RunConfig) in, named outcomes out; writes no tables.

    ``run_dir``, if given, receives HiGHS's log (and model.mps with solver.write_mps). With
    ``review.enabled`` this is the mid-term review (:func:`model.review.run_review`, then its
    charts and note, :func:`model.review_note.with_note`): the outcome is the re-plan's, and the
    review's own files (comparison, adjustments, the note) are written into ``run_dir`` before
    the caller writes the run's tables and summary.json."""
    t_start = perf_counter()
    try:
        settings = to_settings(cfg)
        check_settings(settings)
        ds = run_dataset(settings, dataset)
    except UserError as exc:
        return input_error(exc.problems)
    if settings.review.enabled:
        return with_note(run_review(settings, ds, run_dir), run_dir)
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


def preflight(overrides: list[str]) -> RunConfig:
    """Everything a single run checks before Hydra creates its directory: the overrides compose,
    the config is valid (every key, every number, solver.options), the dataset and every CSV
    the run reads load, the replay's parameters and memory. Raises UserError (one line per
    problem), so a bad input never leaves a folder behind."""
    from omegaconf import open_dict

    from model.validate import compose

    cfg = compose(REPO_ROOT / "conf", overrides)
    with open_dict(cfg):
        del cfg["hydra"]
    settings = to_settings(cfg)
    check_settings(settings)
    ds = run_dataset(settings)
    inputs = build_inputs(settings, ds)
    check_inputs(settings, ds, inputs)
    return settings


def config_hash(cfg: Any) -> str:
    """A short hash of the composed config (every key, resolved): a sweep job is complete only
    for the same config, so editing a scenario file re-runs the jobs it changes."""
    import hashlib
    import json

    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else cfg
    text = json.dumps(plain, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


_INFO_FLAGS = ("--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c", "--version",
               "--shell-completion", "-sc", "--resolve")


def _hydra_main() -> None:
    """``python -m model.run``: the validation layer (model/validate.py), then Hydra."""
    from model.errors import cli

    cli("model.run", _main)


def _main() -> int:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from model import rundir, sweep
    from model.errors import EXIT_INTERNAL, RunDirError, internal_error_line, report_error
    from model.validate import check_override_syntax, compose, override_args, sweep_variants

    argv = sys.argv[1:]
    check_override_syntax(argv)
    multirun = any(a in ("-m", "--multirun") for a in argv)
    if not any(a.split("=")[0] in _INFO_FLAGS for a in argv):
        if multirun:  # every swept value composes (a typo stops the sweep, as in Hydra, in
            # one line); a value a job cannot use is that job's input error (sweep_status.csv)
            for variant in sweep_variants(override_args(argv)):
                compose(REPO_ROOT / "conf", variant)
        else:
            preflight(override_args(argv))
    codes: list[int] = []
    langs: list[str] = []  # the printed summary's language, for the run-directory line

    @hydra.main(version_base="1.3", config_path=str(REPO_ROOT / "conf"), config_name="config")
    def main(cfg) -> int | None:
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        overrides = list(HydraConfig.get().overrides.task)
        cfg_hash = config_hash(cfg)

        def run_once() -> int:
            outcome = run_model(cfg, run_dir=run_dir)
            if "uncertainty" in outcome.tables:  # the heat table, before summary.json
                uncertainty.uncertainty_chart(outcome.tables["uncertainty"],
                                              Path(run_dir) / "uncertainty.png")
            try:
                results.write_run(
                    run_dir,
                    outcome.tables,
                    {**outcome.summary, "run_dir": str(run_dir), "overrides": overrides,
                     "config_hash": cfg_hash},
                )
            except OSError as exc:  # disk full, folder removed meanwhile: one line, code 4
                raise RunDirError(f"run directory {run_dir}: the run's files cannot be written "
                                  f"({exc.strerror or exc}); no summary.json, so the folder "
                                  f"reads as unfinished") from None
            report(outcome)
            zh = outcome.summary.get("report_lang") == "zh"  # the printed summary's language
            langs.append("zh" if zh else "en")
            if HydraConfig.get().mode == RunMode.MULTIRUN:  # a single run says it at the end,
                # once its folder has its final name (_finish_run)
                log.info("运行目录：%s" if zh else "run directory: %s", run_dir)
            return outcome.exit_code

        def run_single() -> int:
            """A single run inside Hydra: no exception may reach Hydra (it prints tracebacks)."""
            try:
                return run_once()
            except UserError as exc:
                return report_error("model.run", exc)
            except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback in a file
                print(internal_error_line("model.run", exc, run_dir), file=sys.stderr,
                      flush=True)
                return EXIT_INTERNAL

        if HydraConfig.get().mode == RunMode.MULTIRUN:
            # a sweep job: skipped if complete; a failure is recorded (job.json), never raised
            data_hash = sweep.current_data_hash(resolve_dataset(cfg.get("dataset")))
            return sweep.run_job(run_dir, overrides, run_once, data_hash, cfg_hash)
        codes.append(run_single())
        return codes[-1]

    try:
        main()
    except KeyboardInterrupt:
        where = _finish_run(rundir, 130, quiet=True)
        tail = (f"; the unfinished run (no summary.json) is in {where}" if where else
                "; run the same command again to resume the sweep (complete jobs are skipped)"
                if multirun else "")
        print(f"model.run: interrupted (Ctrl-C){tail}", file=sys.stderr, flush=True)
        return 130
    if codes:  # a single run: release its folder, mark it if it has no plan
        _finish_run(rundir, codes[-1], zh=bool(langs) and langs[-1] == "zh")
        return codes[-1]
    return sweep.last_exit_code()  # the largest of the sweep's jobs' codes (0 if none ran)


def _finish_run(rundir, code: int, quiet: bool = False, zh: bool = False) -> Path | None:
    """Release the run's folder; a Hydra-named folder of a run without a plan is renamed
    (…_INFEASIBLE, …_INPUT-ERROR, …); say (unless ``quiet``) and return where the run is."""
    run_dir = rundir.RunDirGuard.claimed
    if run_dir is None:
        return None
    rundir.release(run_dir)
    if code and rundir.RunDirGuard.auto_named:
        run_dir = rundir.mark_failed(run_dir, rundir.status_of_exit(code))
    if not quiet:
        log.log(logging.INFO if code == 0 else logging.WARNING,
                "运行目录：%s" if zh else "run directory: %s", run_dir)
    return run_dir


if __name__ == "__main__":
    _hydra_main()
