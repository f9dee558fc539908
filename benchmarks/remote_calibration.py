"""Does a calibration timed over SSH equal a local one? The ONNX Runtime grid calibrated `local` and through
`ssh://` to this same machine (issue 16's `calibrate --target`), and both compared probe by probe and by what
they predict.

    python benchmarks/remote_calibration.py [--smoke N] [--target URL] [--ssh-first] [--out results]

1. waits (up to --wait s) for the 1-minute load to fall below --max-load, and records it;
2. without --target starts a private sshd on a free loopback port (generated keys, as the tests and
   benchmarks/remote_vs_local.py do; /usr/sbin/sshd needed); with --target uses yours;
3. `lwbench calibrate --runtime onnxruntime --threads 1 -o OUT/remote-calib-local.json`, then the same with
   `--target URL -o OUT/remote-calib-ssh.json` (--ssh-first: the other order), `--smoke N` for N probes a
   group (a check of the pipeline: files named -smoke, never results);
4. per probe group: the probes both measured, the median and the 10th-90th percentiles of the per-probe ratio
   ssh / local of the time each fit uses (`probe_ms`, the calibration's statistic) and the share within ±10%,
   and the same of ORT's layout conversions (`layout_ms`); a record in one file and not in the other is listed;
5. per zoo network of NETS: the latency each calibration predicts (their fitted models, lwbench.predict) and
   the ratio ssh / local;
6. writes OUT/remote-calibration.csv (one row per group and per network, the machine block in its header) and
   OUT/remote-calibration.json (the log: both calibrations' costs, fingerprints' differences, the load).

A ratio is a comparison of two measurements of the same machine minutes apart: the machine's own drift is in
it (results/README.md, "The machines"); what the remote path must not add is a bias beyond that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from remote_vs_local import own_sshd, wait_for_quiet  # benchmarks/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parent.parent
NETS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0", "shufflenet_v1_g3_x1_0",
        "squeezenet1_1", "efficientnet_b0", "mnasnet1_0", "resnet18"]


def calibrate(out: Path, target: str | None, smoke: int | None) -> float:
    cmd = [sys.executable, "-m", "lwbench", "calibrate", "--device", "cpu", "--threads", "1", "--runtime",
           "onnxruntime", "-o", str(out)]
    if target:
        cmd += ["--target", target]
    if smoke:
        cmd += ["--smoke", str(smoke)]
    print("+", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def _ratios(pairs: list[tuple[float, float]]) -> dict:
    r = [b / a for a, b in pairs if a and a > 0 and b is not None]
    return {"n": len(r), "median": statistics.median(r) if r else None, "p10": _pct(r, 0.1), "p90": _pct(r, 0.9),
            "within_10_pct": 100.0 * sum(abs(x - 1) <= 0.10 for x in r) / len(r) if r else None}


def compare_probes(local: dict, ssh: dict) -> tuple[list[dict], dict]:
    """Per group: ratios ssh / local of probe_ms and layout_ms; and the ids found on one side only."""
    from lwbench.predict.probetime import probe_ms

    stat = local["model"].get("statistic", "median")
    a = {m["id"]: m for m in local["measurements"]}
    b = {m["id"]: m for m in ssh["measurements"]}
    groups: dict[str, dict[str, list]] = {}
    for pid in sorted(set(a) & set(b)):
        g = groups.setdefault(a[pid]["group"], {"t": [], "lay": []})
        g["t"].append((probe_ms(a[pid], stat=stat), probe_ms(b[pid], stat=stat)))
        la, lb = a[pid].get("layout_ms"), b[pid].get("layout_ms")
        if la and lb:
            g["lay"].append((la, lb))
    rows = []
    for name, g in groups.items():
        t, lay = _ratios(g["t"]), _ratios(g["lay"])
        rows.append({"kind": "probes", "name": name, "n": t["n"], "ratio_median": t["median"], "ratio_p10": t["p10"],
                     "ratio_p90": t["p90"], "within_10_pct": t["within_10_pct"], "layout_n": lay["n"],
                     "layout_ratio_median": lay["median"], "layout_within_10_pct": lay["within_10_pct"]})
    every = _ratios([p for g in groups.values() for p in g["t"]])
    rows.append({"kind": "probes", "name": "(all)", "n": every["n"], "ratio_median": every["median"],
                 "ratio_p10": every["p10"], "ratio_p90": every["p90"], "within_10_pct": every["within_10_pct"]})
    return rows, {"local_only": sorted(set(a) - set(b)), "ssh_only": sorted(set(b) - set(a))}


def compare_predictions(local: dict, ssh: dict, nets: list[str]) -> list[dict]:
    """What each calibration's model predicts for the zoo networks (no fingerprint check: both are this
    machine's, one of them through ssh)."""
    from lwbench.predict.predict import predict_net
    from lwbench.spec import load

    rows = []
    for name in nets:
        net = load(name)
        pl = predict_net(net, local["model"])["total_ms"]
        ps = predict_net(net, ssh["model"])["total_ms"]
        rows.append({"kind": "network", "name": name, "local_predicted_ms": pl, "ssh_predicted_ms": ps,
                     "ratio_median": ps / pl if pl else None})
    return rows


