"""real_ensemble_lab.engine.core._binomial against exact binomial distributions, up to n = 10**15.

Every case draws N_DRAWS samples with a fixed seed and checks the mean and variance
(|z| < Z_MAX standard errors of the sampling noise) and a chi-square goodness of fit
against exact bin probabilities (p-value > P_MIN, bins merged to expected counts >= 5).
The same checks reject numba's own rng.binomial where it loses p to 1 - p.

Exact probabilities never come from the code under test:
* small means (n p or n (1 - p) <= 2000): recursion P(k+1) = P(k) (n-k)/(k+1) p/q from
  P(0) = q^n in 60-digit decimal arithmetic, p taken exactly from its float;
* larger means: a 50-digit Stirling-series pmf summed over each bin by Euler-Maclaurin
  (_stirling_bins). It matches a direct pmf sum to ~1e-16, and scipy.stats.binom.cdf to
  scipy's own accuracy at n = 10**15 (measured 2e-10 absolute, 2e-8 relative: scipy is
  not exact there, so it serves only as a cross-check).
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import cache

import numba
import numpy as np
import pytest
from scipy import stats

from real_ensemble_lab.engine.core._binomial import _binomial

N_DRAWS = 2_000_000
SEED = 20_251_017
Z_MAX = 5.0  # two-sided 6e-7 per statistic for a correct sampler
P_MIN = 1e-4
HUGE = 10**15

CASES = [
    (HUGE, 1e-17), (HUGE, 1e-16), (HUGE, 1e-15), (HUGE, 2e-14), (HUGE, 1e-12),
    (HUGE, 1e-9), (HUGE, 1e-3), (HUGE, 0.3), (HUGE, 0.5), (HUGE, 0.7), (HUGE, 1 - 1e-12),
    (1, 0.1), (1, 0.5), (1, 0.9), (5, 0.01), (5, 0.3), (5, 0.5), (5, 0.8),
    (20, 0.5), (100, 0.05), (100, 0.099), (100, 0.1), (100, 0.3), (100, 0.5),
    (100, 0.9), (100, 0.97), (1000, 0.0099), (1000, 0.01),
]
ids = [f"n={n:g},p={p:.13g}" for n, p in CASES]


@numba.njit
def _draw(rng, n, p, size):
    out = np.empty(size, np.int64)
    for i in range(size):
        out[i] = _binomial(rng, n, p)
    return out


@numba.njit
def _draw_numba_builtin(rng, n, p, size):
    out = np.empty(size, np.int64)
    for i in range(size):
        out[i] = rng.binomial(n, p)
    return out


def samples(n, p, builtin=False):
    rng = np.random.default_rng([SEED, n, int(p * 2**64)])
    return (_draw_numba_builtin if builtin else _draw)(rng, n, p, N_DRAWS)


@cache
def checks(n, p, builtin=False):
    """Range, mean and variance z-scores and chi-square p-value of one fixed-seed sample
    (kept instead of the 16 MB sample, which both tests of a case use)."""
    x = samples(n, p, builtin)
    z_mean, z_var = moment_z_scores(n, p, x)
    pvalue = chi_square_pvalue(*observed_and_exact(n, p, x))
    return x.min(), x.max(), z_mean, z_var, pvalue


# ---- exact reference --------------------------------------------------------------------

def _small_side(n, p):
    """(x -> j, ps): j = x or n - x counts the rarer outcome, Binomial(n, ps) exactly."""
    ps = Fraction(p) if p <= 0.5 else 1 - Fraction(p)
    return (lambda x: x if p <= 0.5 else n - x), ps


@cache
def _decimal_pmf(n, p):
    """[P(j = 0), ..., P(j = K-1), P(j >= K)] of the rarer outcome, 60 significant digits."""
    _, ps = _small_side(n, p)
    mean, sd = float(n * ps), math.sqrt(float(n * ps * (1 - ps)))
    K = min(n + 1, int(mean + 15 * sd + 40))
    with localcontext() as ctx:
        ctx.prec = 60
        pd = Decimal(ps.numerator) / Decimal(ps.denominator)
        qd = 1 - pd
        f = (n * qd.ln()).exp()
        pmf = [f]
        for k in range(K - 1):
            f = f * (n - k) / (k + 1) * pd / qd
            pmf.append(f)
        pmf.append(1 - sum(pmf))
    return np.array([float(v) for v in pmf])


def _edges(n, p):
    """Bin edges e_i: bins X <= e_0, e_(i-1) < X <= e_i, X > e_last, width sd/4."""
    sd = math.sqrt(n * p * (1 - p))
    return np.unique(np.floor(n * p + sd * np.linspace(-4, 4, 33)).astype(np.int64))


@cache
def _stirling_bins(n, p):
    """Exact probabilities of the bins of _edges(n, p), from a 50-digit pmf.

    f(x) = Gamma(n+1) / (Gamma(x+1) Gamma(n-x+1)) p^x q^(n-x), log-gamma from Stirling's
    series in decimal arithmetic, is summed over integers a..b by the midpoint
    Euler-Maclaurin formula: the integral of f over [a - 1/2, b + 1/2] minus
    [f'(b + 1/2) - f'(a - 1/2)] / 24, next term O(1/sd^4) relative. The integrals use
    16-point Gauss-Legendre on pieces of width <= sd/4 (the integrand is smooth on the
    scale sd); the tails start 12 sd out, where f < e^-70 of its peak.
    """
    bern = [Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30),
            Fraction(5, 66), Fraction(-691, 2730), Fraction(7, 6)]
    t, w = np.polynomial.legendre.leggauss(16)
    sd = math.sqrt(n * p * (1 - p))
    edges = _edges(n, p)
    with localcontext() as ctx:
        ctx.prec = 50
        half_log_2pi = (2 * Decimal("3.14159265358979323846264338327950288419716939937510")
                        ).ln() / 2

        def lgamma(z):  # z >= 1000 here: the omitted Stirling terms are < 1e-40
            s = (z - Decimal("0.5")) * z.ln() - z + half_log_2pi
            return s + sum(Decimal(b.numerator) / (b.denominator * 2 * i * (2 * i - 1)
                                                   * z ** (2 * i - 1))
                           for i, b in enumerate(bern, 1))

        pd, nd = Decimal(p), Decimal(n)
        base = lgamma(nd + 1) + (nd * (1 - pd).ln())
        log_pq = pd.ln() - (1 - pd).ln()

        def f(x):  # x: Decimal, the pmf's continuous extension
            return math.exp(base - lgamma(x + 1) - lgamma(nd - x + 1) + x * log_pq)

        def df(x):  # f' = f (digamma(n-x+1) - digamma(x+1) + log(p/q)), to ~1e-10
            g = math.log((n - float(x) + 0.5) / (float(x) + 0.5)) + float(log_pq)
            return f(x) * g

        def integral(a, b):  # of f over [a, b], a and b exact Decimals
            pieces = max(1, math.ceil(float(b - a) / (sd / 4)))
            h = (b - a) / pieces
            total = 0.0
            for i in range(pieces):
                mid = a + h * (i + Decimal("0.5"))
                total += float(h / 2) * sum(wi * f(mid + h / 2 * Decimal(ti))
                                            for ti, wi in zip(t, w, strict=True))
            return total

        def bin_sum(lo, hi):  # sum of f(k) over integers lo <= k <= hi
            a, b = Decimal(lo) - Decimal("0.5"), Decimal(hi) + Decimal("0.5")
            return integral(a, b) - (df(b) - df(a)) / 24

        lo_end = int(n * p - 12 * sd)
        hi_end = int(n * p + 12 * sd)
        bounds = [lo_end - 1, *edges.tolist(), hi_end]
        return np.array([bin_sum(bounds[i] + 1, bounds[i + 1]) for i in range(len(bounds) - 1)])


def observed_and_exact(n, p, x):
    """Counts of the draws x in bins and the exact probabilities of those bins."""
    to_small, ps = _small_side(n, p)
    if float(n * ps) <= 2000:
        pmf = _decimal_pmf(n, p)
        j = to_small(x)
        return np.bincount(np.minimum(j, len(pmf) - 1), minlength=len(pmf)), pmf
    edges = _edges(n, p)
    return (np.bincount(np.searchsorted(edges, x), minlength=len(edges) + 1),
            _stirling_bins(n, p))


def chi_square_pvalue(counts, probs):
    """Pearson's chi-square p-value, neighbouring bins merged until expected >= 5."""
    assert not np.any((probs <= 0) & (counts > 0)), "a draw outside the support"
    obs, exp = [], []
    o = e = 0.0
    for oi, ei in zip(counts, probs * counts.sum(), strict=True):
        o, e = o + oi, e + ei
        if e >= 5:
            obs.append(o)
            exp.append(e)
            o = e = 0.0
    obs[-1] += o
    exp[-1] += e
    obs, exp = np.array(obs), np.array(exp)
    assert len(obs) >= 2
    return stats.chi2.sf(np.sum((obs - exp) ** 2 / exp), len(obs) - 1)


