"""Median milliseconds per training step: Keras model.fit on each backend vs a
hand-written PyTorch loop of the same network, same batch, same threads.

    python benchmarks/step_time.py [--steps 60] [--epochs 5] [--threads 2]

Networks: usps ``seed002`` (three 5x5 convs 16/32/64 + pooling, dense 10; batch 64) and
mnist_pairs ``convnet_ws`` (seed 003's siamese convnet, shared branch; batch 100).
Each backend runs in its own process (KERAS_BACKEND), data as NumPy arrays in memory.
Each backend is timed with steps_per_execution 1 (the default) and 10. Prints a table and
the ratio best Keras configuration / PyTorch loop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch")
# steps_per_execution 10: ten steps per call into the compiled function, fewer Python round
# trips; Keras' PyTorch backend accepts only 1.
STEPS_PER_EXECUTION = {"tensorflow": (1, 10), "jax": (1, 10), "torch": (1,)}
CASES = {"usps seed002": ("usps", "seed002", (16, 16, 1), 10, 64),
         "mnist_pairs convnet_ws": ("mnist_pairs", "convnet_ws", (14, 14, 2), 2, 100)}



def keras_step_ms(task_name, variant, shape, classes, batch, steps, epochs, steps_per_execution=1) -> float:
    """Median over epochs (after a warm-up epoch that traces) of the epoch's seconds / steps."""
    import keras
    import numpy as np

    sys.path.insert(0, str(REPO))
    from zoo.core import build_training_state
    from zoo.registry import get_task

    spec = get_task(task_name).variants[variant]
    model = spec.build(None)
    model.compile(optimizer=spec.recipe.make_optimizer(), **spec.recipe.compile_args(),
                  steps_per_execution=steps_per_execution)  # compile_model has no steps_per_execution
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch * steps, *shape)).astype("float32")
    y = rng.integers(0, classes, batch * steps)
    if keras.backend.backend() == "tensorflow":  # as zoo.fit does: the training state before the first trace
        build_training_state(model, {"x": x, "y": y})

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append((time.perf_counter() - self.t) / steps)

    times = []
    model.fit(x, y, batch_size=batch, epochs=epochs + 1, verbose=0, callbacks=[Timer()])
    return 1000 * float(np.median(times[1:]))


def torch_step_ms(task_name, shape, classes, batch, steps, epochs, threads, accuracy) -> float:
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    if task_name == "usps":
        net = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(256, 10))
        forward = net
    else:
        branch = nn.Sequential(nn.Conv2d(1, 32, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(32, 64, 3),
                               nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(256, 200), nn.ReLU(),
                               nn.Linear(200, 10))
        head = nn.Sequential(nn.Linear(20, 10), nn.ReLU(), nn.Linear(10, 2))
        net = nn.ModuleList([branch, head])

        def forward(x):
            return head(torch.cat([branch(x[:, :1]), branch(x[:, 1:])], dim=1))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.uniform(0, 1, (batch * steps, shape[2], shape[0], shape[1])).astype("float32"))
    y = torch.tensor(rng.integers(0, classes, batch * steps))
    times = []
    for epoch in range(epochs + 1):  # the first epoch warms up, as for Keras
        start, correct = time.perf_counter(), torch.zeros((), dtype=torch.long)
        for i in range(steps):
            xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
            optimizer.zero_grad()
            scores = forward(xb)
            loss = loss_fn(scores, yb)
            loss.backward()
            optimizer.step()
            if accuracy:  # the same work as fit's accuracy metric
                correct += (scores.argmax(1) == yb).sum()
            loss.item()  # as fit does: the step's loss reaches Python
        times.append((time.perf_counter() - start) / steps)
    return 1000 * float(np.median(times[1:]))


def child(backend, steps, epochs, threads):
    results = {}
    for name, (task, variant, shape, classes, batch) in CASES.items():
        for spe in STEPS_PER_EXECUTION[backend]:
            results[f"{name} spe{spe}"] = keras_step_ms(task, variant, shape, classes, batch, steps, epochs, spe)
        if backend == "torch":
            for accuracy in (False, True):
                results[f"{name} (PyTorch loop{' + accuracy' * accuracy})"] = torch_step_ms(
                    task, shape, classes, batch, steps, epochs, threads, accuracy)
    print(json.dumps(results))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=60, help="steps an epoch")
    p.add_argument("--epochs", type=int, default=10, help="timed epochs after the warm-up one")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child, args.steps, args.epochs, args.threads)
    table = {}
    for backend in BACKENDS:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu",
               "OMP_NUM_THREADS": str(args.threads), "TF_NUM_INTRAOP_THREADS": str(args.threads)}
        out = subprocess.run([sys.executable, __file__, "--child", backend, "--steps", str(args.steps),
                              "--epochs", str(args.epochs), "--threads", str(args.threads)],
                             env=env, capture_output=True, text=True, check=True)
        table[backend] = json.loads(out.stdout.strip().splitlines()[-1])
    columns = [(b, spe) for b in BACKENDS for spe in STEPS_PER_EXECUTION[b]]
    sys.path.insert(0, str(REPO))
    from zoo.core import machine

    print(f"machine: {machine()} (each backend in its own process)")
    print(f"ms/step: median over {args.epochs} epochs of {args.steps} steps (after a warm-up epoch) "
          f"of epoch time / steps; {args.threads} threads; spe = steps_per_execution")
    print("| network | " + " | ".join(f"{b} spe{s}" for b, s in columns) +
          " | PyTorch loop (loss) | PyTorch loop (loss + accuracy) | best Keras / loop (loss) | best Keras / loop (+ accuracy) |")
    print("|---" * (len(columns) + 5) + "|")
    for name in CASES:
        keras_ms = {f"{b} spe{s}": table[b][f"{name} spe{s}"] for b, s in columns}
        loop, loop_acc = table["torch"][name + " (PyTorch loop)"], table["torch"][name + " (PyTorch loop + accuracy)"]
        best = min(keras_ms, key=keras_ms.get)
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in keras_ms.values()) +
              f" | {loop:.2f} | {loop_acc:.2f} | {keras_ms[best] / loop:.2f} ({best}) | {keras_ms[best] / loop_acc:.2f} |")


if __name__ == "__main__":
    main()
