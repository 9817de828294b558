"""scratch_rates: the scratch MLP's step-size schedule, chosen on validation (seed 004 §1.3)."""

from __future__ import annotations

from pathlib import Path

from zoo.studies.registry import register
from zoo.studies.common import validation_sweep

SCRATCH_RATES = {f"alpha{a:g}-delta{d:g}": {"alpha0": a, "delta": d} for a in (4.0, 8.0) for d in (2e-3, 5e-4)}


@register("scratch_rates")
def scratch_rates_study(rounds: int, out: Path, data_dir=None) -> str:
    """The scratch MLP's step size alpha_t = alpha0 / (1 + delta t) (seed 004 §1.3), glorot init,
    10 epochs: alpha0 x delta, chosen on validation (seed 004's alpha0 4, delta 2e-3 first)."""
    configs = {name: ({}, rate) for name, rate in SCRATCH_RATES.items()}
    return validation_sweep("scratch_rates", "mnist_scratch", "glorot", configs, rounds, out, data_dir, 0.97,
                            "after 10 epochs", "seed 004: alpha0 4, delta 2e-3, batch 32: normal init 97.15% "
                            "validation after 10 epochs, glorot 96.77% (97% after the 11th)")
