"""Does timing through an SSH target add a bias? The same networks timed `local` and through `ssh://` to this
same machine (issue #14: "the remote path adds no bias beyond the machine's own run-to-run noise").

Both sides run the same thing, 1 intra-op thread, batch 1, a fresh process per row: torch, the network's frozen
TorchScript (`--mode script`: the local worker scripts the built model, the target loads the exported .pt and
freezes it, both through lwbench.measure.timer.time_module); onnxruntime, the same .onnx file in the same
session options (both timed by lwbench.measure.timer.autorange). Rounds alternate the order (local then ssh, ssh then
local, ...) so a slow drift of the machine falls on both. Per network:

  local_ms / ssh_ms   median of the per-round medians
  ratio               median of the per-round ratios ssh / local (paired: least affected by drift)
  ratio_lo, ratio_hi  the smallest and largest per-round ratio
  local_spread        the machine's own run-to-run noise: (max - min) / median of the local round medians
  within_noise        |ratio - 1| <= local_spread

Without --target the script starts a private sshd on a free loopback port (generated host and client keys,
as the tests do; /usr/sbin/sshd needed) and times through it; with --target it uses yours (e.g.
ssh://localhost?python=/path/to/python, keys and known_hosts already set up). It waits (up to --wait s) for
the 1-minute load average to fall below --max-load and records the load before and after.

    python benchmarks/remote_vs_local.py [NET ...] [--rounds 5] [--min-time 1.0] [--output results/remote_vs_local.csv]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_NETS = ("mobilenet_v2", "shufflenet_v2_x1_0", "squeezenet1_1")
ROOT = Path(__file__).resolve().parent.parent


def wait_for_quiet(max_load: float, wait_s: float) -> float:
    """Wait (at most wait_s) until the 1-minute load is below max_load; the load then (also used by
    remote_calibration.py)."""
    t0 = time.monotonic()
    while os.getloadavg()[0] >= max_load and time.monotonic() - t0 < wait_s:
        time.sleep(10)
    return os.getloadavg()[0]


MODE = {"torch": "script", "onnxruntime": "eager"}     # what both sides can run: frozen TorchScript; the .onnx


def rounds_of(nets, runtimes, url: str, rounds: int, timer: dict, say) -> list[dict]:
    """One row per (network, runtime, round, target), local and ssh alternating in ABBA order."""
    from lwbench.measure.jobs import Job, run_jobs
    from lwbench.targets import LocalTarget
    from lwbench.targets.remote import SshTarget

    rows = []
    with LocalTarget() as local, SshTarget(url) as remote:
        targets = {"local": local, url: remote}
        for r in range(rounds):
            for net, rt in ((n, rt) for n in nets for rt in runtimes):
                order = ("local", url) if r % 2 == 0 else (url, "local")
                jobs = [Job(net=net, mode=MODE[rt], runtime=rt, threads=1, batch=1, target=t, timer=timer)
                        for t in order]
                for res in run_jobs(jobs, targets=targets):
                    t = res.timing or {}
                    rows.append({"model": net, "runtime": rt, "round": r,
                                 "target": "local" if res.job.target == "local" else "ssh",
                                 "median_ms": t.get("median_ms"), "iqr_ms": t.get("iqr_ms"), "n": t.get("n"),
                                 "cpu_share": res.cpu_share, "cores": res.cores, "error": res.error or "",
                                 "load_1m": round(os.getloadavg()[0], 2)})
                    say(rows[-1])
    return rows


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for net, rt in dict.fromkeys((r["model"], r["runtime"]) for r in rows):
        per = {}
        for r in rows:
            if (r["model"], r["runtime"]) == (net, rt) and not r["error"]:
                per.setdefault(r["round"], {})[r["target"]] = r["median_ms"]
        paired = [v for v in per.values() if "local" in v and "ssh" in v]
        if not paired:
            out.append({"model": net, "runtime": rt, "error": "no paired round"})
            continue
        loc = [v["local"] for v in paired]
        ratios = [v["ssh"] / v["local"] for v in paired]
        spread = (max(loc) - min(loc)) / statistics.median(loc)
        ratio = statistics.median(ratios)
        out.append({"model": net, "runtime": rt, "rounds": len(paired), "local_ms": statistics.median(loc),
                    "ssh_ms": statistics.median(v["ssh"] for v in paired), "ratio": ratio,
                    "ratio_lo": min(ratios), "ratio_hi": max(ratios), "local_spread": spread,
                    "within_noise": abs(ratio - 1) <= spread, "error": ""})
    return out


def own_sshd(tmp: str, who: str = "remote_vs_local"):
    """A loopback sshd of tests/sshd_server.py under `tmp`, LWBENCH_SSH_CONFIG set to its client config; (the
    server, its stop function). Without OpenSSH: exit with one line (also used by remote_calibration.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import sshd_server

    why = sshd_server.missing()
    if why:
        sys.exit(f"{who}: {why}; or give --target")
    server = sshd_server.start(Path(tmp))
    os.environ["LWBENCH_SSH_CONFIG"] = str(server.config)
    return server, sshd_server.stop


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nets", nargs="*", default=list(DEFAULT_NETS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--target", default=None)
    ap.add_argument("--runtime", default="torch,onnxruntime", help="comma list: torch (--mode script), onnxruntime")
    ap.add_argument("--max-load", type=float, default=1.0)
    ap.add_argument("--wait", type=float, default=600.0)
    ap.add_argument("--output", default=str(ROOT / "results" / "remote_vs_local.csv"))
    a = ap.parse_args(argv)
    from lwbench.measure.machine import machine_info
    from lwbench.measure.timer import TimerConfig
    from lwbench.report.write import atomic_write, to_csv

    timer = TimerConfig(min_time_s=a.min_time, min_runs=20, warmup_s=0.5, max_time_s=max(10.0, a.min_time)).to_dict()
    load_before = wait_for_quiet(a.max_load, a.wait)
    with tempfile.TemporaryDirectory(prefix="lwb-sshd-") as tmp:
        server, stop = own_sshd(tmp) if a.target is None else (None, None)
        url = a.target or f"ssh://127.0.0.1:{server.port}?python={sys.executable}"
        try:
            rows = rounds_of(a.nets, a.runtime.split(","), url, a.rounds, timer, lambda r: print(r, file=sys.stderr))
        finally:
            if server:
                stop(server.proc)
    load_after = os.getloadavg()[0]
    meta = {"machine": machine_info(), "timer": timer, "target": url if a.target else "ssh://127.0.0.1 (own sshd)",
            "load_1m_before": round(load_before, 2), "load_1m_after": round(load_after, 2)}
    out = Path(a.output)
    atomic_write(out, to_csv(summary(rows), comments=meta))
    atomic_write(out.with_name(out.stem + "-rows.csv"), to_csv(rows, comments=meta))
    for s in summary(rows):
        print(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
