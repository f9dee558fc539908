"""`lwbench calibrate`: measure the grid (lwbench.predict.design), fit the model, write plain JSON.

Measurement: one fresh worker process per probe group (`python -m lwbench.predict.calibrate JOB.json`), so
thread pools, allocator and oneDNN caches start clean for every kind, and one per synthetic network (as bench
runs every network in a fresh worker); each probe is a built IR network timed
by `lwbench.measure.timer.time_module` (warm-up, median of many calls, CPU share), exactly as `bench` times
a network. Every finished probe is appended as one JSON line to `OUTPUT.partial` (header line first: the
settings and the machine fingerprint), so an interrupted calibration resumes where it stopped when run again
with the same settings; the final file replaces OUTPUT atomically and the partial file is removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from lwbench.errors import ConfigError, InputError
from lwbench.predict import calfile
from lwbench.predict.design import FAULT_ENV, GROUPS, Probe, probe_net
from lwbench.predict.grid import grid

TIMER = {"warmup_runs": 3, "warmup_s": 0.05, "min_runs": 15, "min_time_s": 0.15, "max_time_s": 1.5,
         "max_runs": 2000}
TIMER_ORT = {**TIMER, "warmup_s": 0.02, "min_time_s": 0.1, "max_time_s": 1.0}   # ORT's per-call overhead is small
# The synthetic networks are timed over a window like bench's (a second, at least 50 calls), not a probe's 0.15 s:
# the context model maps them onto networks timed by bench, and on a machine whose speed moves within seconds a
# statistic over 15 calls in 0.15 s is not one over 150 calls in 3 s (the min of few calls reads high).
TIMER_NETWORKS = {"warmup_s": 0.2, "min_runs": 50, "min_time_s": 1.0, "max_time_s": 3.0}
NETWORK_GROUPS = ("chain", "speed", "speed-end")   # the speed reference (lwbench.predict.speed) is one
RUNTIMES = ("torch", "onnxruntime")
MAX_MEASUREMENTS = 1500
RETRY_SHARE = 0.85     # a probe timed with less CPU than this (other load took the core) is measured again


# --------------------------------------------------------------------------- the worker side
def _record(p: Probe, t, share, clean: dict) -> dict:
    from lwbench.predict.probetime import record

    return record(p.id, p.group, t, share, clean)


def measure(job: dict) -> None:
    """Time each probe of `job["probes"]` and append its record to `job["partial"]` (one JSON line each)."""
    from lwbench.build import build, example_input
    from lwbench.measure.timer import TimerConfig, set_threads
    from lwbench.predict.probetime import time_probe

    st = job["settings"]
    heap = _keep_heap(st)
    set_threads(st["threads"])
    cfg = TimerConfig(**st["timer"])
    net_cfg = TimerConfig(**{**st["timer"], **st.get("timer_networks", {})})
    deadline = job.get("deadline")
    retry: list[dict] = []
    with open(job["partial"], "a", encoding="utf-8") as f:
        def timed(d: dict) -> dict:
            c = net_cfg if d["group"] in NETWORK_GROUPS else cfg
            rec = _time_probe(Probe.from_dict(d), st, c, build, example_input, time_probe, job.get("onnx_cache"))
            f.write(json.dumps({**rec, "heap": heap}, separators=(",", ":")) + "\n")
            f.flush()
            return rec

        for d in job["probes"]:
            if deadline and time.time() > deadline:
                return
            rec = timed(d)
            if (rec.get("cpu_share") or 1.0) < RETRY_SHARE and rec.get("clean_median_ms") is None:
                retry.append(d)
        for d in retry[: job.get("max_retries", 0)]:  # once more, the better record is kept
            if deadline and time.time() > deadline:
                return
            timed(d)


def _keep_heap(st: dict) -> str:
    """torch probes run in a heap-kept process, as `bench`'s torch worker runs a network (lwbench.measure.heap;
    the `fault` group's malloc settings in the environment leave it unchanged, as they should)."""
    if st["runtime"] != "torch":
        return "onnxruntime arena"
    from lwbench.measure.heap import keep_heap

    return keep_heap()


