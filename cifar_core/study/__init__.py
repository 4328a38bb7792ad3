"""Studies: train variants of one base config (an augmentation ablation or a hyper-parameter
grid), repeated over seeds, and compare them in one table.

- ``variants``: ablation and grid variants, and the grid parser.
- ``definition``: the ``Study`` (base, variants, seeds, planned run ids).
- ``folder``: the study folder on disk (``study.json``, ``status.json``, results CSVs).
- ``estimate``: predicted wall time from this device's measured speed; the budget check.
- ``execution``: the one study driver (lock, pid, final state) and its local executor, cancel.
- ``ray_backend``: the Ray executor (each run a Ray task).
- ``results``: per-run and per-variant tables from the run folders.
- ``stats``: paired t-intervals against the reference variant, and the verdict in words.
- ``catalog``: the named studies (``study --study NAME``); ``lesson``: the lesson study's rotated-image score and its takeaway.
- ``published``: finished studies' small results shipped in ``docs/studies/``.
"""

from cifar_core.study.definition import PlannedRun, Study, new_study_id, seeds_from
from cifar_core.study.estimate import Estimate, Throughput, check_budget, device_throughput, estimate_study
from cifar_core.study.execution import cancel_study, drive, launch_driver
from cifar_core.study.folder import StudyFolder, find_study, list_studies, studies_root
from cifar_core.study.results import display_table, refresh_results, run_table, variant_table
from cifar_core.study.variants import Variant, ablation_variants, grid_variants, parse_grid

__all__ = [
    "Estimate",
    "PlannedRun",
    "Study",
    "StudyFolder",
    "Throughput",
    "Variant",
    "ablation_variants",
    "cancel_study",
    "check_budget",
    "device_throughput",
    "display_table",
    "drive",
    "estimate_study",
    "find_study",
    "grid_variants",
    "launch_driver",
    "list_studies",
    "new_study_id",
    "parse_grid",
    "refresh_results",
    "run_table",
    "seeds_from",
    "studies_root",
    "variant_table",
]