def moment_z_scores(n, p, x):
    """z-scores of the sample mean and variance against the exact moments."""
    P = Fraction(p)
    mean, var = n * P, n * P * (1 - P)
    mu4 = var * (1 + 3 * P * (1 - P) * (n - 2))  # fourth central moment
    c0 = round(mean)
    d = x - c0  # exact int64 offsets: float sums of x ~ 1e15 would lose the mean
    N = len(x)
    z_mean = (d.mean() - float(mean - c0)) / math.sqrt(float(var) / N)
    se_var = math.sqrt(float(mu4 - var**2 * Fraction(N - 3, N - 1)) / N)
    z_var = (d.var(ddof=1) - float(var)) / se_var
    return z_mean, z_var


# ---- tests ------------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "p"), CASES, ids=ids)
def test_mean_and_variance(n, p):
    lo, hi, z_mean, z_var, _ = checks(n, p)
    assert 0 <= lo and hi <= n
    assert abs(z_mean) < Z_MAX and abs(z_var) < Z_MAX, (z_mean, z_var)


@pytest.mark.parametrize(("n", "p"), CASES, ids=ids)
def test_goodness_of_fit(n, p):
    assert checks(n, p)[4] > P_MIN


@pytest.mark.parametrize("p", [1e-17, 2e-14])
def test_same_checks_reject_numba_binomial(p):
    """numba's rng.binomial computes with 1 - p: always 0 at 1e-17, ~1 % low at 2e-14."""
    _, _, z_mean, _, pvalue = checks(HUGE, p, builtin=True)
    assert pvalue < P_MIN and abs(z_mean) > Z_MAX


