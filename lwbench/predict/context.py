"""How a network's latency departs from the sum of its layers timed alone, fitted on synthetic networks.

A calibration times single layers alone (lwbench.predict.design) and whole synthetic networks
(lwbench.predict.chains, never a zoo network). For each synthetic network the layer model predicts every layer
as if alone; the context model maps those to the network, layer by layer:

    in context = scale_c · alone + overhead_c + w · weights + a · activations

where c is the layer's category (pointwise, depthwise, element-wise, ...), `weights` its parameters and
`activations` the elements it reads and writes (mac less parameters). Candidates, from none to per-category:

- `none`: the sum of the layers (scale 1, nothing added);
- `scale`: one factor for every layer;
- `overhead`: one extra cost per executed layer (what a layer pays for running among others: a cold code path);
- `scale+overhead`: one factor and one extra cost per executed layer;
- `overhead+traffic`: an extra cost per layer and per element of weights and of activations it moves (its data
  evicted by the layers between two calls);
- `scale+overhead/category`: one factor and an extra cost per layer of each category;
- `per-category`: a factor and an extra cost per category;
- `overhead/category+traffic`: an extra cost per layer of each category, and the traffic terms;
- `layers:overhead/category+traffic`, `layers:per-category+traffic`: the same per-layer terms (the second with a
  factor per category too) fitted not to the 36 totals but to each (network, category) Σ of the layers timed
  inside the synthetic networks (torch: `in_network`, lwbench.predict.probetime.layer_times), then one cost `g`
  per executed layer to the totals (`_fit_layers`): what a category costs among others measured, not inferred
  (fitted to totals, `o:shuffle` stood for the ShuffleNet units' cost: 92 µs per shuffle on machine G, against
  14-15 µs measured beyond its time alone).

Each is fitted by non-negative least squares on relative error ((predicted - measured) / measured) with a light
ridge towards no change, every factor at least 1: a layer alone is timed in its best case (its code, weights and
input hot from the call before), so a network can only add to it. A form is fitted only with at least
NETWORKS_PER_COEF synthetic networks per coefficient (36 networks: at most 12 coefficients, so `per-category`'s
18 is left out with its reason). Both rules keep a form from explaining the 36 networks with coefficients that
do not carry to other networks: unbounded, or with a factor and a cost per category beside the traffic terms (20
coefficients), the factors traded against the traffic terms (an element-wise or depthwise layer's time alone is
nearly proportional to the activations it moves), made pooling, depthwise or concat layers nearly free, held out
as well as or better than the others on the synthetic networks and predicted squeezenet, ShuffleNet V1 and
xception 25-50% off (results/README.md, "Predicted latency", machine C). Each fitted form is judged by
leave-one-network-out error over the synthetic networks: the candidate with the lowest held-out mean |error| is
kept (a simpler one wins ties within 0.25 points). Every candidate's held-out figures are stored beside the
choice, so the calibration shows what the context costs and how well each form explains it.
"""

from __future__ import annotations

CANDIDATES = ("none", "scale", "overhead", "scale+overhead", "overhead+traffic", "scale+overhead/category",
              "per-category", "overhead/category+traffic", "layers:overhead/category+traffic",
              "layers:per-category+traffic")
LAYER_FORMS = ("layers:overhead/category+traffic", "layers:per-category+traffic")
UNIT = {"w": 1e-6, "a": 1e-6}   # the traffic coefficients are per million elements (ms / M elements)
RIDGE = 1e-3
TIE_PCT = 0.25
MIN_CHAINS = 6
NETWORKS_PER_COEF = 3


