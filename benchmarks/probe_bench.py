"""Linear probe: scikit-learn (what `uts eval` and the objective study use) against the
hand-written torch probe it replaced, on the same synthetic embeddings.

The torch baseline is the code as it was before the switch (standardised features, one sigmoid
per target, full-batch Adam, 300 epochs, lr 0.05, weight decay 1e-3), kept here only as the
baseline. Both run single-threaded (torch.set_num_threads(1), threadpoolctl for BLAS) so that
the comparison does not depend on the machine's other load. Embeddings: each target column adds
a random direction to a Gaussian clip vector (signal of strength --signal), so the probe has
something to find, as a trained encoder's embedding has.

Sizes (clips train/test x dim, targets): ``study`` -- one per-domain probe of the objective
study (96 probe clips, 48 test, the demo CNN6's 128-d embedding, 20 concepts); ``eval`` --
`uts eval`'s domain probe on a real-sized manifest (2,000 training clips, 1,000 test, CNN10's
512-d embedding, 3 domains).

Prints one JSON line per size: median seconds of --repeats, the ratio torch/sklearn, and both
probes' test mAP.

Usage: .venv/bin/python benchmarks/probe_bench.py [--repeats 5] [--signal 0.15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
import torch  # noqa: E402

from uts.training.metrics import linear_probe, mean_average_precision  # noqa: E402

SIZES = {"study": (96, 48, 128, 20), "eval": (2000, 1000, 512, 3)}


def torch_probe(train_x, train_y, test_x, test_y, epochs=300, lr=0.05, weight_decay=1e-3, seed=0) -> float:
    """The probe before scikit-learn (uts/training/metrics.py until issue 12's Deliver 6)."""
    gen = torch.Generator().manual_seed(seed)
    xtr, xte = torch.as_tensor(train_x).float(), torch.as_tensor(test_x).float()
    ytr, yte = torch.as_tensor(train_y).float(), torch.as_tensor(test_y).float()
    mean, std = xtr.mean(0), xtr.std(0).clamp(min=1e-6)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    w = (torch.randn(xtr.shape[1], ytr.shape[1], generator=gen) * 0.01).requires_grad_()
    b = torch.zeros(ytr.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(xtr @ w + b, ytr).backward()
        opt.step()
    with torch.no_grad():
        return mean_average_precision(torch.sigmoid(xte @ w + b), yte)


def embeddings(n_train, n_test, dim, targets, signal, seed):
    rng = np.random.default_rng(seed)
    y = rng.random((n_train + n_test, targets)) < rng.uniform(0.1, 0.5, targets)
    x = rng.normal(size=(n_train + n_test, dim)) + signal * (y @ rng.normal(size=(targets, dim)))
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def timed(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="timed repetitions per probe (median reported)")
    ap.add_argument("--signal", type=float, default=0.15, help="strength of the targets' directions in the embedding")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = ap.parse_args()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        for name in args.sizes:
            xtr, ytr, xte, yte = embeddings(*SIZES[name], args.signal, seed=0)
            t_torch, map_torch = timed(lambda: torch_probe(xtr, ytr, xte, yte), args.repeats)
            t_sk, res = timed(lambda: linear_probe(xtr, ytr, xte, yte), args.repeats)
            print(json.dumps({"size": name, "train_clips": SIZES[name][0], "test_clips": SIZES[name][1],
                              "dim": SIZES[name][2], "targets": SIZES[name][3],
                              "torch_s": round(t_torch, 4), "sklearn_s": round(t_sk, 4),
                              "torch_over_sklearn": round(t_torch / t_sk, 2),
                              "torch_map": round(map_torch, 4), "sklearn_map": round(res["probe_map"], 4)}))


if __name__ == "__main__":
    main()
