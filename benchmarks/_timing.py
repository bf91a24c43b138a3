"""Shared timing helper for the benchmark scripts: median of repeated runs, interleaved."""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any


def median_time(fn: Callable[[], object], repeat: int = 7) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def compare(label: str, ours: Callable[[], object], peer: Callable[[], object], peer_name: str,
            target: float | None = None, higher_is_better: bool = True, repeat: int = 7) -> float:
    """Time both in the same process, interleaved, and print the throughput ratio ours/peer."""
    t_ours, t_peer = [], []
    for _ in range(3):
        t_ours.append(median_time(ours, repeat))
        t_peer.append(median_time(peer, repeat))
    a, b = min(t_ours), min(t_peer)
    ratio = b / a
    verdict = ""
    if target is not None:
        verdict = "  OK" if ratio >= target else "  BELOW TARGET"
        verdict = f"  (target >= {target:.2f}x){verdict}"
    print(f"{label:<34} minicell {a * 1e3:8.2f} ms  {peer_name} {b * 1e3:8.2f} ms  "
          f"throughput ratio {ratio:5.2f}x{verdict}")
    return ratio


def parse_and_load_torch(description: str, add_arguments: Callable[[argparse.ArgumentParser], None]
                         ) -> tuple[Any, Any, int]:
    """Parse ``--threads`` (and the script's own flags), set minicell's and torch's thread counts.

    Returns ``(args, torch or None, threads)``; without torch it says so and returns None.
    """
    import minicell
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=None, help="threads for both (default: all cores)")
    add_arguments(parser)
    args = parser.parse_args()
    # pins minicell's pool and NumPy's BLAS together, so neither side oversubscribes the cores
    minicell.set_num_threads(args.threads or minicell.get_num_threads())
    threads = minicell.get_num_threads()
    try:
        import torch
    except ImportError:
        print("torch not installed: no peer to compare with (pip install torch to run this benchmark)")
        return args, None, threads
    torch.set_num_threads(threads)
    return args, torch, threads
