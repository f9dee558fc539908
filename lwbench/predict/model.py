"""The latency model: per kind key, the candidate with the lowest held-out error on the calibration grid.

A layer's time t (ms, the probe's latency less one forward call's fixed cost) is predicted from its
log-features x (`lwbench.predict.features`). Three candidates are fitted for every kind key and compared by
k-fold cross-validation on that key's own probes (never on networks):

- `loess`: local linear regression of log t on x over the nearest probes (tricube weights): follows the
  steps in efficiency that kernels show between sizes (vector widths, cache sizes, blocking);
- `power`: one linear fit of log t on x over all probes of the key (a power law per kind);
- `roofline`: t = overhead + madds/peak + mac/bandwidth with non-negative coefficients fitted on relative
  error (a per-kind roofline with fitted efficiencies and a per-layer overhead);
- `roofline+loess`: the roofline times a local correction, the `loess` of log(t / roofline) over the nearest
  probes: the roofline carries the size (madds and mac at any size, inside the grid or past it), the correction
  the kernels' steps in efficiency between sizes (outside the calibrated range the correction is read at the
  nearest calibrated point, the roofline is not). Fitted only where the roofline alone holds out at a median
  error of at most 20%: a correction of a roofline that does not explain the kind is a loess whose steep
  surface runs away between and past the probes (ONNX Runtime's pointwise probes on the AMD VM G: roofline 98%
  held out, the product 30% high on the synthetic networks' pointwise layers).

The chosen candidate and every candidate's held-out error are stored in the calibration (plain JSON). A
network's latency is `fixed + Σ layers`: `fixed` is the cost of one forward call of a graph with no layer,
fitted with the per-layer call overhead on chains of identities.
"""

from __future__ import annotations

import math

MIN_MS = 1e-4          # 0.1 µs: the floor of a layer's time (log fits need it positive)
FOLDS = 5
CANDIDATES = ("loess", "power", "roofline", "roofline+loess")
HYBRID_BASE_MAX_PCT = 20.0   # roofline+loess only where the roofline itself holds out within this (median)
LOCAL = ("loess", "power", "roofline+loess")      # evaluated inside their kind's calibrated range (predict_layer)


def fit_overhead(points: list[tuple[int, float]]) -> dict:
    """points: (identities in the chain, median ms). T(n) = fixed + n·per_layer by least squares."""
    n = len(points)
    if n < 2:
        raise ValueError("overhead: need at least two identity chains")
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    slope = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx if sxx else 0.0
    return {"fixed_ms": max(0.0, my - slope * mx), "per_layer_ms": max(0.0, slope)}


# --------------------------------------------------------------------------- candidates
def _lstsq(rows, ys, weights=None, ridge: float = 1e-6):
    import numpy as np

    a, y = np.asarray(rows, float), np.asarray(ys, float)
    if weights is not None:
        w = np.sqrt(np.asarray(weights, float))
        a, y = a * w[:, None], y * w
    reg = ridge * np.eye(a.shape[1])
    reg[0, 0] = 0.0
    return np.linalg.solve(a.T @ a + reg, a.T @ y)


def _loess_predict(pts: list[list[float]], x: list[float], k: int | None = None) -> float:
    """pts: [x..., log t]; local linear fit around x over the k nearest (tricube weights)."""
    import numpy as np

    p = np.asarray(pts, float)
    d = len(x)
    if d == 0 or len(p) <= d + 1:
        return float(np.median(p[:, -1]))
    k = min(len(p), k or max(3 * d + 3, 10))
    dist = np.sqrt(((p[:, :d] - np.asarray(x, float)) ** 2).sum(axis=1))
    idx = np.argsort(dist)[:k]
    h = max(dist[idx[-1]] * 1.05, 1e-9)
    w = (1 - (dist[idx] / h) ** 3) ** 3 + 1e-3
    rows = np.hstack([np.ones((k, 1)), p[idx, :d] - np.asarray(x, float)])
    coef = _lstsq(rows, p[idx, -1], w, ridge=1e-3)
    return float(coef[0])