def _time_probe(p: Probe, st: dict, cfg, build, example_input, time_probe, cache: str | None = None) -> dict:
    try:
        net = probe_net(p)
        if st["runtime"] == "onnxruntime":
            from lwbench.predict.orttime import time_probe_ort

            t, clean = time_probe_ort(net, st, cfg, cache)
            return _record(p, t, t.extra.get("cpu_share"), clean)
        model, x = build(net), example_input(net, st["batch"])
        t, clean = time_probe(model, x, cfg, device=st["device"], threads=st["threads"], dtype=st["dtype"])
        rec = _record(p, t, t.extra.get("cpu_share"), clean)
        if p.group in ("fault", "fault-base", "block"):
            from lwbench.predict.faults import faults_per_call

            rec["faults_per_call"] = faults_per_call(model, x)
        if p.group == "chain" and st["dtype"] == "float32":     # each layer among the others (lwbench.predict.context)
            from lwbench.count import count
            from lwbench.predict.probetime import layer_times

            names = [r.layer for r in count(net, st["batch"], st["dtype"]).layers]
            rec["in_network"] = layer_times(model, x, names, st["threads"])
        return rec
    except Exception as e:  # noqa: BLE001 - one failing probe is recorded, the grid goes on
        return {"id": p.id, "group": p.group, "error": f"{type(e).__name__}: {e}"[:300]}


