"""Goodness-of-fit helpers without SciPy: Kolmogorov-Smirnov and chi-square p-values."""
from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np

STD_NORMAL = NormalDist()


def ks_pvalue(samples: np.ndarray, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """Two-sided one-sample KS test, asymptotic Kolmogorov distribution (fine for n >= 1000)."""
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = len(x)
    f = cdf(x)
    d = max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max())
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d  # Stephens' correction
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(max(p, 0.0), 1.0)


def chi2_pvalue(observed: np.ndarray, expected: np.ndarray) -> float:
    """Pearson chi-square test; the p-value from the Wilson-Hilferty normal approximation."""
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    stat = ((observed - expected) ** 2 / expected).sum()
    df = len(observed) - 1
    z = ((stat / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 1 - STD_NORMAL.cdf(z)


def normal_cdf(x: np.ndarray, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    dist = NormalDist(mean, std)
    return np.array([dist.cdf(v) for v in x])


def binomial_bounds(n: int, p: float, sigmas: float = 5.0) -> tuple[float, float]:
    """Count range n p +- sigmas sqrt(n p (1 - p))."""
    sd = math.sqrt(n * p * (1 - p))
    return n * p - sigmas * sd, n * p + sigmas * sd