def chain_row(rows: list[dict], measured_ms: float, base_ms: float, label: str = "",
              in_network: dict[str, float] | None = None) -> dict:
    """One synthetic network: per category Σ predicted-alone ms and executed layers, and the weights and
    activation elements of its executed layers; `base_ms`: what no layer holds (one forward call's fixed cost,
    ORT's layout conversions). `in_network` ({layer: ms} timed inside the network, lwbench.predict.probetime
    .layer_times): also `by_category`, per category the measured Σ, the Σ alone, the layers, weights and
    activations (None when a layer has no time)."""
    s: dict[str, float] = {}
    n: dict[str, int] = {}
    by: dict[str, dict] | None = {} if in_network is not None else None
    w = a = 0.0
    for r in rows:
        if r.get("note", "").startswith(("fused", "eliminated")):
            base_ms += r["predicted_ms"]      # a fused activation's pass over its convolution's output (ORT)
            continue
        c = r["category"]
        s[c] = s.get(c, 0.0) + r["predicted_ms"]
        n[c] = n.get(c, 0) + 1
        lw, la = r.get("params", 0), r.get("mac_elems", 0) - r.get("params", 0)
        w += lw
        a += la
        if by is not None:
            ms = in_network.get(r["layer"])
            if ms is None:
                by = None
                continue
            b = by.setdefault(c, {"measured_ms": 0.0, "alone_ms": 0.0, "layers": 0, "weights": 0.0,
                                  "activations": 0.0})
            b["measured_ms"] += ms
            b["alone_ms"] += r["predicted_ms"]
            b["layers"] += 1
            b["weights"] += lw
            b["activations"] += la
    return {"label": label, "measured_ms": measured_ms, "base_ms": base_ms, "sum_ms": s, "layers": n,
            "weights": w, "activations": a, "by_category": by}


def _design(chains: list[dict], form: str, cats: list[str]) -> tuple[list[str], list[list[float]], list[float]]:
    """(coefficient names, per chain the feature of each coefficient, per chain the part with no coefficient)."""
    tot_s = [sum(c["sum_ms"].values()) for c in chains]
    tot_n = [sum(c["layers"].values()) for c in chains]
    zero = [0.0] * len(chains)
    if form == "scale":
        return ["s"], [[a] for a in tot_s], zero
    if form == "overhead":
        return ["o"], [[b] for b in tot_n], tot_s
    if form == "scale+overhead":
        return ["s", "o"], [[a, b] for a, b in zip(tot_s, tot_n)], zero
    if form == "overhead+traffic":
        return ["o", "w", "a"], [[b, c.get("weights", 0.0) * UNIT["w"], c.get("activations", 0.0) * UNIT["a"]]
                                 for b, c in zip(tot_n, chains)], tot_s
    if form == "scale+overhead/category":
        return ["s"] + [f"o:{k}" for k in cats], [[a] + [c["layers"].get(k, 0) for k in cats]
                                                   for a, c in zip(tot_s, chains)], zero
    traffic = [[c.get("weights", 0.0) * UNIT["w"], c.get("activations", 0.0) * UNIT["a"]] for c in chains]
    if form == "overhead/category+traffic":
        return [f"o:{k}" for k in cats] + ["w", "a"], [[c["layers"].get(k, 0) for k in cats] + t
                                                       for c, t in zip(chains, traffic)], tot_s
    names = [f"s:{k}" for k in cats] + [f"o:{k}" for k in cats]
    return names, [[c["sum_ms"].get(k, 0.0) for k in cats] + [c["layers"].get(k, 0) for k in cats]
                   for c in chains], zero


def nnls(a, b, iters: int = 200):
    """min ||a x - b|| with x >= 0 (Lawson-Hanson active set), numpy arrays."""
    import numpy as np

    n = a.shape[1]
    x, passive = np.zeros(n), np.zeros(n, bool)
    for _ in range(iters):
        w = a.T @ (b - a @ x)
        if passive.all() or (w[~passive] <= 1e-12).all():
            break
        j = np.argmax(np.where(passive, -np.inf, w))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / np.maximum(x[neg] - z[neg], 1e-300))
            x = x + alpha * (z - x)
            passive &= x > 1e-12
            x[~passive] = 0.0
    return x


