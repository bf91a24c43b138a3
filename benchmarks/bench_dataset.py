"""Data pipeline throughput: minicell.dataset against torch.utils.data.DataLoader.

50,000 synthetic 32x32x3 uint8 images, RandomCrop(32, padding=4), RandomHorizontalFlip,
Normalize, HWC2CHW, global batch 256, one epoch timed (best of ``--repeat``, interleaved):
minicell with 1 and 2 workers (threads; 1 computes in the caller's thread) against DataLoader
with num_workers 0 and 2 (processes, persistent, warmed up) running the same transforms per
sample in torch tensor ops. Both sides use one intra-op thread, so the worker count is the only
parallelism. Also the extra memory of a minicell epoch (tracemalloc peak, dataset copy included)
against the dataset's size. The machine is shared: absolute figures are noisy, ratios less so.

    python benchmarks/bench_dataset.py [--images 50000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import minicell
from minicell import dataset as ds
from minicell.dataset import vision

MEAN = [125.3, 123.0, 113.9]
STD = [63.0, 62.1, 66.7]


def make_images(count: int) -> tuple[np.ndarray, np.ndarray]:
    gen = minicell.Generator().manual_seed(0)
    seed, offset = gen(1)
    words = minicell.random.random_words(seed, offset, count * 32 * 32 * 3 // 4)
    images = words.view(np.uint8).reshape(count, 32, 32, 3)
    labels = (np.arange(count) % 10).astype(np.int64)
    return images, labels


def minicell_pipeline(images: np.ndarray, labels: np.ndarray, workers: int) -> ds.Dataset:
    data = ds.NumpySlicesDataset((images, labels), column_names=["image", "label"],
                                 generator=minicell.Generator().manual_seed(1))
    ops = [vision.RandomCrop(32, padding=4), vision.RandomHorizontalFlip(), vision.Normalize(MEAN, STD),
           vision.HWC2CHW()]
    return data.map(ops, input_columns="image", num_parallel_workers=workers).batch(256)


def minicell_epoch(pipeline: ds.Dataset) -> int:
    rows = 0
    for image, _label in pipeline.create_tuple_iterator(num_epochs=1):
        rows += image.shape[0]
    return rows


def torch_loader(torch, images: np.ndarray, labels: np.ndarray, workers: int):
    import torch.nn.functional as F

    class Augmented(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.images = torch.from_numpy(images)
            self.labels = torch.from_numpy(labels)
            self.mean = torch.tensor(MEAN).view(1, 1, 3)
            self.std = torch.tensor(STD).view(1, 1, 3)

        def __len__(self) -> int:
            return len(self.images)

        def __getitem__(self, i: int):
            padded = F.pad(self.images[i], (0, 0, 4, 4, 4, 4))
            top, left = torch.randint(0, 9, (2,)).tolist()
            crop = padded[top:top + 32, left:left + 32]
            if torch.rand(1).item() < 0.5:
                crop = crop.flip(1)
            normalized = (crop.float() - self.mean) / self.std
            return normalized.permute(2, 0, 1).contiguous(), self.labels[i]

    return torch.utils.data.DataLoader(Augmented(), batch_size=256, shuffle=True, num_workers=workers,
                                       persistent_workers=workers > 0)


def torch_epoch(loader) -> int:
    rows = 0
    for image, _label in loader:
        rows += image.shape[0]
    return rows


def best_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def extra_memory(images: np.ndarray, labels: np.ndarray, workers: int) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    minicell_epoch(minicell_pipeline(images, labels, workers))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    minicell.set_num_threads(1)
    images, labels = make_images(args.images)
    size = images.nbytes + labels.nbytes
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None  # type: ignore[assignment]
        print("torch not installed: no peer (pip install torch to compare)")
    print(f"{args.images} images of 32x32x3 uint8 ({size / 1e6:.1f} MB), batch 256, best of {args.repeat} epochs")
    for ours, theirs in ((1, 0), (2, 2)):
        pipeline = minicell_pipeline(images, labels, ours)
        assert minicell_epoch(pipeline) == args.images
        t_ours = best_time(lambda p=pipeline: minicell_epoch(p), args.repeat)
        line = f"minicell workers={ours}: {args.images / t_ours:10.0f} samples/s"
        if torch is not None:
            loader = torch_loader(torch, images, labels, theirs)
            torch_epoch(loader)  # warm-up (starts persistent workers)
            t_peer = best_time(lambda d=loader: torch_epoch(d), args.repeat)
            verdict = "OK" if t_peer / t_ours >= 1.0 else "BELOW TARGET"
            line += (f"   torch DataLoader num_workers={theirs}: {args.images / t_peer:10.0f} samples/s"
                     f"   ratio {t_peer / t_ours:6.2f}x (target >= 1.00x) {verdict}")
            del loader
        print(line)
    for workers in (1, 2):
        extra = extra_memory(images, labels, workers)
        verdict = "OK" if extra <= 2 * size else "ABOVE TARGET"
        print(f"minicell workers={workers}: extra memory {extra / 1e6:.1f} MB = {extra / size:.2f}x the dataset "
              f"(dataset copy included; target <= 2x) {verdict}")


if __name__ == "__main__":
    main()
