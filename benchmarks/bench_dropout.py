"""nn.Dropout(0.1) in training mode on 2**24 float32 values: minicell against torch's CPU dropout.

Run: ``python benchmarks/bench_dropout.py [--size N] [--threads T]``. Prints time ratios
(minicell / torch; lower is better) for the forward, and for forward plus backward. Targets
(issue 6): forward at most 1.0x, forward plus backward at most 1.5x torch's time, no mask kept.
torch runs with the same number of threads as minicell; without torch the script says so.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import median_time, parse_and_load_torch  # noqa: E402

import minicell as mc  # noqa: E402
from minicell import nn  # noqa: E402


def main() -> None:
    args, torch, threads = parse_and_load_torch(__doc__.splitlines()[0],
                                                lambda p: p.add_argument("--size", type=int, default=2**24))
    if torch is None:
        return
    n = args.size
    data = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    layer = nn.Dropout(0.1, generator=mc.Generator().manual_seed(1)).set_train()
    x = mc.Tensor(data)
    xg = mc.Tensor(data, requires_grad=True)
    tx = torch.from_numpy(data.copy())
    txg = tx.clone().requires_grad_()
    ones = torch.ones(n)

    def torch_forward_backward() -> None:
        txg.grad = None
        torch.nn.functional.dropout(txg, 0.1, True).backward(ones)

    def ours_fb_same_seed() -> None:  # backward with an explicit all-ones seed, as torch's
        xg.grad = None
        layer(xg).backward(np.ones(n, np.float32))

    print(f"n = {n}, threads = {threads}, torch {torch.__version__}, numpy {np.__version__}")
    for label, ours, theirs, target in (
        ("forward", lambda: layer(x), lambda: torch.nn.functional.dropout(tx, 0.1, True), 1.0),
        ("forward + backward", ours_fb_same_seed, torch_forward_backward, 1.5),
    ):
        a = min(median_time(ours) for _ in range(3))
        b = min(median_time(theirs) for _ in range(3))
        verdict = "OK" if a / b <= target else "ABOVE TARGET"
        print(f"{label:<20} minicell {a * 1e3:8.2f} ms  torch {b * 1e3:8.2f} ms  "
              f"time ratio {a / b:5.2f}x (target <= {target:.1f}x) {verdict}")


if __name__ == "__main__":
    main()