def _layer_design(chains: list[dict], form: str, cats: list[str]):
    """The per-category targets of a `layers:` form: (names, features, fixed part, measured), one row per
    (synthetic network, category) with layers timed inside the network."""
    per = form == "layers:per-category+traffic"
    names = ([f"s:{k}" for k in cats] if per else []) + [f"o:{k}" for k in cats] + ["w", "a"]
    feats, fixed, meas = [], [], []
    for c in chains:
        for k, b in (c.get("by_category") or {}).items():
            if b["measured_ms"] <= 0 or k not in cats:
                continue
            row = ([b["alone_ms"] if j == k else 0.0 for j in cats] if per else []) + \
                  [b["layers"] if j == k else 0 for j in cats] + \
                  [b["weights"] * UNIT["w"], b["activations"] * UNIT["a"]]
            feats.append(row)
            fixed.append(0.0 if per else b["alone_ms"])
            meas.append(b["measured_ms"])
    return names, feats, fixed, meas


def _fit_layers(chains: list[dict], form: str, cats: list[str]) -> dict[str, float]:
    """A `layers:` form: the per-layer terms fitted to each category's Σ of layers timed inside the synthetic
    networks (thousands of layers, not 36 totals: what a category costs among others is measured, not inferred
    from the totals), then one cost per executed layer `g` (the time between layers, less the hooks' own cost,
    so of either sign) fitted to the networks' totals."""
    import numpy as np

    names, feats, fixed, meas = _layer_design(chains, form, cats)
    coef = _nnls_rel(names, feats, fixed, meas, [0.0] * len(meas))
    rest, nl = [], []
    for c in chains:
        m = c["measured_ms"]
        rest.append((m - predict_chain(c, coef)) / m)
        nl.append(sum(c["layers"].values()) / m)
    x, y = np.array(nl), np.array(rest)
    coef["g"] = float(x @ y / (x @ x)) if (x @ x) > 0 else 0.0
    return coef


def _nnls_rel(names, feats, fixed, meas, base) -> dict[str, float]:
    """Non-negative least squares on relative error, every factor `s...` at least 1, a light ridge towards no
    change."""
    import numpy as np

    meas = np.array(meas, float)
    a = np.array(feats, float) / meas[:, None]
    b = 1.0 - (np.array(base, float) + np.array(fixed, float)) / meas
    one = np.array([1.0 if k.startswith("s") else 0.0 for k in names])
    b = b - a @ one                 # every factor s = 1 + s' with s' >= 0: a network only adds to a layer alone
    # the ridge pulls each factor to 1 and each added cost to 0, at the size of a typical row
    scale = np.abs(a).mean(axis=0) + 1e-12
    r = np.sqrt(RIDGE) * np.diag(scale)
    coef = nnls(np.vstack([a, r]), np.concatenate([b, np.zeros(len(names))])) + one
    return dict(zip(names, (float(v) for v in coef)))


def _fit(chains: list[dict], form: str, cats: list[str]) -> dict[str, float]:
    if form == "none":
        return {}
    if form in LAYER_FORMS:
        return _fit_layers(chains, form, cats)
    names, feats, fixed = _design(chains, form, cats)
    return _nnls_rel(names, feats, fixed, [c["measured_ms"] for c in chains], [c["base_ms"] for c in chains])


def layer_terms(coef: dict[str, float], category: str) -> tuple[float, float]:
    """(scale, extra ms) of one executed layer of `category` (before its traffic terms, `traffic_ms`)."""
    s = coef.get(f"s:{category}", coef.get("s", 1.0))
    o = coef.get(f"o:{category}", coef.get("o", 0.0)) + coef.get("g", 0.0)
    return s, o


