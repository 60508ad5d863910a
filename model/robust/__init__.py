"""A plan built to hold: the plan optimised under the uncertainty the tool measures (docs/robust.md).

``python -m model.run +scenario=robust`` builds a two-stage stochastic programme from the
project's own model and solves it as one extensive form with HiGHS, then checks the answer out of
sample in the market replay:

* :mod:`model.robust.scenarios` — scenarios sampled (seeded) from the same definitions as the
  replay and the uncertainty table: the demand cases and price behaviours of ``uncertainty.*``,
  the persistent demand level of ``sim.demand_level_sd`` (:func:`model.market.demand_level`) and
  the land → presale lag (``timing.lag_months_mean`` over its documented range); each scenario is
  a :class:`~model.inputs.ModelInputs` of the deterministic optimiser; :func:`reference_plan`
  (the deterministic plan and its price path) is where the run, progressive hedging and the
  benchmark all start;
* :mod:`model.robust.extensive` — the scenario model (:func:`model.optimise.build` plus the
  presale schedule, the band loss and the risk term) and the extensive form: one scenario model
  moved to each scenario's parameters (the sweeps' update mechanism), its rows read from HiGHS and
  stacked, the first-stage columns shared (non-anticipativity by construction);
* :mod:`model.robust.check` — the out-of-sample check: the robust, the deterministic and the
  mean-value plans replayed with a different seed over every demand case × price behaviour × lag;
* :mod:`model.robust.run` — the run: :func:`run_robust` returns the usual
  :class:`~model.pipeline.Outcome` (plan.csv is the robust plan);
* :mod:`model.robust.ph` — the same scenario model decomposed by progressive hedging with
  mpi-sppy over MPI (``mpiexec -n 2 python -m model.robust.ph``).
"""
