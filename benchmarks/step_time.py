"""Median milliseconds per training step: Keras model.fit on each backend vs a
hand-written PyTorch loop of the same network, same batch, same threads.

    python benchmarks/step_time.py [--steps 60] [--threads 2]

Networks: usps ``seed002`` (three 5x5 convs 16/32/64 + pooling, dense 10; batch 64) and
mnist_pairs ``convnet_ws`` (seed 003's siamese convnet, shared branch; batch 100).
Each backend runs in its own process (KERAS_BACKEND), data as NumPy arrays in memory.
Prints a table and the ratio best Keras backend / PyTorch loop.
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
CASES = {"usps seed002": ("usps", "seed002", (16, 16, 1), 10, 64),
         "mnist_pairs convnet_ws": ("mnist_pairs", "convnet_ws", (14, 14, 2), 2, 100)}



def keras_step_ms(task_name, variant, shape, classes, batch, steps) -> float:
    import keras
    import numpy as np

    sys.path.insert(0, str(REPO))
    from zoo.registry import get_task
    from zoo.training import compile_model

    spec = get_task(task_name).variants[variant]
    model = compile_model(spec.build(None), spec.recipe)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch * steps, *shape)).astype("float32")
    y = rng.integers(0, classes, batch * steps)

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.t)

    times = []
    model.fit(x, y, batch_size=batch, epochs=2, verbose=0, callbacks=[Timer()])  # epoch 1 warms up (tracing)
    return 1000 * float(np.median(times[steps:]))


def torch_step_ms(task_name, shape, classes, batch, steps, threads) -> float:
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
    for epoch in range(2):
        for i in range(steps):
            start = time.perf_counter()
            xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
            optimizer.zero_grad()
            loss = loss_fn(forward(xb), yb)
            loss.backward()
            optimizer.step()
            loss.item()  # as fit does: the step's loss reaches Python
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times[steps:]))


def child(backend, steps, threads):
    results = {}
    for name, (task, variant, shape, classes, batch) in CASES.items():
        results[name] = keras_step_ms(task, variant, shape, classes, batch, steps)
        if backend == "torch":
            results[name + " (PyTorch loop)"] = torch_step_ms(task, shape, classes, batch, steps, threads)
    print(json.dumps(results))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child, args.steps, args.threads)
    table = {}
    for backend in ("tensorflow", "jax", "torch"):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu",
               "OMP_NUM_THREADS": str(args.threads), "TF_NUM_INTRAOP_THREADS": str(args.threads)}
        out = subprocess.run([sys.executable, __file__, "--child", backend, "--steps", str(args.steps),
                              "--threads", str(args.threads)], env=env, capture_output=True, text=True, check=True)
        table[backend] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"median ms/step, {args.steps} steps after a warm-up epoch, {args.threads} threads")
    print(f"| network | tensorflow | jax | torch | PyTorch loop | best Keras / PyTorch loop |")
    print("|---|---|---|---|---|---|")
    for name in CASES:
        keras_ms = {b: table[b][name] for b in table}
        loop = table["torch"][name + " (PyTorch loop)"]
        best = min(keras_ms, key=keras_ms.get)
        print(f"| {name} | {keras_ms['tensorflow']:.2f} | {keras_ms['jax']:.2f} | {keras_ms['torch']:.2f} | "
              f"{loop:.2f} | {keras_ms[best] / loop:.2f} ({best}) |")


if __name__ == "__main__":
    main()
