"""Save and load time of a ~100 MB model in each checkpoint format, against the peers in the same
process: ``safetensors.numpy`` directly (``save_file``/``load_file``) and ``np.savez``/``np.load``.

Targets (issue 21): minicell's safetensors save and load within 1.3x of ``safetensors.numpy``'s
time (a throughput ratio >= 0.77), and load peak memory <= 1.2x the model (``tracemalloc``:
NumPy's and safetensors' buffers are traced; memory-mapped file pages are not, as they are the
page cache, not the process's). minicell's load returns Parameters holding the arrays read (no
second copy); the peers return bare arrays. minicell's saves are atomic (temporary file,
fsync, rename): the peer ``safetensors.numpy+fsync`` shows what the fsync alone costs. The ``.ckpt`` reader holds
protobuf's parsed message and the arrays at once, about 2x (reported, no target).

    python benchmarks/bench_checkpoint.py [--megabytes 100] [--tensors 25] [--repeat 3] [--rounds 3] [--pairs 15]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import median_time  # noqa: E402

import minicell as mc  # noqa: E402


def model(megabytes: int, tensors: int) -> dict[str, np.ndarray]:
    """``tensors`` float32 arrays of about ``megabytes`` MB in all, plus a uint64 scalar."""
    rng = np.random.default_rng(0)
    per = megabytes * 1_000_000 // 4 // tensors
    arrays = {f"layer{i}.weight": rng.standard_normal(per, dtype=np.float32).reshape(-1, 250) for i in range(tensors)}
    arrays["generator.offset"] = np.array(2**64 - 1, np.uint64)
    return arrays


def fsynced(save: Callable[[], object], path: str) -> None:
    """``save()`` and then fsync the file, as minicell's atomic writes do (the durability part)."""
    save()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def paired_ratio(ours: Callable[[], object], peer: Callable[[], object], pairs: int) -> float:
    """The median of ``time(ours) / time(peer)`` over back-to-back pairs (order alternating): on a
    loaded machine both runs of a pair see about the same load, so their ratio is steadier than
    a ratio of separate medians."""
    ours(), peer()
    ratios = []
    for i in range(pairs):
        first, second = (ours, peer) if i % 2 == 0 else (peer, ours)
        t0 = time.perf_counter()
        first()
        t1 = time.perf_counter()
        second()
        t2 = time.perf_counter()
        t_ours, t_peer = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
        ratios.append(t_ours / t_peer)
    return sorted(ratios)[len(ratios) // 2]


def peak_bytes(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak


def main() -> None:
    import safetensors.numpy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--tensors", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=15, help="back-to-back pairs for the targeted ratios")
    args = parser.parse_args()
    mc.set_num_threads(1)
    arrays = model(args.megabytes, args.tensors)
    size = sum(a.nbytes for a in arrays.values())
    print(f"model: {len(arrays)} arrays, {size / 1e6:.1f} MB; best of {args.rounds} interleaved rounds of the "
          f"median of {args.repeat} runs after a warm-up; one thread")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m")
        files = {"npz": path + "_npz.ckpt", "safetensors": path + ".safetensors", "ckpt": path + "_ms.ckpt"}
        cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
            f"minicell {fmt}": (partial(mc.save_checkpoint, arrays, files[fmt], format=fmt),
                                partial(mc.load_checkpoint, files[fmt])) for fmt in files}
        cases["safetensors.numpy"] = (lambda: safetensors.numpy.save_file(arrays, path + ".st"),
                                      lambda: safetensors.numpy.load_file(path + ".st"))
        cases["safetensors.numpy+fsync"] = (lambda: fsynced(lambda: safetensors.numpy.save_file(arrays, path + ".st"),
                                                             path + ".st"),
                                            lambda: safetensors.numpy.load_file(path + ".st"))
        cases["np.savez / np.load"] = (partial(np.savez, path + ".npz", **arrays),  # type: ignore[arg-type]
                                       lambda: dict(np.load(path + ".npz", allow_pickle=False)))
        times: dict[str, tuple[float, float, float]] = {}
        for _ in range(args.rounds):  # interleaved rounds, the best median of each kept: less noise
            for name, (save, load) in cases.items():
                t_save, t_load = median_time(save, args.repeat), median_time(load, args.repeat)
                best = times.get(name, (t_save, t_load, 0.0))
                times[name] = (min(t_save, best[0]), min(t_load, best[1]), 0.0)
        for name, (_, load) in cases.items():
            times[name] = times[name][:2] + (peak_bytes(load) / size,)
        for name, (t_save, t_load, peak) in times.items():
            print(f"{name:<22} save {t_save * 1e3:8.1f} ms ({size / t_save / 1e9:5.2f} GB/s)   "
                  f"load {t_load * 1e3:8.1f} ms ({size / t_load / 1e9:5.2f} GB/s)   "
                  f"load peak memory {peak:4.2f}x the model")
        ours = times["minicell safetensors"]
        for what, index in (("save", 0), ("load", 1)):
            ratio = paired_ratio(cases["minicell safetensors"][index], cases["safetensors.numpy"][index], args.pairs)
            print(f"safetensors {what}: minicell / safetensors.numpy time {ratio:4.2f}x, the median of {args.pairs} "
                  f"back-to-back pairs (target <= 1.30x){'  OK' if ratio <= 1.3 else '  ABOVE TARGET'}")
        ratio = ours[0] / times["safetensors.numpy+fsync"][0]
        print(f"safetensors save: minicell / (safetensors.numpy + fsync) time {ratio:4.2f}x (atomic writes fsync)")
        print(f"safetensors load peak memory {ours[2]:4.2f}x the model (target <= 1.20x)"
              f"{'  OK' if ours[2] <= 1.2 else '  ABOVE TARGET'}")


if __name__ == "__main__":
    main()
