"""Checkpoints that a kill at any moment cannot corrupt.

Keras' ``BackupAndRestore`` writes the weights, then the epoch number, in place: a
SIGKILL during or between the two writes leaves a truncated file (the resume then
crashes) or weights one epoch ahead of their epoch number (an epoch is trained twice).
``ModelCheckpoint`` overwrites the best weights in place, with the same risk. Here each
epoch's checkpoint is written into a temporary folder and renamed into place, which is
atomic, and the newest complete one is restored.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from data_prep.errors import ZooError
from zoo.artifacts import atomic_path


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` (resume an interrupted ``fit`` at its last finished epoch)
    with one folder per checkpoint, renamed into place when complete."""

    def __init__(self, backup_dir, keep: int = 1):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=True)
        self.keep = keep  # the newest checkpoints kept (2 when processes must agree on an epoch)
        self.restore_epoch = None  # the epoch to resume from (None: the newest)

    def _checkpoints(self) -> list[Path]:
        return sorted(Path(self.backup_dir).glob("epoch-[0-9]*"))

    def latest_epoch(self) -> int:
        """The number of epochs the newest complete checkpoint has finished (0: none)."""
        checkpoints = self._checkpoints()
        return json.loads((checkpoints[-1] / "state.json").read_text())["epoch"] if checkpoints else 0

    def _save_model(self):
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=backup))
        self.model.save_weights(str(tmp / "model.weights.h5"))  # includes the optimizer state
        (tmp / "state.json").write_text(json.dumps({"epoch": self._current_epoch}))
        target = backup / f"epoch-{self._current_epoch:05d}"
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        for old in self._checkpoints()[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    def _load_model(self):
        backup = Path(self.backup_dir)
        for stale in backup.glob(".incomplete-*"):  # a kill in the middle of a save
            shutil.rmtree(stale, ignore_errors=True)
        epoch = self.latest_epoch() if self.restore_epoch is None else self.restore_epoch
        if not epoch:
            return
        checkpoint = backup / f"epoch-{epoch:05d}"
        if not (checkpoint / "state.json").is_file():
            raise ZooError(f"the processes agreed to resume at epoch {epoch + 1}, but {backup} has no checkpoint of "
                           "it: remove the .work folder on every machine to start the fit again")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(checkpoint / "model.weights.h5"))
        self.model._initial_epoch = epoch  # what keras' own callback sets
        print(f"resuming at epoch {epoch + 1} from the checkpoint in {backup}")


def trim_history(history_csv, epochs: int) -> None:
    """Keep the rows of the first ``epochs`` epochs of a ``CSVLogger`` file.

    Put the logger *before* the checkpoint callback, so that an epoch's row is written
    before its checkpoint: rows of an epoch killed before its checkpoint (and a
    half-written last line) are then dropped here before the fit resumes.
    """
    history_csv = Path(history_csv)
    if not history_csv.exists():
        return
    try:
        log = pd.read_csv(history_csv)
    except (pd.errors.EmptyDataError, pd.errors.ParserError):
        log = pd.DataFrame()
    if "epoch" in log:
        log = log[log["epoch"].to_numpy() == np.arange(len(log))].head(epochs)
    if "epoch" not in log or log.empty:
        history_csv.unlink()  # the logger starts a fresh file, header included
        return
    with atomic_path(history_csv) as tmp:
        log.to_csv(tmp, index=False)


class KeepBestWeights(keras.callbacks.Callback):
    """Save the weights whenever ``monitor`` improves, atomically (``ModelCheckpoint``
    with ``save_best_only`` writes in place). ``best``: the value to beat, e.g. the best
    of the epochs run before a resume."""

    def __init__(self, path, monitor: str, mode: str = "max", best: float | None = None):
        super().__init__()
        self.path, self.monitor, self.mode, self.best = Path(path), monitor, mode, best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        if self.best is None or (value > self.best if self.mode == "max" else value < self.best):
            self.best = float(value)
            with atomic_path(self.path) as tmp:
                self.model.save_weights(str(tmp))
