"""The calibration file: plain JSON (no pickles), checked key by key when read.

    {"format": "lwbench-calibration", "version": 1,
     "fingerprint": {device, threads, runtime, dtype, batch, target, cpu_model, arch, cores_logical, torch, ...},
     "settings": {seed, timer, max_minutes}, "cost": {measurements, errors, seconds, complete},
     "measurements": [{id, group, label, input, nodes, target, minus, timing: {median_ms, ...}, ...}],
     "model": {"overhead": {fixed_ms, per_layer_ms}, "kinds": {key: {method, ...}}, "fallback": {...}},
     "checks": {"heldout_layers": {...}, "blocks": [...]}}

A file that is not that (truncated, another version, a key of the wrong type) is one line naming the file
and the key, exit 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lwbench.errors import ConfigError, InputError

FORMAT = "lwbench-calibration"
VERSION = 1
MAX_BYTES = 64 * 1024 * 1024
FINGERPRINT_SETTINGS = ("device", "threads", "runtime", "dtype", "batch", "target")
FINGERPRINT_MACHINE = ("cpu_model", "arch", "cores_logical", "torch")
METHODS = ("loess", "power", "roofline", "roofline+loess", "constant")


def fingerprint(settings: dict, machine: dict, runtime_versions: dict | None = None) -> dict:
    """What a calibration holds for: the settings it was measured with and the machine it ran on."""
    t = machine.get("torch") or {}
    extra = {"ort_opt": settings.get("ort_opt", "all")} if settings.get("runtime") == "onnxruntime" else {}
    return {**{k: settings.get(k) for k in FINGERPRINT_SETTINGS}, **extra,
            "cpu_model": machine.get("cpu_model"), "cpu_isa": machine.get("cpu_isa"), "arch": machine.get("arch"),
            "cores_logical": machine.get("cores_logical"), "affinity": machine.get("affinity"),
            "torch": t.get("version"), "onednn": t.get("onednn"), "mkl": t.get("mkl"),
            "parallel_backend": t.get("parallel_backend"), "lwbench": machine.get("lwbench"),
            "runtime_versions": runtime_versions or {"torch": t.get("version")}}


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _need(path: str, doc: dict, key: str, typ, where: str = ""):
    name = f"{where}{key}"
    if not isinstance(doc, dict) or key not in doc:
        raise ConfigError(path, name, "missing (not a calibration written by `lwbench calibrate`?)")
    v = doc[key]
    ok = _num(v) if typ == "number" else isinstance(v, typ)
    if not ok:
        expected = "a number" if typ == "number" else f"a {getattr(typ, '__name__', typ)}"
        raise ConfigError(path, name, f"expected {expected}", type(v).__name__)
    return v


def _check_kind(path: str, key: str, m) -> None:
    where = f"model.kinds.{key}."
    if not isinstance(m, dict):
        raise ConfigError(path, where[:-1], "expected a mapping", type(m).__name__)
    method = _need(path, m, "method", str, where)
    if method not in METHODS:
        raise ConfigError(path, f"{where}method", f"expected one of {', '.join(METHODS)}", method)
    if method in ("loess", "roofline+loess"):
        pts = _need(path, m, "points", list, where)
        if not pts or not all(isinstance(p, list) and p and all(_num(v) for v in p) for p in pts):
            raise ConfigError(path, f"{where}points", "expected a non-empty list of lists of numbers")
    if method in ("power", "roofline", "roofline+loess"):
        coef = _need(path, m, "coef", list, where)
        if not coef or not all(_num(v) for v in coef):
            raise ConfigError(path, f"{where}coef", "expected a list of numbers")
    if method == "constant":
        _need(path, m, "ms", "number", where)


def validate(doc, path: str) -> dict:
    """The calibration document, or ConfigError naming the first key that is wrong."""
    if not isinstance(doc, dict):
        raise ConfigError(path, "", "expected a JSON object (a calibration written by `lwbench calibrate`)",
                          type(doc).__name__)
    if doc.get("format") != FORMAT:
        raise ConfigError(path, "format", f"expected '{FORMAT}'", doc.get("format"))
    version = doc.get("version")
    if version != VERSION:
        raise ConfigError(path, "version", f"expected {VERSION} (this lwbench reads calibration version {VERSION}; "
                          "calibrate again)", version)
    fp = _need(path, doc, "fingerprint", dict)
    for k in FINGERPRINT_SETTINGS:
        _need(path, fp, k, (str, int) if k != "threads" else int, "fingerprint.")
    _need(path, doc, "measurements", list)
    model = _need(path, doc, "model", dict)
    over = _need(path, model, "overhead", dict, "model.")
    for k in ("fixed_ms", "per_layer_ms"):
        _need(path, over, k, "number", "model.overhead.")
    kinds = _need(path, model, "kinds", dict, "model.")
    if not kinds:
        raise ConfigError(path, "model.kinds", "expected at least one calibrated kind")
    for key, m in kinds.items():
        _check_kind(path, key, m)
    for key, m in _need(path, model, "fallback", dict, "model.").items():
        _check_kind(path, f"fallback.{key}", m)
    return doc


def load(path: str | Path, option: str = "--calibration") -> dict:
    """Read and check a calibration file (InputError when it is not there, ConfigError when it is wrong)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{option} {path}: no such file (make one with `lwbench calibrate -o {path}`)")
    if p.stat().st_size > MAX_BYTES:
        raise ConfigError(str(path), "", f"larger than {MAX_BYTES >> 20} MiB: not a calibration")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "", "expected a UTF-8 JSON calibration file", type(e).__name__) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(str(path), "", f"not valid JSON (truncated or damaged?) at line {e.lineno} column {e.colno}",
                          e.msg) from None
    return validate(doc, str(path))