def _power_fit(pts) -> list[float]:
    d = len(pts[0]) - 1
    if len(pts) <= d + 1:
        return [sum(q[-1] for q in pts) / len(pts)] + [0.0] * d
    return [float(c) for c in _lstsq([[1.0, *q[:-1]] for q in pts], [q[-1] for q in pts], ridge=1e-4)]


def _power_predict(coef, x) -> float:
    return coef[0] + sum(c * v for c, v in zip(coef[1:], x))


def _roofline_fit(samples: list[tuple[float, float, float]]) -> list[float]:
    """samples: (madds, mac_elems, t ms) -> [overhead_ms, ms per madd, ms per mac element], all >= 0, fitted on
    relative error (weights 1/t²), by active-set non-negative least squares over the 3 terms."""
    import itertools

    import numpy as np

    best, best_err = [max(MIN_MS, min(s[2] for s in samples)), 0.0, 0.0], math.inf
    cols = np.array([[1.0, s[0], s[1]] for s in samples])
    t = np.array([s[2] for s in samples])
    w = 1.0 / np.maximum(t, MIN_MS) ** 2
    for r in range(1, 4):
        for sub in itertools.combinations(range(3), r):
            a = cols[:, sub]
            scale = np.maximum(a.max(axis=0), 1e-30)
            sw = np.sqrt(w)
            try:
                c = np.linalg.lstsq(a / scale * sw[:, None], t * sw, rcond=None)[0] / scale
            except np.linalg.LinAlgError:
                continue
            if (c < 0).any():
                continue
            coef = [0.0, 0.0, 0.0]
            for i, v in zip(sub, c):
                coef[i] = float(v)
            err = float((w * (cols @ np.array(coef) - t) ** 2).sum())
            if err < best_err:
                best, best_err = coef, err
    return best


def _roofline_predict(coef, madds, mac) -> float:
    return max(MIN_MS, coef[0] + coef[1] * madds + coef[2] * mac)


# --------------------------------------------------------------------------- one kind key
def _fit_one(method: str, data: list[dict]) -> dict:
    pts = [[*r["x"], math.log(max(MIN_MS, r["t_ms"]))] for r in data]
    if method == "loess":
        return {"method": "loess", "points": pts}
    if method == "power":
        return {"method": "power", "coef": _power_fit(pts)}
    coef = _roofline_fit([(r["madds"], r["mac_elems"], r["t_ms"]) for r in data])
    if method == "roofline+loess":
        res = [[*r["x"], math.log(max(MIN_MS, r["t_ms"]) / _roofline_predict(coef, r["madds"], r["mac_elems"]))]
               for r in data]
        return {"method": "roofline+loess", "coef": coef, "points": res}
    return {"method": "roofline", "coef": coef}


def predict_one(m: dict, x: list[float], madds: float, mac: float) -> float:
    """ms of one layer from a fitted kind model."""
    if m["method"] == "loess":
        return max(MIN_MS, math.exp(_loess_predict(m["points"], x)))
    if m["method"] == "power":
        return max(MIN_MS, math.exp(_power_predict(m["coef"], x)))
    if m["method"] == "constant":
        return m["ms"]
    if m["method"] == "roofline+loess":
        return max(MIN_MS, _roofline_predict(m["coef"], madds, mac) * math.exp(_loess_predict(m["points"], x)))
    return _roofline_predict(m["coef"], madds, mac)


def _cv_errors(method: str, data: list[dict], folds: int = FOLDS) -> list[float]:
    """Relative errors (pred/meas − 1) of `method` on each probe when fitted without its fold."""
    out = []
    k = min(folds, len(data))
    for f in range(k):
        train = [r for i, r in enumerate(data) if i % k != f]
        test = [r for i, r in enumerate(data) if i % k == f]
        if not train:
            continue
        m = _fit_one(method, train)
        for r in test:
            out.append(predict_one(m, r["x"], r["madds"], r["mac_elems"]) / max(MIN_MS, r["t_ms"]) - 1.0)
    return out


