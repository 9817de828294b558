"""mnist_light: seed 004's light CNN, 3 epochs: optimizer, rate, batch and schedule, chosen on validation."""

from __future__ import annotations

from pathlib import Path

from zoo.studies.registry import register
from zoo.studies.common import validation_sweep

LIGHT_RECIPES = {  # optimizer, learning rate, batch size, schedule; seed 004's recipe first
    "adam-1e-3-b32": ("adam", 1e-3, 32, "constant"), "adam-3e-3-b32-cos": ("adam", 3e-3, 32, "cosine"),
    "adam-3e-3-b64-cos": ("adam", 3e-3, 64, "cosine"), "adam-5e-3-b128-cos": ("adam", 5e-3, 128, "cosine"),
    "adam-1e-2-b128-cos": ("adam", 1e-2, 128, "cosine"), "rmsprop-1e-3-b32-cos": ("rmsprop", 1e-3, 32, "cosine"),
    "sgd-0.1-b32-cos": ("sgd", 0.1, 32, "cosine"),
}


@register("mnist_light")
def mnist_light_study(rounds: int, out: Path, data_dir=None) -> str:
    """Seed 004's light CNN (25k parameters), 3 epochs: optimizer, rate, batch and schedule, chosen on validation."""
    configs = {name: (dict(optimizer=optimizer, learning_rate=rate, batch_size=batch, schedule=schedule), {})
               for name, (optimizer, rate, batch, schedule) in LIGHT_RECIPES.items()}
    return validation_sweep("mnist_light", "mnist", "light", configs, rounds, out, data_dir, 0.99, "after 3 epochs",
                            "seed 004: about 97% validation accuracy after 3 epochs (Adam 1e-3, batch 32)")
