"""KerasTuner's grid oracle, made resumable."""

from __future__ import annotations

import functools

import keras_tuner as kt


class ResumableGridOracle(kt.oracles.GridSearchOracle):
    """KerasTuner 1.4.8's grid oracle loses its place when a search resumes: its walk order
    (``_ordered_ids``, ``_populate_next``) is not saved with its state, so a resumed grid
    stops early or raises KeyError (keras-team/keras-tuner#1055). Rebuilt here from the
    trials it reloads: each trial, in grid order, is a point to continue from."""

    def reload(self):
        super().reload()
        ids = [t for t in self.start_order if t in self.trials]
        values = {t: self.trials[t].hyperparameters.values for t in ids}
        for trial_id in sorted(ids, key=functools.cmp_to_key(lambda a, b: self._compare(values[a], values[b]))):
            self._ordered_ids.insert(trial_id)
            self._populate_next.append(trial_id)
