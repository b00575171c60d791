"""The lab: compare optimizers (with schedules) on fixed problems, tuned, seeded, stored, reported.

``ravine compare`` is its command line (:mod:`ravine.lab.cli`). The pieces:

- :mod:`~ravine.lab.problems`: 2-D surfaces, DeepOBS-style quadratics, classification on
  scikit-learn's bundled data sets, each with a target;
- :mod:`~ravine.lab.study`: a study definition (problems x optimizers x seeds), from TOML;
- :mod:`~ravine.lab.tuning`: Optuna tuning per problem and optimizer;
- :mod:`~ravine.lab.runner` / :mod:`~ravine.lab.execution`: runs, resumable, in parallel;
- :mod:`~ravine.lab.store`: the SQLite run store (shared with Optuna's storage);
- :mod:`~ravine.lab.report`: the HTML report and Markdown summary.

Submodules are imported on use, so ``import ravine.lab`` stays cheap.
"""

__all__ = ["cli", "execution", "optimizers", "problems", "report", "runner", "store", "study",
           "tuning"]
