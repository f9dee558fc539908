"""Predicted latency for sweep points (issue 15 with issue 16): `lwbench sweep GRID.yaml --calibration CALIB.json`.

Every analytic row (and every timed row, beside its measured median) gets `pred_ms`, the latency predicted by
`lwbench predict` from a calibration, and `pred_calibration`, the calibration's id (a hash of its fingerprint:
machine, runtime and versions, threads, batch, dtype, ort_opt). A point the calibration does not hold for gets
no prediction but `pred_note`, the reason: an analytic point when its batch or dtype differ, or when its network's
grid values for `threads` / `runtime` do not include the calibration's; a timed point when its own threads,
runtime, device, batch or dtype differ. With several calibrations (the option repeated, e.g. one per runtime) a
point takes the first that holds for it. Predictions never stop a sweep: a network the model cannot read is a
note too.

The Pareto front is then also drawn on predicted latency for the analytic points (`predicted_points`): those
groups have `target` = `predicted:<calibration id>`, and their table and CSV rows say `latency: predicted`.
"""

from __future__ import annotations

import hashlib
import json

from lwbench.errors import LwbenchError
from lwbench.measure.protocol import MODULE


def calibration_id(cal: dict) -> str:
    fp = {k: v for k, v in cal["fingerprint"].items() if k != "lwbench"}
    return hashlib.sha256(json.dumps(fp, sort_keys=True, default=str).encode()).hexdigest()[:12]


class Predictor:
    """Predictions for sweep rows from one or more calibration files (checked when read: one line if bad)."""

    def __init__(self, paths: list[str], networks=()):
        from lwbench.predict import calfile

        self.cals = [(calibration_id(c), c) for c in (calfile.load(p) for p in paths)]
        self.dims = {n.label: n.dims for n in networks}     # network label -> the grid's values per dimension
        self.specs = {n.label: n.spec for n in networks}    # network label -> what lwbench loads
        self._memo: dict[tuple, tuple[float | None, str]] = {}

    def _why(self, row: dict, cal: dict) -> str | None:
        from lwbench.predict.calfile import mismatch

        fp = cal["fingerprint"]
        if row.get("kind") == "timing":
            asked = {k: row.get(k) for k in ("threads", "runtime", "device", "batch", "dtype")}
            return mismatch(fp, asked)
        why = mismatch(fp, {"batch": row.get("batch"), "dtype": row.get("dtype")})
        dims = self.dims.get(row.get("network"), {})
        for k in ("threads", "runtime"):
            vals = dims.get(k)
            if vals and str(fp.get(k)) not in {str(v) for v in vals}:
                return why or f"the grid's {k} {list(vals)}, calibrated with {k}={fp.get(k)}"
        return why

    def _predict(self, row: dict, spec: str, cid: str, cal: dict) -> tuple[float | None, str]:
        key = (cid, spec, row.get("width"), row.get("resolution"), row.get("batch"), row.get("dtype"))
        if key not in self._memo:
            if spec.startswith(MODULE):
                self._memo[key] = (None, "a torch factory: predicted by `lwbench predict --module`, not in sweeps")
            else:
                from lwbench.predict.predict import predict_net
                from lwbench.spec import load

                try:
                    net = load(spec, row.get("width"), row.get("resolution"))
                    res = predict_net(net, cal["model"], int(row.get("batch") or 1), row.get("dtype") or "float32")
                    self._memo[key] = (res["total_ms"], "")
                except (LwbenchError, KeyError, ValueError) as e:
                    self._memo[key] = (None, f"not predicted: {e}"[:300])
        return self._memo[key]

    def annotate(self, row: dict) -> dict:
        """The row with pred_ms, pred_calibration and pred_note (in place, and returned)."""
        if row.get("status") != "ok" or row.get("kind") not in ("analytic", "timing") or "pred_ms" in row:
            return row
        reasons = []
        for cid, cal in self.cals:
            why = self._why(row, cal)
            if why:
                reasons.append(f"{cid}: {why}")
                continue
            fp = cal["fingerprint"]
            ms, note = self._predict(row, self.specs.get(row["network"], row["network"]), cid, cal)
            row.update(pred_ms=ms, pred_calibration=cid, pred_runtime=fp.get("runtime"), pred_threads=fp.get("threads"),
                       pred_device=fp.get("device"), pred_note=note)
            return row
        row.update(pred_ms=None, pred_calibration=None, pred_note="; ".join(reasons))
        return row


def predicted_points(rows: list[dict]) -> list[dict]:
    """Analytic rows with a prediction as points of the latency-madds front: their own group per calibration
    (target `predicted:<id>`, the calibration's runtime and threads), `median_ms` = the predicted latency."""
    out = []
    for r in rows:
        if r.get("kind") == "analytic" and r.get("status") == "ok" and r.get("pred_ms") is not None:
            out.append({**r, "kind": "timing", "target": f"predicted:{r['pred_calibration']}",
                        "runtime": r.get("pred_runtime"), "threads": r.get("pred_threads"), "device": r.get("pred_device"),
                        "median_ms": r["pred_ms"], "iqr_ms": None, "latency": "predicted"})
    return out