def _run_worker(job: dict, timeout_s: float) -> str | None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lwbench-cal-") as tmp:
        path = os.path.join(tmp, "job.json")
        Path(path).write_text(json.dumps({**job, "onnx_cache": tmp}), encoding="utf-8")
        env = dict(os.environ)
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(job["settings"]["threads"])
        if job.get("fault_mode"):
            env.update(FAULT_ENV)
        try:
            p = subprocess.run([sys.executable, "-m", "lwbench.predict.calibrate", path], env=env,
                               capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return f"worker timed out after {timeout_s:.0f} s"
        if p.returncode != 0:
            tail = [ln for ln in (p.stderr or "").splitlines() if ln.strip()]
            return f"worker exited with code {p.returncode}" + (f": {tail[-1]}" if tail else "")
    return None


# --------------------------------------------------------------------------- the partial file
def read_partial(path: Path, header: dict) -> dict[str, dict]:
    """Records already measured with these settings, by probe id; a damaged last line is dropped."""
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        head = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        head = None
    if head != header:
        raise InputError(f"{path}: a partial calibration made with other settings or on another machine; "
                         "delete it, or resume with the settings it was started with")
    out: dict[str, dict] = {}
    for ln in lines[1:]:
        try:
            rec = json.loads(ln)
        except json.JSONDecodeError:
            continue  # the line being written when the run was stopped
        if isinstance(rec, dict) and "id" in rec and "error" not in rec:
            old = out.get(rec["id"])
            if old is None or (rec.get("cpu_share") or 0) > (old.get("cpu_share") or 0):
                out[rec["id"]] = rec   # a re-measured probe: the record whose process had more of its CPU
    return out


def _header(settings: dict, fp: dict) -> dict:
    return {"format": "lwbench-calibration-partial", "settings": settings, "fingerprint": fp}


# --------------------------------------------------------------------------- checks before measuring
def check_request(device: str, runtime: str, target: str | None, ort_opt: str = "all", dtype: str = "float32") -> None:
    from lwbench.errors import suggest
    from lwbench.measure.timer import check_device

    if runtime not in RUNTIMES:
        raise InputError(f"--runtime: expected {' or '.join(RUNTIMES)}{suggest(runtime, RUNTIMES)}, got {runtime}")
    if is_remote(target):
        from lwbench.predict.remotecal import check_remote
        from lwbench.targets import check_target_spec
        from lwbench.targets.ssh import parse_spec

        parse_spec(check_target_spec(target))
        check_remote(target, runtime, device)
    if runtime == "onnxruntime":
        from lwbench.onnx.session import check_opt, providers

        check_opt(ort_opt)
        if not is_remote(target):
            providers(device)
        if dtype != "float32":
            raise InputError(f"--dtype {dtype} --runtime onnxruntime: calibrate measures float32 ORT graphs only "
                             "(an int8 calibration would need the quantizer per probe)")
        return
    if ort_opt != "all":
        raise InputError(f"--ort-opt {ort_opt}: an onnxruntime setting; give --runtime onnxruntime")
    check_device(device)


def is_remote(target: str | None) -> bool:
    return target not in (None, "local")


def _settings(device, threads, runtime, target, batch, dtype, seed, timer, ort_opt) -> dict:
    base = TIMER_ORT if runtime == "onnxruntime" else TIMER
    st = {"device": device, "threads": threads, "runtime": runtime, "dtype": dtype, "batch": batch,
          "target": target or "local", "seed": seed, "timer": {**base, **(timer or {})},
          "timer_networks": {**TIMER_NETWORKS, **{k: v for k, v in (timer or {}).items() if k in TIMER_NETWORKS}}}
    if runtime == "onnxruntime":
        st["ort_opt"] = ort_opt       # only ORT calibrations carry it (a torch partial file stays readable)
    return st


def _fingerprint(settings: dict, machine: dict) -> dict:
    versions = None
    if settings["runtime"] == "onnxruntime":
        from lwbench.predict.orttime import versions as ort_versions

        versions = {"torch": (machine.get("torch") or {}).get("version"), **ort_versions()}
    return calfile.fingerprint(settings, machine, versions)


def _measure_groups(probes, settings, partial: Path, header: dict, deadline: float, progress) -> tuple[dict, list]:
    """Run one fresh worker per probe group for what the partial file lacks; (records, problems)."""
    done, problems = read_partial(partial, header), []
    for group in GROUPS:
        todo = [p.to_dict() for p in probes if p.group == group and p.id not in done]
        if not todo or time.time() > deadline:
            continue
        if progress:
            progress(f"{group}: {len(todo)} probes")
        spare = max(0, MAX_MEASUREMENTS - len(probes)) * len(todo) // len(probes)   # retries within the cap
        # a synthetic network gets a fresh worker of its own, as bench gives every network one: a process that
        # has run other networks runs the next one up to 1.4x slower (heap and caches left by the others)
        batches = [[d] for d in todo] if group in NETWORK_GROUPS else [todo]
        for i, batch in enumerate(batches):
            if time.time() > deadline:
                break
            job = {"probes": batch, "settings": settings, "partial": str(partial), "deadline": deadline,
                   "max_retries": spare if len(batches) == 1 else int(i < spare), "fault_mode": group == "fault"}
            err = _run_worker(job, max(30.0, deadline - time.time() + 60.0))
            if err:
                problems.append(f"{group}: {err}")
        done = read_partial(partial, header)
    return done, problems


def calibrate(output: str, device: str = "cpu", threads: int = 1, runtime: str = "torch", target: str | None = None,
              batch: int = 1, dtype: str = "float32", seed: int = 0, max_minutes: float = 15.0,
              timer: dict | None = None, probes: list[Probe] | None = None, progress=None,
              ort_opt: str = "all", statistic: str = "median") -> dict:
    """Measure the grid (resuming OUTPUT.partial), fit `statistic` of each probe (median, min), write OUTPUT;
    returns the calibration document."""
    from lwbench.measure.timer import check_dtype
    from lwbench.predict.probetime import check_statistic

    check_request(device, runtime, target, ort_opt, dtype)
    check_dtype(dtype)
    check_statistic(statistic)
    if threads < 1 or batch < 1 or not max_minutes > 0:
        raise InputError("calibrate: --threads, --batch and --max-minutes must be positive")
    probes = grid(seed, runtime=runtime) if probes is None else probes
    if len(probes) > MAX_MEASUREMENTS:
        raise InputError(f"calibrate: {len(probes)} probes; at most {MAX_MEASUREMENTS:,} measurements")
    settings = _settings(device, threads, runtime, target, batch, dtype, seed, timer, ort_opt)
    partial = Path(f"{output}.partial")
    if is_remote(target):                   # ONNX Runtime on an SSH target: lwbench.predict.remotecal
        from lwbench.predict.remotecal import RemoteCalibration

        with RemoteCalibration(target) as remote:
            machine = remote.machine()
            fp = calfile.fingerprint(settings, machine, remote.versions(machine))
            header = _start_partial(partial, _header(settings, fp))
            t0 = time.time()
            problems = remote.measure(probes, settings, partial, read_partial(partial, header), t0 + 60.0 * max_minutes,
                                      progress, max_measurements=MAX_MEASUREMENTS, retry_share=RETRY_SHARE,
                                      network_groups=NETWORK_GROUPS)
            done = read_partial(partial, header)
            rules, unknown = remote.nchwc(ort_opt)
        extra = {"statistic": statistic, "nchwc": rules, **({"nchwc_unknown": unknown} if unknown else {})}
        return _finish(output, partial, probes, done, settings, extra, fp, machine, t0, problems)
    machine = machine_info_for(runtime)
    fp = _fingerprint(settings, machine)
    header = _start_partial(partial, _header(settings, fp))
    t0 = time.time()
    done, problems = _measure_groups(probes, settings, partial, header, t0 + 60.0 * max_minutes, progress)
    # the statistic is not a measurement setting (a partial file resumes under either): it joins after
    extra = {"statistic": statistic}
    if runtime == "onnxruntime":     # ORT's NCHWc rule here (lwbench.predict.layout): read from ORT, not timed
        extra["nchwc"] = nchwc_rules_here(ort_opt)
    return _finish(output, partial, probes, done, settings, extra, fp, machine, t0, problems)


def check_speed(path: str, tolerance_pct: float | None = None, progress=None, readings: int | None = None) -> dict:
    """`calibrate --check CALIB.json`: the calibration's speed reference (lwbench.predict.speed) measured now, with
    the calibration's settings, on its machine (refused elsewhere) or its SSH target, against the times the
    calibration stored; the verdict, the machine block and what was asked."""
    import datetime
    import tempfile

    from lwbench.predict import speed

    doc = calfile.load(path, "--check")
    cal_speed = (doc.get("checks") or {}).get("speed")
    if not isinstance(cal_speed, dict) or not cal_speed.get("start_ms"):
        raise InputError(f"--check {path}: this calibration has no speed reference (made before `calibrate` timed "
                         "one); calibrate again to have one")
    settings, fp_cal = doc["settings"], doc["fingerprint"]
    target = fp_cal.get("target") or "local"
    check_request(settings["device"], settings["runtime"], target, settings.get("ort_opt", "all"), settings["dtype"])
    ref, n = speed.reference(speed.GROUP), readings or speed.READINGS
    with tempfile.TemporaryDirectory(prefix="lwbench-check-") as tmp:
        deadline = time.time() + 600.0
        if is_remote(target):
            from lwbench.predict.remotecal import RemoteCalibration

            with RemoteCalibration(target) as remote:
                machine = remote.machine()
                _same_machine(fp_cal, machine, path, f"target {target}")
                recs, problems = _readings(n, Path(tmp), settings, calfile.fingerprint(
                    settings, machine, remote.versions(machine)), ref, lambda partial, header: remote.measure(
                    [ref], settings, partial, {}, deadline, progress, max_measurements=2, retry_share=RETRY_SHARE,
                    network_groups=NETWORK_GROUPS))
        else:
            machine = machine_info_for(settings["runtime"])
            _same_machine(fp_cal, machine, path, "this machine")
            recs, problems = _readings(n, Path(tmp), settings, _fingerprint(settings, machine), ref,
                                       lambda partial, header: _measure_groups([ref], settings, partial, header,
                                                                               deadline, progress)[1])
    if any(r is None for r in recs):
        raise InputError(f"--check {path}: the speed reference did not run ({'; '.join(problems) or 'no record'})")
    verdict = speed.compare(cal_speed, recs, settings.get("statistic", "median"),
                            speed.TOLERANCE_PCT if tolerance_pct is None else tolerance_pct)
    return {"calibration": str(path), "target": target, "reference": cal_speed.get("reference"),
            "checked_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "calibration_speed": cal_speed, **verdict, "records": recs, "machine": machine}


def _readings(n: int, tmp: Path, settings: dict, fp: dict, ref: Probe, run) -> tuple[list, list[str]]:
    """`n` readings of the probe `ref`, each by `run(partial, header)` into its own partial file (a fresh worker
    or runner each, as a calibration gives every network one); (records, problems)."""
    recs, problems = [], []
    for k in range(n):
        partial = tmp / f"check-{k}.partial"
        header = _start_partial(partial, _header(settings, fp))
        problems += run(partial, header)
        recs.append(read_partial(partial, header).get(ref.id))
    return recs, problems


def machine_info_for(runtime: str) -> dict:
    """This machine's block as a calibration records it (with onnxruntime's versions for an ORT calibration)."""
    from lwbench.measure.machine import machine_info

    machine = machine_info()
    if runtime == "onnxruntime":
        from lwbench.runtimes.ort import info

        machine["onnxruntime"] = info()
    return machine


def _same_machine(fp: dict, machine: dict, path: str, where: str) -> None:
    why = calfile.machine_mismatch(fp, machine, where)
    if why:
        raise InputError(f"--check {path}: calibrated on another machine ({why}); a speed check compares a "
                         "machine with its own calibration")


def _start_partial(partial: Path, header: dict) -> dict:
    """The header, after refusing a partial file of other settings (before anything runs); a new partial file
    starts with it."""
    read_partial(partial, header)
    if not partial.exists():
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(header, separators=(",", ":")) + "\n", encoding="utf-8")
    return header


def _finish(output, partial: Path, probes, done, settings, extra, fp, machine, t0, problems) -> dict:
    """Fit, write OUTPUT atomically; the partial file goes once the grid is complete."""
    from lwbench.predict.fitcal import build_document
    from lwbench.report.write import atomic_write

    doc = build_document(probes, done, {**settings, **extra}, fp, machine, time.time() - t0, problems)
    atomic_write(output, json.dumps(doc, separators=(",", ":")))
    if doc["cost"]["complete"]:
        partial.unlink(missing_ok=True)
    return doc


def nchwc_rules_here(ort_opt: str | None) -> dict | None:
    """ORT's NCHWc rule on this machine, read from ORT now (layout.detect_rules) at level all; None below it (no
    NCHWc region). predict.nchwc_rules reads the rule a calibration stored."""
    if (ort_opt or "all") != "all":
        return None
    from lwbench.predict.layout import detect_rules

    return detect_rules()


def rules_for_refit(doc: dict) -> dict:
    """An ONNX Runtime calibration made before the NCHWc rule was stored gets it on refit when this is the machine
    and the ORT version it was made with (the rule is read from ORT, nothing is timed); else it keeps the old
    reading (every convolution blocked)."""
    st, fp = doc["settings"], doc["fingerprint"]
    if st.get("runtime") != "onnxruntime" or "nchwc" in st:
        return doc
    from lwbench.measure.machine import machine_info
    from lwbench.predict.orttime import versions

    here = machine_info()
    same = (here.get("cpu_model") == fp.get("cpu_model") and calfile.isa_mismatch(fp.get("cpu_isa"), here.get("cpu_isa"))
            is None and versions().get("onnxruntime") == (fp.get("runtime_versions") or {}).get("onnxruntime"))
    return {**doc, "settings": {**st, "nchwc": nchwc_rules_here(st.get("ort_opt"))}} if same else doc


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m lwbench.predict.calibrate JOB.json", file=sys.stderr)
        return 2
    measure(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["calibrate", "check_speed", "measure", "read_partial", "check_request", "ConfigError"]
