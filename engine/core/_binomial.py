"""Binomial draws that stay exact for counts up to 10**15 (shared physics note "Binomial
draws at huge N").

numba's ``Generator.binomial`` works with q = 1 - p internally. Once p is below about
1e-16, q rounds to 1 and the draw is always 0, although a population of n = 10**15 still
expects n p = 0.01 jumps; at p = 2e-14 its mean is ~1 % low. :func:`_binomial` replaces
it inside kernels. It never forms 1 - p for small p (log1p instead), and the log-factorial
differences of the rejection step are written so that they keep their precision when the
factorials themselves are ~3e16:

* n p < 10: inversion, walking the CDF up from P(0) = exp(n log1p(-p));
* n p >= 10: Hoermann's BTRS, transformed rejection with squeeze (W. Hoermann, "The
  generation of binomial random variates", J. Stat. Comput. Simul. 46, 1993), the method
  of TensorFlow's random_binomial_op, with a stable acceptance ratio f(k)/f(m);
* p > 1/2 draws n - Binomial(n, 1 - p); there 1 - p is exact in floating point.
"""

from __future__ import annotations

import math

from ._jit import jit


@jit
def _stirling_tail(x):
    """log(x!) - [(x + 1/2) log x - x + log(2 pi)/2], Stirling's series for x >= 30
    (the next term, 1/(1188 x^9), is below 1e-16 there)."""
    r = 1.0 / x
    r2 = r * r
    return r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)))


@jit
def _log_factorial_ratio(x, d, s):
    """D = log((x + d)! / (x! s^d)) for integers x >= 0, x + d >= 0 and a scale s > 0.

    At x ~ 1e15 each log-factorial is ~3e16, so subtracting two lgamma values would keep
    no digit of an O(1) difference. Stirling's formula with log1p gives it directly:
    D = d log((x + d)/s) + (x + 1/2) log1p(d/x) - d + tail(x + d) - tail(x). With s near
    x + d the terms stay O(d) rather than O(d log x): the acceptance log-ratio keeps a few
    1e-8 absolute accuracy even at d ~ 1e8 (n = 10**15, p = 1/2), ~1e-14 for d < 1e3."""
    y = x + d
    if x < 30 or y < 30:
        # Small factorials are exact enough; when only one side is small, D is so
        # large and negative (far tail) that its rounding cannot decide the acceptance.
        return math.lgamma(y + 1.0) - math.lgamma(x + 1.0) - d * math.log(s)
    return (d * math.log(y / s) + (x + 0.5) * math.log1p(d / x) - d
            + (_stirling_tail(y) - _stirling_tail(x)))


@jit
def _binomial_inversion(rng, n, p):
    """Binomial(n, p) for p <= 1/2 and n p < 10: the least k with U < F(k)."""
    r = p / (1.0 - p)  # 1 - p may round to 1 here; r = p (1 + O(p)) keeps p's digits
    p0 = math.exp(n * math.log1p(-p))  # >= e^-14 for n p < 10, p <= 1/2
    # The sums F(k) carry rounding errors of ~1e-16: a U above the computed F(n), or a
    # walk beyond 10 n p + 100 (probability far below 1e-100), restarts with a new U.
    k_max = min(n, int(10.0 * n * p) + 100)
    while True:
        u = rng.random()
        k = 0
        f = p0
        cdf = p0
        while u >= cdf and k < k_max:
            f *= (n - k) / (k + 1.0) * r  # P(k+1) / P(k)
            k += 1
            cdf += f
        if u < cdf:
            return k


@jit
def _binomial_btrs(rng, n, p):
    """Binomial(n, p) for p <= 1/2 and n p >= 10 (Hoermann's BTRS)."""
    q = 1.0 - p  # rounding here costs only a relative 1e-16 in q (p <= 1/2)
    spq = math.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    m = int(math.floor((n + 1) * p))  # the mode
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        kf = math.floor((2.0 * a / us + b) * u + c)  # us = 0 gives +-inf: rejected here
        if not (0.0 <= kf <= n):
            continue
        k = int(kf)
        if us >= 0.07 and v <= v_r:  # squeeze: inside the hat's tight box
            return k
        # Accept when v times the hat lies below f(k)/f(m); its log,
        # log(m! (n-m)! p^k q^(n-k) / (k! (n-k)! p^m q^(n-m))), is -D(m, k-m, np)
        # - D(n-m, m-k, nq): the powers of p and q go into D's scales.
        log_v = math.log(v * alpha / (a / (us * us) + b))
        if log_v <= (-_log_factorial_ratio(m, k - m, n * p)
                     - _log_factorial_ratio(n - m, m - k, n * q)):
            return k


@jit
def _binomial_half(rng, n, p):
    """Binomial(n, p) for 0 < p <= 1/2, n >= 1."""
    if n * p < 10.0:
        return _binomial_inversion(rng, n, p)
    return _binomial_btrs(rng, n, p)


@jit
def _binomial(rng, n, p):
    """One Binomial(n, p) draw, exact in distribution for 0 <= n <= 10**15, 0 <= p <= 1.

    p <= 0 gives 0 and p >= 1 gives n; a NaN p or negative n raises, as numpy does."""
    if n < 0 or p != p:
        raise ValueError("binomial needs n >= 0 and p in [0, 1]")
    if n == 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - _binomial_half(rng, n, 1.0 - p)
    return _binomial_half(rng, n, p)