def traffic_ms(coef: dict[str, float], weights: float, activations: float) -> float:
    """The extra ms of a layer for the weights and activation elements it moves (`overhead+traffic`)."""
    return coef.get("w", 0.0) * weights * UNIT["w"] + coef.get("a", 0.0) * activations * UNIT["a"]


def in_context(coef: dict[str, float], category: str, alone_ms: float, params: float, mac_elems: float) -> float:
    """One executed layer's predicted ms inside a network."""
    s, o = layer_terms(coef, category)
    return s * alone_ms + o + traffic_ms(coef, params, mac_elems - params)


def predict_chain(c: dict, coef: dict[str, float]) -> float:
    total = c["base_ms"] + traffic_ms(coef, c.get("weights", 0.0), c.get("activations", 0.0))
    for k, ms in c["sum_ms"].items():
        s, o = layer_terms(coef, k)
        total += s * ms + o * c["layers"].get(k, 0)
    return total


def _skip(chains: list[dict], form: str, cats: list[str]) -> str | None:
    """Why a form is not fitted (None: it is): at most one coefficient per NETWORKS_PER_COEF targets (networks;
    for a `layers:` form, (network, category) sums), and a `layers:` form only when every network's layers were
    timed inside it."""
    if form == "none":
        return None
    if form in LAYER_FORMS:
        if any(c.get("by_category") is None for c in chains):
            return "the synthetic networks' layers were not timed inside them (a calibration made before, or ORT)"
        names, _, _, meas = _layer_design(chains, form, cats)
        k, n, what = len(names) + 1, len(meas), "category sums"
    else:
        k, n, what = len(_design(chains, form, cats)[0]), len(chains), "networks"
    if k * NETWORKS_PER_COEF > n:
        return f"{k} coefficients for {n} {what} (at most one per {NETWORKS_PER_COEF})"
    return None


def fit_context(chains: list[dict]) -> dict:
    """The chosen context model with every candidate's leave-one-out and in-sample figures."""
    from lwbench.predict.model import summarize

    chains = [c for c in chains if c["measured_ms"] > 0 and c["sum_ms"]]
    if len(chains) < MIN_CHAINS:
        return {"method": "none", "coef": {}, "chains": len(chains), "reason": f"fewer than {MIN_CHAINS} networks"}
    cats = sorted({k for c in chains for k in c["layers"]})
    report, loo_mean = {}, {}
    for form in CANDIDATES:
        skip = _skip(chains, form, cats)
        if skip:
            report[form] = {"skipped": skip}
            continue
        loo = []
        for i in range(len(chains)):
            coef = _fit(chains[:i] + chains[i + 1:], form, cats)
            loo.append(predict_chain(chains[i], coef) / chains[i]["measured_ms"] - 1.0)
        coef = _fit(chains, form, cats)
        fit = [predict_chain(c, coef) / c["measured_ms"] - 1.0 for c in chains]
        report[form] = {"heldout": {**summarize(loo), "mean_abs_pct": 100.0 * sum(map(abs, loo)) / len(loo)},
                        "in_sample": summarize(fit), "coef": coef}
        loo_mean[form] = report[form]["heldout"]["mean_abs_pct"]
    best = min(loo_mean, key=loo_mean.get)
    pick = next(f for f in CANDIDATES if f in loo_mean and loo_mean[f] <= loo_mean[best] + TIE_PCT)
    return {"method": pick, "coef": report[pick]["coef"], "chains": len(chains), "categories": cats,
            "candidates": report}


def checks(chains: list[dict], ctx: dict) -> list[dict]:
    """Each synthetic network: measured, the plain sum, and the context model's prediction (in-sample)."""
    out = []
    for c in chains:
        pred, plain = predict_chain(c, ctx.get("coef") or {}), predict_chain(c, {})
        out.append({"label": c["label"], "measured_ms": c["measured_ms"], "sum_of_layers_ms": plain,
                    "predicted_ms": pred, "error_pct": 100.0 * (pred / c["measured_ms"] - 1.0)})
    return out