def summarize(errors: list[float]) -> dict:
    """Error figures of relative errors: median |e|, share within ±5/±10%, worst |e| (percent)."""
    a = sorted(abs(e) for e in errors)
    if not a:
        return {"n": 0}
    med = a[len(a) // 2] if len(a) % 2 else (a[len(a) // 2 - 1] + a[len(a) // 2]) / 2
    return {"n": len(a), "median_abs_pct": 100 * med, "within_10_pct": 100 * sum(e <= 0.10 for e in a) / len(a),
            "within_5_pct": 100 * sum(e <= 0.05 for e in a) / len(a), "worst_abs_pct": 100 * a[-1]}


def fit_kind(data: list[dict]) -> dict:
    """Fit every candidate on one key's probes; keep the one with the lowest held-out mean |log error|."""
    if len(data) < 4:
        ms = sorted(r["t_ms"] for r in data)[len(data) // 2]
        return {"method": "constant", "ms": max(MIN_MS, ms), "n": len(data), "heldout": {}}
    held = {}
    for method in CANDIDATES:
        if method == "roofline+loess" and held["roofline"].get("median_abs_pct", math.inf) > HYBRID_BASE_MAX_PCT:
            held[method] = {"skipped": f"the roofline it corrects holds out at a median "
                                       f"{held['roofline']['median_abs_pct']:.0f}% (> {HYBRID_BASE_MAX_PCT:.0f}%)"}
            continue
        errs = _cv_errors(method, data)
        held[method] = {**summarize(errs), "mean_abs_log": sum(abs(math.log(max(1e-6, 1 + e))) for e in errs)
                        / max(1, len(errs))}
    best = min((c for c in CANDIDATES if "mean_abs_log" in held[c]), key=lambda c: held[c]["mean_abs_log"])
    return {**_fit_one(best, data), "n": len(data), "heldout": held,
            "range": [[min(r["x"][i] for r in data), max(r["x"][i] for r in data)] for i in range(len(data[0]["x"]))]}


def fit(samples: list[dict], overhead: dict) -> dict:
    """samples: {key, x, t_ms, madds, mac_elems} per probe layer -> the model document (plain JSON).
    Fallbacks: one roofline per op (all keys of conv2d, …) and one over every element-wise probe."""
    by_key: dict[str, list[dict]] = {}
    for s in samples:
        by_key.setdefault(s["key"], []).append(s)
    kinds = {k: fit_kind(v) for k, v in sorted(by_key.items())}
    by_op: dict[str, list[dict]] = {}
    for s in samples:
        op = s["key"].split(":")[0]
        by_op.setdefault(op, []).append(s)
        if s["madds"] == 0:
            by_op.setdefault("*elementwise", []).append(s)
    fallback = {op: _fit_one("roofline", v) for op, v in sorted(by_op.items()) if len(v) >= 3}
    return {"overhead": overhead, "kinds": kinds, "fallback": fallback, "candidates": list(CANDIDATES)}


def predict_layer(model: dict, key: str, x: list[float], madds: float, mac: float) -> tuple[float, str]:
    """(ms, note) for one layer: its kind's model, else the op's fallback roofline, else the element-wise one.

    Two bounds keep a fitted curve from answering where it has no data: outside the calibrated range of its kind
    a `loess` or `power` model is evaluated at the nearest point of that range (a local or log-log fit
    extrapolated runs away: the broadcast multiply of a 16-channel squeeze-excite read 0.75 ms against 5 µs
    measured), and no executed layer is predicted below one module call (the identity chains' per-layer cost): a
    kind whose probes are differences of two probes (the broadcast multiply less its global pooling) can fit
    nearly 0."""
    floor = model["overhead"]["per_layer_ms"]
    if key == "free" and key not in model["kinds"]:
        return floor, ""
    m = model["kinds"].get(key)
    if m is not None:
        note = ""
        rng = m.get("range")
        if rng and any(v < lo - 1e-9 or v > hi + 1e-9 for v, (lo, hi) in zip(x, rng)):
            note = "outside the calibrated range"
            if m["method"] in LOCAL:
                x = [min(max(v, lo), hi) for v, (lo, hi) in zip(x, rng)]
        return max(floor, predict_one(m, x, madds, mac)), note
    op = key.split(":")[0]
    fb = model["fallback"].get(op) or (model["fallback"].get("*elementwise") if madds == 0 else None)
    if fb is None:
        fb = model["fallback"].get("conv2d") or next(iter(model["fallback"].values()))
    return max(floor, predict_one(fb, x, madds, mac)), f"kind {key} not calibrated: {fb['method']} fallback"