def check_fingerprint(doc: dict, asked: dict, path: str, machine: dict | None = None) -> None:
    """InputError (one line) when a setting asked for (not None) differs from what the calibration holds (the
    target too: a calibration made with `--target ssh://...` holds for that target); with `machine`, also when
    this machine is not the one calibrated (a remote target's calibration; CPU model, arch, cores, torch
    version)."""
    why = mismatch(doc["fingerprint"], asked)
    if why:
        raise InputError(f"--calibration {path}: {why}")
    if machine is not None and str(doc["fingerprint"].get("target") or "local") != "local":
        raise InputError(f"--calibration {path}: made on target {doc['fingerprint']['target']}, not on this "
                         "machine; drop --here to predict for that target, or calibrate here")
    why = machine_mismatch(doc["fingerprint"], machine) if machine is not None else None
    if why:
        raise InputError(f"--calibration {path}: made on another machine ({why}); calibrate here, or drop --here "
                         "to predict for that machine")


def machine_mismatch(fp: dict, machine: dict, where: str = "this machine") -> str | None:
    """'cpu_model 'X', this machine 'Y'' when `machine` (a machine block) is not the one a calibration's
    fingerprint holds for (CPU model, arch, cores, torch and, for ONNX Runtime, its version; the vector features
    where both record them); None when it is."""
    here = fingerprint({}, machine)
    here["onnxruntime"] = (machine.get("onnxruntime") or {}).get("onnxruntime")
    theirs = {**fp, "onnxruntime": (fp.get("runtime_versions") or {}).get("onnxruntime")}
    keys = FINGERPRINT_MACHINE + (("onnxruntime",) if fp.get("runtime") == "onnxruntime" else ())
    for k in keys:
        if str(here.get(k)) != str(theirs.get(k)):
            return f"{k} {theirs.get(k)!r}, {where} {here.get(k)!r}"
    return isa_mismatch(theirs.get("cpu_isa"), here.get("cpu_isa"), where)


def isa_mismatch(calibrated: list | None, here: list | None, where: str = "this machine") -> str | None:
    """Why two CPUs' vector features (`cpu_isa`) differ, or None: also when either is not recorded (a calibration
    from before has none to compare)."""
    if calibrated is None or here is None or list(calibrated) == list(here):
        return None
    gone, new = sorted(set(calibrated) - set(here)), sorted(set(here) - set(calibrated))
    only = ([f"only the calibrated CPU has {' '.join(gone)}"] if gone else []) + \
        ([f"only {where} has {' '.join(new)}"] if new else [])
    return f"cpu_isa differs ({'; '.join(only)})"


def mismatch(fp: dict, asked: dict) -> str | None:
    """Why a calibration (its fingerprint) does not hold for the settings asked for (None: it does). Settings
    not asked for (None) are not compared; `ort_opt` is compared only for ONNX Runtime calibrations."""
    for k in (*FINGERPRINT_SETTINGS, "ort_opt"):
        want = asked.get(k)
        if want is None:
            continue
        if k == "ort_opt" and fp.get("runtime") != "onnxruntime":
            return (f"calibrated for runtime {fp.get('runtime')}, asked for ort_opt={want} (an onnxruntime "
                    "setting): calibrate with --runtime onnxruntime for that")
        if str(want) != str(fp.get(k)):
            return f"calibrated with {k}={fp.get(k)}, asked for {k}={want}: calibrate with --{k.replace('_', '-')} " \
                   f"{want} for that"
    return None
