"""An interrupted fit resumes from its last finished epoch instead of starting over."""

from __future__ import annotations

import dataclasses

import keras
import pandas as pd
import pytest

from zoo.registry import get_task
from zoo.training import fit


class StopAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt  # what Ctrl-C does mid-fit


def test_interrupted_fit_resumes_at_the_next_epoch(tmp_path, monkeypatch):
    variant = get_task("two_spirals").variants["mlp"]
    interrupting = dataclasses.replace(variant.recipe, callbacks=lambda: [StopAfter(1)])
    monkeypatch.setattr(variant, "recipe", interrupting)
    with pytest.raises(KeyboardInterrupt):
        fit("two_spirals", epochs=4, out_dir=tmp_path, verbose=0)
    assert not (tmp_path / "two_spirals.keras").exists()
    # Epoch 1 was interrupted before its end (recipe callbacks run before the logger and the checkpoint).
    assert len(pd.read_csv(tmp_path / ".work" / "two_spirals" / "history.csv")) == 1

    monkeypatch.setattr(variant, "recipe", dataclasses.replace(variant.recipe, callbacks=lambda: []))
    card = fit("two_spirals", epochs=4, out_dir=tmp_path, verbose=0)
    history = pd.read_csv(tmp_path / "two_spirals.history.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3]  # epoch 0 kept, 1-3 run after the resume
    assert card["epochs_run"] == 4


def test_checkpoints_of_other_settings_are_not_resumed(tmp_path, monkeypatch, capsys):
    variant = get_task("two_spirals").variants["mlp"]
    monkeypatch.setattr(variant, "recipe", dataclasses.replace(variant.recipe, callbacks=lambda: [StopAfter(0)]))
    with pytest.raises(KeyboardInterrupt):
        fit("two_spirals", epochs=3, out_dir=tmp_path, verbose=0)
    monkeypatch.setattr(variant, "recipe", dataclasses.replace(variant.recipe, callbacks=lambda: []))
    card = fit("two_spirals", epochs=2, seed=5, out_dir=tmp_path, verbose=0)
    assert "discarding checkpoints" in capsys.readouterr().out
    assert card["epochs_run"] == 2
