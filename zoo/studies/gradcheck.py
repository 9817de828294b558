"""gradcheck: finite differences and autodiff against the scratch MLP's hand-written gradients."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo import artifacts
from zoo.plots import pyplot
from zoo.registry import get_task
from zoo.studies.registry import register


@register("gradcheck")
def gradcheck_study(rounds: int, out: Path, data_dir=None) -> str:
    """Finite differences and autodiff against the hand-written gradients (seed 004 §1.4), in float64."""
    import keras

    from zoo.tasks.mnist_scratch import ScratchMLP, autodiff_gradients, numerical_gradient_check

    splits = get_task("mnist_scratch").load(data_dir=data_dir)
    keras.utils.set_random_seed(0)
    model = ScratchMLP(dtype="float64")  # seed 004's 400 / 700 network, glorot init
    x, y = splits.x_train[:100], splits.y_train[:100]
    model(x[:1])
    rows = numerical_gradient_check(model, x, y)
    analytic, _ = model.gradients(x, y)
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    relative = {name: float(np.max(np.abs(keras.ops.convert_to_numpy(a) - b)) / max(np.max(np.abs(b)), 1e-300))
                for name, a, b in zip(names, analytic, autodiff_gradients(model, x, y))}
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.loglog([r["N"] for r in rows], [r["max_abs_difference"] for r in rows], "o-")
    ax.set(xlabel="N (epsilon = 1/N)", ylabel="max |finite difference - analytic|",
           title="first 10 weights of W2's first row")
    artifacts.save_figure(fig, out / "gradcheck.png")
    plt.close("all")
    lines = [
        "# gradcheck: hand-written gradients of the scratch MLP (784-400-700-10, glorot, float64)", "",
        f"Data: 100 training images of {splits.describe()}. Central differences, epsilon = 1/N.",
        "Command: `python -m zoo.experiment gradcheck`", "",
        "| N | epsilon | max abs difference |", "|---|---|---|",
        *[f"| {r['N']} | {r['epsilon']:.0e} | {r['max_abs_difference']:.3e} |" for r in rows], "",
        f"Analytic vs {keras.backend.backend()} autodiff, max relative error per parameter:", "",
        "| parameter | relative error |", "|---|---|", *[f"| {k} | {v:.2e} |" for k, v in relative.items()], "",
        f"- {'PASS' if max(relative.values()) <= 1e-6 else 'FAIL'}: autodiff agreement <= 1e-6", "",
        "![gradcheck.png](gradcheck.png)",
    ]
    return "\n".join(lines) + "\n"
