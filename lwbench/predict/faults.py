"""Page faults per forward: the part of eager torch's CPU latency that no single layer shows.

glibc's allocator serves large tensors from memory it maps, unmaps or trims back to the system, so a network
whose live activations grow and shrink in every forward touches fresh pages, and each first touch is a page
fault (a few microseconds in a VM): mobilenet_v3_small faults about a thousand times per forward on the
development VM, its layers timed alone never do (the same block is reused). The calibration measures the cost
of one fault (`fault` probes: the same layers with glibc told to map and unmap every block of 64 KiB or more);
`lwbench predict --faults` counts the faults of one untimed forward of the network in a fresh process on this
machine and adds faults × cost. That runs the network (on the host, untimed), so it is an opt-in correction,
valid only on the calibrated machine; plain `predict` never runs anything.

Since issue #18 the bench worker keeps the heap (lwbench.measure.heap.keep_heap: a steady-state forward takes
no page fault below 32 MiB blocks), and so does the counting process here and the calibration's worker: the
default prediction (no faults term) is the model of that worker, and `--faults` adds ~0 unless the network has
activations over 32 MiB or LWBENCH_HEAP=trim (glibc's defaults, the fresh-process faults of before #18).

    python -m lwbench.predict.faults NET [WIDTH|- RESOLUTION|- BATCH THREADS]   -> prints faults per forward
"""

from __future__ import annotations

import sys


def faults_per_call(model, x, calls: int = 8, warm: int = 3) -> float:
    """Minor page faults per call of model(x) in this process, after `warm` calls."""
    import resource

    import torch

    with torch.inference_mode():
        for _ in range(warm):
            model(x)
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(calls):
            model(x)
        f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    return (f1 - f0) / calls


def _cache_path():
    from lwbench.version import cache_root

    return cache_root() / "faults.json"


def _cache_key(name: str, width, resolution, batch: int, threads: int) -> str:
    import hashlib
    import os
    import platform
    from pathlib import Path

    from lwbench.measure.machine import cpu_model
    from lwbench.version import __version__

    ident = name
    if Path(name).is_file():  # a YAML file: its content, not its name
        ident += ":" + hashlib.sha256(Path(name).read_bytes()).hexdigest()[:16]
    heap = "heap-" + (os.environ.get("LWBENCH_HEAP", "keep").strip().lower() or "keep")   # as the count ran
    return "|".join(map(str, (ident, width, resolution, batch, threads, platform.node(), cpu_model(), __version__,
                              heap)))


def _cached(key: str, value: float | None = None) -> float | None:
    """Read (value None) or store one count in the cache file (a plain JSON object; a damaged file is ignored)."""
    import json

    path = _cache_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    if value is None:
        v = data.get(key)
        return float(v) if isinstance(v, (int, float)) else None
    data[key] = value
    try:
        from lwbench.report.write import atomic_write

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(data, indent=0))
    except OSError:
        pass
    return value


def count(name: str, width: float | None, resolution: int | None, batch: int = 1, threads: int = 1,
          timeout_s: float = 300.0) -> float:
    """Faults per forward of a network in a fresh process (as `bench` runs it: a fresh worker per network);
    counts are cached per network, setting, machine and lwbench version ($LWBENCH_CACHE/faults.json)."""
    key = _cache_key(name, width, resolution, batch, threads)
    hit = _cached(key)
    return hit if hit is not None else _cached(key, _count(name, width, resolution, batch, threads, timeout_s))


def _count(name: str, width, resolution, batch: int, threads: int, timeout_s: float) -> float:
    import os
    import subprocess

    from lwbench.errors import InputError

    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    args = [sys.executable, "-m", "lwbench.predict.faults", name, "-" if width is None else str(width),
            "-" if resolution is None else str(resolution), str(batch), str(threads)]
    try:
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise InputError(f"predict --faults {name}: the counting forward took over {timeout_s:.0f} s") from None
    if p.returncode != 0:
        tail = [ln for ln in p.stderr.splitlines() if ln.strip()]
        raise InputError(f"predict --faults {name}: counting failed: {tail[-1] if tail else p.returncode}")
    return float(p.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    import torch

    from lwbench.build import build, example_input
    from lwbench.measure.heap import keep_heap
    from lwbench.measure.timer import set_threads
    from lwbench.spec import load

    name, width, res, batch, threads = argv
    keep_heap()           # as `bench`'s torch worker does before it builds the model: the faults it would take
    set_threads(int(threads))
    net = load(name, None if width == "-" else float(width), None if res == "-" else int(res))
    model = build(net).eval()
    with torch.inference_mode():
        print(faults_per_call(model, example_input(net, int(batch))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