def _fingerprint_diff(a: dict, b: dict) -> dict:
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "results"))
    ap.add_argument("--target", default=None)
    ap.add_argument("--smoke", type=int, default=None)
    ap.add_argument("--ssh-first", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="keep calibrations already in --out (compare only)")
    ap.add_argument("--max-load", type=float, default=1.0)
    ap.add_argument("--wait", type=float, default=600.0)
    a = ap.parse_args(argv)
    from lwbench.measure.machine import machine_info
    from lwbench.report.write import atomic_write, to_csv

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "-smoke" if a.smoke else ""
    cal_local, cal_ssh = out / f"remote-calib-local{tag}.json", out / f"remote-calib-ssh{tag}.json"
    load_before = wait_for_quiet(a.max_load, a.wait)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="lwb-sshd-") as tmp:
        server, stop = own_sshd(tmp, "remote_calibration") if a.target is None else (None, None)
        url = a.target or f"ssh://127.0.0.1:{server.port}?python={sys.executable}"
        try:
            order = [("ssh", cal_ssh, url), ("local", cal_local, None)]
            for side, path, target in (order if a.ssh_first else order[::-1]):
                if not (a.reuse and path.exists()):
                    seconds[side] = calibrate(path, target, a.smoke)
        finally:
            if server:
                stop(server.proc)
    local, ssh = json.loads(cal_local.read_text()), json.loads(cal_ssh.read_text())
    probe_rows, missing = compare_probes(local, ssh)
    rows = probe_rows + compare_predictions(local, ssh, NETS[:3] if a.smoke else NETS)
    meta = {"machine": machine_info(), "target": url if a.target else "ssh://127.0.0.1 (own sshd)",
            "order": "ssh first" if a.ssh_first else "local first", "smoke": a.smoke,
            "load_1m_before": round(load_before, 2), "load_1m_after": round(os.getloadavg()[0], 2)}
    atomic_write(out / f"remote-calibration{tag}.csv", to_csv(rows, comments=meta))
    log = {**meta, "wall_s": seconds, "cost": {"local": local["cost"], "ssh": ssh["cost"]},
           "fingerprint_differs": _fingerprint_diff(local["fingerprint"], ssh["fingerprint"]),
           "nchwc": {"local": local["settings"].get("nchwc"), "ssh": ssh["settings"].get("nchwc")},
           "context": {"local": local["model"]["context"]["method"], "ssh": ssh["model"]["context"]["method"]},
           "layout_choice": {"local": (local["model"].get("layout") or {}).get("choice"),
                             "ssh": (ssh["model"].get("layout") or {}).get("choice")},
           "missing": {k: len(v) for k, v in missing.items()}, "rows": rows}
    atomic_write(out / f"remote-calibration{tag}.json", json.dumps(log, indent=1) + "\n")
    for r in rows:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.exit(main())
