"""The files lwbench ships to a target: a tiny package made of the modules the local path times with.

    lwbench_run.py               bootstrap: puts its directory first on sys.path, runs lwbench.targets.runner
    lwbench/__init__.py          generated: only __version__ (the real one imports the analytic counter)
    lwbench/errors.py, vocab.py  \
    lwbench/measure/__init__.py   |  copied byte for byte from this checkout, so the timer, statistics,
    lwbench/measure/timer.py      |  CPU topology / big.LITTLE / pinning and machine-block code that makes
    lwbench/measure/cpus.py       |  a local row is the code that makes a remote one
    lwbench/measure/machine.py   /
    lwbench/targets/__init__.py  generated: empty
    lwbench/targets/runner.py    the target-side steps (info, measure; calibrate and graphs in calrunner.py)
    lwbench/onnx/ortcore.py      copied: ORT's output check, timing loop and layout_ms of a calibration probe
    lwbench/measure/cleantime.py copied: the clean-call timing and the record of a calibration probe
    lwbench/targets/calrunner.py the target-side steps of `calibrate --target` (calibrate, graphs)
    lwbench/onnx/__init__.py     generated: empty

These modules import only the standard library at module level (tests/test_targets_bundle.py checks it);
the runtime is imported on the target inside the step that uses it. `bundle()` is a tar archive the target's
Python unpacks from stdin (lwbench.targets.remote), so the target needs no scp/sftp, only its interpreter.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent          # .../lwbench
COPIED = ("errors.py", "vocab.py", "measure/__init__.py", "measure/timer.py", "measure/cpus.py", "measure/machine.py",
          "measure/heap.py", "targets/runner.py", "targets/calrunner.py", "onnx/ortcore.py",
          "measure/cleantime.py")
BOOTSTRAP = '''"""lwbench's runner on this target (shipped by `lwbench --target`; removed after the run)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lwbench.targets.calrunner import STEPS  # noqa: E402
from lwbench.targets.runner import main  # noqa: E402

sys.exit(main(sys.argv[1:], HERE, STEPS))
'''


def _version() -> str:
    """lwbench's version, read from its source (version.py, else the package's __init__), without importing the
    package facade."""
    import re

    for rel in ("version.py", "__init__.py"):
        p = PKG / rel
        m = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', p.read_text(encoding="utf-8"), re.M) \
            if p.exists() else None
        if m:
            return m.group(1)
    return "unknown"


def files() -> dict[str, bytes]:
    """{path in the run directory: content} of everything shipped (version.py too, where this lwbench has it)."""
    out = {"lwbench_run.py": BOOTSTRAP.encode(),
           "lwbench/__init__.py": f'"""lwbench runner package (shipped subset)."""\n__version__ = "{_version()}"\n'
                                  .encode(),
           "lwbench/targets/__init__.py": b"", "lwbench/onnx/__init__.py": b""}
    for rel in (*COPIED, *(("version.py",) if (PKG / "version.py").exists() else ())):
        out[f"lwbench/{rel}"] = (PKG / rel).read_bytes()
    return out


def tar_bytes(entries: dict[str, bytes]) -> bytes:
    """An uncompressed tar of `entries` (regular files, mode 0644, no owner), deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            data = entries[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def bundle() -> bytes:
    return tar_bytes(files())


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