def test_degenerate_and_invalid():
    rng = np.random.default_rng(SEED)
    assert np.all(_draw(rng, HUGE, 0.0, 1000) == 0)
    assert np.all(_draw(rng, HUGE, -0.5, 1000) == 0)
    assert np.all(_draw(rng, HUGE, 1.0, 1000) == HUGE)
    assert np.all(_draw(rng, 0, 0.5, 1000) == 0)
    assert np.all(_draw(rng, 7, 5e-324, 1000) == 0)  # P(X > 0) = 3.5e-323
    with pytest.raises(ValueError):
        _draw(rng, 10, math.nan, 1)
    with pytest.raises(ValueError):
        _draw(rng, -1, 0.5, 1)


@pytest.mark.parametrize("p", [1e-9, 1e-3, 0.3, 0.5, 0.7])
def test_large_mean_reference_agrees_with_scipy(p):
    """Two independent computations of the large-mean bins agree. scipy's incomplete beta
    (Boost) is good to only ~2e-10 absolute at n = 10**15 (2e-8 relative), hence rtol
    1e-6; the statistical resolution of these bins, 1/sqrt(expected count), is >= 1e-3."""
    cdf = stats.binom.cdf(_edges(HUGE, p), HUGE, p)
    scipy_bins = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    exact = _stirling_bins(HUGE, p)
    assert math.isclose(exact.sum(), 1.0, rel_tol=1e-13)
    np.testing.assert_allclose(scipy_bins, exact, rtol=1e-6)


def test_large_mean_reference_is_exact():
    """_stirling_bins equals a direct sum of the pmf over the bin just below the mean at
    n = 10**15, p = 1/2: f(n/2) = C(n, n/2) / 2^n = sqrt(2/(pi n)) (1 - 1/(4n) + ...),
    then f(k) = f(k+1) (k+1)/(n-k) down to the bin edge (4e6 terms)."""
    n, m = HUGE, HUGE // 2
    edges = _edges(n, 0.5)
    i = int(np.searchsorted(edges, m))
    assert edges[i] == m  # bin i is edges[i-1] < X <= m
    k = np.arange(m - 1, edges[i - 1], -1)
    log_ratio = -np.log1p((n - 2 * k - 1) / (k + 1.0))  # log f(k) - log f(k+1)
    f_m = math.sqrt(2 / (math.pi * n)) * (1 - 1 / (4 * n))
    direct = f_m * (1.0 + np.exp(np.cumsum(log_ratio)).sum())
    assert math.isclose(_stirling_bins(n, 0.5)[i], direct, rel_tol=1e-13)
