"""Training data and fits for the sample model ``trip_duration``: synthetic taxi
trips, a least-squares linear fit (version 1) and a small ReLU MLP (version 2)."""

from __future__ import annotations

import numpy as np


def synth_trips(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic taxi trips.

    Columns, in order (this is the model's input layout):

        0 pickup_hour  integer hour of day, 0-23
        1 weekday      0 = Monday ... 6 = Sunday
        2 distance_km  trip distance in kilometres
        3 passengers   1-6
        4 is_airport   1.0 if the trip starts or ends at the airport, else 0.0
        5 rain_mm      rainfall in the last hour, mostly 0

    Duration (minutes) = a fixed pick-up overhead, plus distance times a
    congestion factor that peaks around 08:30 and 17:30 on weekdays and rises
    with rain, plus an airport surcharge (terminal queues) and a small
    per-passenger loading time, plus Gaussian noise.
    """
    hour = rng.integers(0, 24, n).astype(np.float64)
    weekday = rng.integers(0, 7, n).astype(np.float64)
    is_airport = (rng.random(n) < 0.12).astype(np.float64)
    distance = rng.gamma(2.0, 3.0, n) + is_airport * rng.uniform(10.0, 25.0, n)
    passengers = rng.integers(1, 7, n).astype(np.float64)
    rain = np.where(rng.random(n) < 0.25, rng.exponential(4.0, n), 0.0)

    def peak(center: float) -> np.ndarray:
        return np.exp(-((hour - center) ** 2) / (2 * 1.5**2))

    rush = (peak(8.5) + peak(17.5)) * np.where(weekday < 5, 1.0, 0.3)
    congestion = 1.0 + 0.7 * rush + 0.04 * rain
    duration = (
        3.0
        + 2.1 * distance * congestion
        + 8.0 * is_airport
        + 0.4 * (passengers - 1)
        + rng.normal(0.0, 2.0, n)
    )
    x = np.stack([hour, weekday, distance, passengers, is_airport, rain], axis=1)
    return x.astype(np.float32), np.maximum(duration, 1.0).astype(np.float32)[:, None]


def fit_linear(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary least squares with an intercept. Returns W [6, 1], b [1]."""
    design = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    return coef[:-1].astype(np.float32), coef[-1].astype(np.float32)


def fit_mlp(
    x: np.ndarray, y: np.ndarray, hidden: int = 16, steps: int = 3000, seed: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """6 -> hidden -> 1 ReLU MLP trained by full-batch gradient descent (Adam updates).

    Training happens on standardised inputs/targets; the scaling is then folded
    into the first and last layer so the exported graph takes raw features.
    Returns W1 [6, h], b1 [h], W2 [h, 1], b2 [1].
    """
    rng = np.random.default_rng(seed)
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    mu, sd = x.mean(0), x.std(0)
    ym, ys = y.mean(), y.std()
    xs, yt = (x - mu) / sd, (y - ym) / ys

    w1 = rng.normal(0.0, np.sqrt(2.0 / x.shape[1]), (x.shape[1], hidden))
    b1 = np.full(hidden, 0.1)
    w2 = rng.normal(0.0, np.sqrt(1.0 / hidden), (hidden, 1))
    b2 = np.zeros(1)
    params = [w1, b1, w2, b2]
    first = [np.zeros_like(p) for p in params]  # running mean of gradients
    second = [np.zeros_like(p) for p in params]  # running mean of squared gradients
    lr, beta1, beta2, eps, n = 0.02, 0.9, 0.999, 1e-8, len(xs)

    for t in range(1, steps + 1):
        z = xs @ w1 + b1
        h = np.maximum(z, 0.0)
        err = (h @ w2 + b2) - yt  # d(MSE/2)/d(pred)
        dz = (err @ w2.T) * (z > 0)
        grads = [xs.T @ dz / n, dz.mean(0), h.T @ err / n, err.mean(0)]
        for p, m, v, g in zip(params, first, second, grads):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)

    # Fold the standardisation into the weights.
    w1_raw = w1 / sd[:, None]
    b1_raw = b1 - (mu / sd) @ w1
    w2_raw = w2 * ys
    b2_raw = b2 * ys + ym
    return tuple(a.astype(np.float32) for a in (w1_raw, b1_raw, w2_raw, b2_raw))
