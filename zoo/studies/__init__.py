"""Studies, one module a study: ``python -m zoo.experiment STUDY`` runs one.

A study retrains variants over seeds with :func:`zoo.studies.common.trained` (one folder
per run under ``OUT/STUDY/models/``, read back when done, so an interrupted study
resumes) and returns the text of ``OUT/STUDY/results.md``: its table (mean ± std over
the seeds) next to the seed's figure, its checks and plots. Adding a study is one file:
a function decorated with :func:`zoo.studies.registry.register`, and its module named on the import
line below.
"""

from zoo.studies.registry import Study, get_study, list_studies, register  # noqa: F401
from zoo.studies import (  # noqa: E402, F401  (importing a module registers its study)
    activations_depth_width, colored_usps, curve, gradcheck, house_prices, init, losses, lr_batch, mnist_light,
    mnist_pairs, mnist_pairs_table1, mnist_variants, optimizers, scratch_rates, calibration,
)
