"""A remote target over SSH: a per-run directory on the target, the runner shipped into it, models shipped by
content hash, one fresh runner process per row, the directory removed at the end.

Steps (each has its own timeout, and each failure names the target and the step):
  connect  unpack the runner bundle (a tar on stdin) into a new `lwbench-*` directory made by the target's
           own tempfile.mkdtemp; this first ssh call also opens the ControlMaster connection
  info     the target's machine block and runtimes (runner `info`)
  copy     a model file, unpacked into models/ under its sha256 name (sent once per run)
  measure  one row: `python lwbench_run.py measure` with the JSON job on stdin
  calibrate  many calibration probes in one runner process, a record line each as it goes (stream_step;
           lwbench.predict.remotecal); their models copied in a few tars (ship_many) and removed after (drop)
  cleanup  remove the run directory (also after errors); stop the master connection

A lost link, a missing runtime, a crash of the runner: a result document with `error` ("TARGET: STEP: why"),
`error_kind` ("transport", "runtime", "run", "config", "oom", "timeout") and `step`; the sweep goes on. After a
lost link the next row reconnects and checks that the run directory is still there.
"""

from __future__ import annotations

import base64
import json
import re
import time

from lwbench.errors import LwbenchError
from lwbench.measure.protocol import Job, Result
from lwbench.targets.base import Target
from lwbench.targets.bundle import bundle, digest, tar_bytes
from lwbench.targets.export import Exported, Exports, check_output
from lwbench.targets.runner import MARK, MIN_PYTHON
from lwbench.targets.ssh import SshSpec, SshTransport, TransportError, parse_spec

# Fixed code run by the target's interpreter (`python -c`): unpack a tar from stdin into sys.argv[1], or into a
# new lwbench-* directory. Only plain files with relative names are written. Sent base64-encoded so the remote
# command line is one shell-neutral word whatever the login shell.
_UNPACK = r'''
import json, os, sys, tarfile, tempfile
d = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="lwbench-")
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
    for m in t:
        n = os.path.normpath(m.name)
        if not m.isfile() or n.startswith(("/", "..")) or os.path.isabs(n):
            continue
        p = os.path.join(d, n)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(t.extractfile(m).read())
print("@@lwbench@@" + json.dumps({"dir": d, "python": list(sys.version_info[:3])}))
'''
_CLEANUP = r'''
import json, os, shutil, sys
d = sys.argv[1]
ok = os.path.basename(d).startswith("lwbench-") and os.path.isfile(os.path.join(d, "lwbench_run.py"))
if ok:
    shutil.rmtree(d, ignore_errors=True)
print("@@lwbench@@" + json.dumps({"removed": ok and not os.path.exists(d)}))
'''
_PROBE = r'''
import json, os, sys
d = sys.argv[1]
m = os.path.join(d, "models")
print("@@lwbench@@" + json.dumps({"ok": os.path.isfile(os.path.join(d, "lwbench_run.py")),
                                  "models": sorted(os.listdir(m)) if os.path.isdir(m) else []}))
'''
_DROP = r'''
import json, os, re, sys
d = sys.argv[1]
gone = 0
for rel in json.loads(sys.stdin.read() or "[]"):
    if re.fullmatch(r"models/[0-9a-f]{64}\.[a-z0-9]{1,8}", str(rel)) and os.path.isfile(os.path.join(d, rel)):
        os.remove(os.path.join(d, rel))
        gone += 1
print("@@lwbench@@" + json.dumps({"removed": gone}))
'''
_RUNDIR = re.compile(r"^/[A-Za-z0-9._/+-]*/lwbench-[A-Za-z0-9_]+$")
TIMEOUTS = {"connect": 60.0, "info": 180.0, "probe": 30.0, "cleanup": 60.0}


def _code(src: str) -> str:
    return f"import base64;exec(base64.b64decode('{base64.b64encode(src.encode()).decode()}'))"


def parse_doc(out: str) -> dict | None:
    """The runner's `@@lwbench@@{json}` line from stdout (the last one), else None."""
    for line in reversed(out.splitlines()):
        if line.startswith(MARK):
            try:
                doc = json.loads(line[len(MARK):])
            except json.JSONDecodeError:
                return None
            return doc if isinstance(doc, dict) else None
    return None


def _step_failure(target: str, step: str, rc: int, err: str, python: str) -> str:
    """One line for a remote command that ran but produced no document."""
    tail = [ln.strip() for ln in err.strip().splitlines() if ln.strip()]
    if rc == 127:
        return (f"{target}: {step}: the target has no interpreter {python!r} (not found on its PATH); install "
                "python3 there or give ?python=/path/to/python")
    if rc == 126:
        return f"{target}: {step}: {python!r} is not executable on the target"
    last = tail[-1][:300] if tail else "no output"
    if rc < 0 or rc in (137, 139, 134):
        return f"{target}: {step}: the runner crashed (exit {rc}, killed or out of memory?): {last}"
    return f"{target}: {step}: the runner exited with code {rc}: {last}"


class SshTarget(Target):
    """One SSH target for a run (lwbench.targets.Target): `run(job, timeout_s)` -> Result, `machine()` -> the
    target's machine block, `close()` removes the run directory. `run_doc(job_dict, ...)` is the same without
    the Job/Result types (documents in, documents out)."""

    def __init__(self, spec: str | SshSpec, ssh_config: str | None = None):
        self.spec = spec if isinstance(spec, SshSpec) else parse_spec(spec)
        self.name = self.spec.text
        self.transport = SshTransport(self.spec, ssh_config)
        self.rundir: str | None = None
        self._models: set[str] = set()
        self._machine: dict | None = None
        self._suspect = False
        self._dead: str | None = None
        self._connect_failures = 0
        self.exports = Exports()

    # --- steps ---------------------------------------------------------------------------------------

    def _call(self, args: list[str], step: str, timeout_s: float, stdin: bytes | None = None,
              hold_stdin: bool = False) -> dict:
        rc, out, err = self.transport.run(args, step, timeout_s, stdin, hold_stdin)
        doc = parse_doc(out)
        if doc is None:
            raise StepError(_step_failure(self.name, step, rc, err, self.spec.python), "run", step)
        return doc

    def connect(self) -> str:
        """The run directory (created on the first call, checked again after a lost link)."""
        if self.rundir and self._suspect:
            doc = self._call(["-c", _code(_PROBE), self.rundir], "probe", TIMEOUTS["probe"])
            self._suspect = False
            if doc.get("ok"):
                self._models = {m.split(".")[0] for m in doc.get("models", [])}
            else:
                self.rundir, self._models = None, set()
        if self.rundir is None:
            doc = self._call(["-c", _code(_UNPACK)], "connect", TIMEOUTS["connect"], bundle())
            d = str(doc.get("dir", ""))
            version = tuple(doc.get("python") or ())
            if version and version < MIN_PYTHON:
                self.rundir = d if _RUNDIR.match(d) else None      # still removed at close()
                raise StepError(f"{self.name}: connect: the target's {self.spec.python} is Python "
                                f"{'.'.join(map(str, version))}; lwbench's runner needs "
                                f"{'.'.join(map(str, MIN_PYTHON))} or newer (give ?python=/path/to/python3)",
                                "config", "connect")
            if not _RUNDIR.match(d):
                raise StepError(f"{self.name}: connect: the target made an unexpected run directory {d!r}", "run",
                                "connect")
            self.rundir = d
        return self.rundir

    def info(self) -> dict:
        """`info`: {"machine": block, "runtimes": {...}} (raises TransportError / StepError)."""
        d = self.connect()
        doc = self._call([f"{d}/lwbench_run.py", "info"], "info", TIMEOUTS["info"])
        if "error" in doc:
            raise StepError(f"{self.name}: info: {doc['error']}", doc.get("error_kind", "run"), "info")
        self._machine = doc["machine"]
        self._machine["target"] = self.name
        return doc

    def machine(self) -> dict:
        if self._machine is None:
            self.info()
        return self._machine

    def ship(self, data: bytes, suffix: str) -> str:
        """Send a model file once (by content); returns its path relative to the run directory."""
        d = self.connect()
        key = digest(data)
        rel = f"models/{key}{suffix}"
        if key not in self._models:
            timeout = 60.0 + len(data) / 1e6   # >= 1 MB/s
            self._call(["-c", _code(_UNPACK), d], "copy", timeout, tar_bytes({rel: data}))
            self._models.add(key)
        return rel

    def ship_many(self, files: list[tuple[bytes, str]], chunk_bytes: int = 32 << 20, progress=None) -> list[str]:
        """Send many files (data, suffix) in a few tar copies of at most ~`chunk_bytes` each (one ssh call per
        copy, not per file), each once by content; returns their paths relative to the run directory."""
        d = self.connect()
        rels, todo, size = [], {}, 0
        for data, suffix in files:
            key = digest(data)
            rel = f"models/{key}{suffix}"
            rels.append(rel)
            if key in self._models or rel in todo:
                continue
            todo[rel] = data
        chunks: list[dict[str, bytes]] = [{}]
        for rel, data in todo.items():
            if chunks[-1] and size + len(data) > chunk_bytes:
                chunks.append({})
                size = 0
            chunks[-1][rel] = data
            size += len(data)
        for i, chunk in enumerate(c for c in chunks if c):
            if progress:
                progress(f"copy {i + 1}/{len(chunks)}: {len(chunk)} files, {sum(map(len, chunk.values())) / 1e6:.1f} MB")
            timeout = 60.0 + sum(map(len, chunk.values())) / 1e6   # >= 1 MB/s
            self._call(["-c", _code(_UNPACK), d], "copy", timeout, tar_bytes(chunk))
            self._models.update(r.split("/", 1)[1].split(".")[0] for r in chunk)
        return rels

    def drop(self, rels: list[str]) -> int:
        """Remove shipped model files (paths ship/ship_many returned) from the run directory; how many went."""
        if not rels or self.rundir is None:
            return 0
        d = self.connect()
        doc = self._call(["-c", _code(_DROP), d], "cleanup", TIMEOUTS["cleanup"], json.dumps(list(rels)).encode())
        self._models.difference_update(r.split("/", 1)[1].split(".")[0] for r in rels)
        return int(doc.get("removed") or 0)

    def stream_step(self, step: str, job: dict, timeout_s: float, on_record) -> dict:
        """A runner step (`calibrate`) that writes a record line per item as it goes: each goes to
        `on_record(dict)` at once; returns its final document (raises TransportError, StepError)."""
        from lwbench.targets.calrunner import RECORD

        d = self.connect()
        line = json.dumps({**job, "deadline_s": int(timeout_s) + 5}).encode() + b"\n"

        def one(text: str) -> None:
            try:
                rec = json.loads(text)
            except json.JSONDecodeError:
                return
            if isinstance(rec, dict):
                on_record(rec)

        rc, out, err = self.transport.stream([f"{d}/lwbench_run.py", step], step, timeout_s, line, one, RECORD)
        doc = parse_doc(out)
        if doc is None:
            raise StepError(_step_failure(self.name, step, rc, err, self.spec.python), "run", step)
        return doc

    def measure(self, job: dict, timeout_s: float) -> dict:
        """One runner process; the job is one JSON line on its stdin, which stays open while it runs."""
        d = self.connect()
        line = json.dumps({**job, "deadline_s": int(timeout_s) + 5}).encode() + b"\n"
        return self._call([f"{d}/lwbench_run.py", "measure"], "measure", timeout_s, line, hold_stdin=True)

    def run_job(self, job: dict, ex: Exported, timeout_s: float) -> dict:
        """One row: ship the model (and its check input) when new, measure; never raises. Adds "machine" (the
        target's block) and "target" to the document; an error names the target and the step."""
        t0 = time.perf_counter()
        if self._dead:
            return {"error": f"{self._dead} (not retried in this run)", "error_kind": "transport",
                    "step": "connect", "target": self.name, "remote_wall_s": 0.0}
        try:
            rel = self.ship(ex.data, ex.suffix)
            if ex.check_input is not None:
                job = {**job, "check_input": self.ship(ex.check_input, ".f32"), "check_shape": ex.check_shape}
            doc = self.measure({**job, "model": rel}, timeout_s)
            if "error" in doc and not str(doc["error"]).startswith(self.name):
                doc["error"] = f"{self.name}: {doc.get('step', 'measure')}: {doc['error']}"
            self._connect_failures = 0
            if "error" not in doc and doc.get("machine"):
                doc["machine"]["target"] = self.name
                self._machine = doc["machine"]
        except TransportError as e:
            self._suspect = True
            kind = "timeout" if "no answer within" in e.why else "transport"
            doc = {"error": str(e), "error_kind": kind, "step": e.step}
            self._connect_failures = self._connect_failures + 1 if e.step == "connect" else 0
            if e.step == "connect" and (self._connect_failures >= 2 or any(
                    w in e.why for w in ("host key", "authentication", "does not resolve"))):
                self._dead = str(e)       # unreachable for this run: its other rows fail at once, saying why
        except StepError as e:
            doc = {"error": str(e), "error_kind": e.kind, "step": e.step}
            if e.step == "connect":       # no interpreter, too old a Python: the same for every row
                self._dead = str(e)
        doc["target"] = self.name
        doc["remote_wall_s"] = time.perf_counter() - t0
        return doc

    def run(self, job: Job, timeout_s: float) -> Result:
        """One sweep row: the Job timed on the target (never raises; the error names the target and step)."""
        return Result.from_dict(self.run_doc(job.to_dict(), timeout_s), job=job)

    def run_doc(self, job: dict, timeout_s: float, profile: bool = False) -> dict:
        """One row of a sweep from a job document (net, width, resolution, batch, runtime, mode, dtype, layout,
        device, threads, cores, timer, options, profile): export on the host (cached), ship, measure on the
        target. Never raises: a row that cannot run is a document with "error" naming the target and step."""
        from lwbench.targets.export import check_remote

        runtime, batch = job.get("runtime", "torch"), int(job.get("batch", 1))
        try:
            check_remote(runtime, job.get("mode", "script"), job.get("device", "cpu"))
            ex = self.exports.get(job["net"], job.get("width"), job.get("resolution"), batch, runtime,
                                  job.get("dtype", "float32"), self.int8_rule(job))
        except LwbenchError as e:
            return {"error": f"{self.name}: export: {e}", "error_kind": "config", "step": "export",
                    "target": self.name}
        cores = job.get("cores")
        wire = {"runtime": runtime, "input_shape": [batch, *ex.net.input_shape], "mode": job.get("mode", "script"),
                "dtype": job.get("dtype", "float32"), "layout": job.get("layout", "nchw"),
                "threads": job.get("threads"), "cores": cores if isinstance(cores, str | None) else list(cores),
                "timer": dict(job.get("timer") or {}), "options": dict(job.get("options") or {}),
                "profile": profile}
        doc = self.run_job(wire, ex, timeout_s)
        check_output(doc, ex, wire["dtype"], self.name)
        if ex.quantization is not None:
            doc["quantization"] = ex.quantization
        return doc

    def int8_rule(self, job: dict) -> tuple[bool, str] | None:
        """The target CPU's reduce_range rule for an int8 ONNX row (lwbench.onnx.quant.rule_for), else None."""
        if job.get("runtime") != "onnxruntime" or job.get("dtype") != "int8":
            return None
        from lwbench.onnx.quant import rule_for

        return rule_for(self.machine())

    def close(self) -> None:
        """Remove the run directory (best effort: an unreachable target keeps it until its /tmp is cleaned) and
        stop the master connection."""
        try:
            if self.rundir:
                self._call(["-c", _code(_CLEANUP), self.rundir], "cleanup", TIMEOUTS["cleanup"])
        except (TransportError, StepError):
            pass
        finally:
            self.rundir = None
            self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class StepError(LwbenchError):
    """A remote step that ran but failed (no interpreter, runner crash, bad answer)."""

    def __init__(self, msg: str, kind: str, step: str):
        self.kind, self.step = kind, step
        super().__init__(msg)


def remote_placement(cores: str | None, threads: str | None, remote: list[str]) -> tuple[list[int] | None,
                                                                                       list | None]:
    """(cores, threads) of the jobs on remote targets, which this machine's topology says nothing about: no
    --cores (or `big`) -> None, the target pins to its own big cores on big.LITTLE; a core list -> that list on
    the target; no --threads -> [None], the target's default (the physical cores of that set)."""
    from lwbench.errors import InputError
    from lwbench.measure.cpus import parse_cpu_list

    if not remote:
        return None, None
    spec = (cores or "big").strip().lower()
    if spec in ("all", "little"):
        raise InputError(f"--cores {spec}: with a remote target ({remote[0]}) give its core numbers (e.g. --cores "
                         "0-3; `lwbench target check` lists its clusters), or leave --cores out for its big cores")
    try:
        core_list = None if spec == "big" else parse_cpu_list(spec)
    except ValueError:
        raise InputError(f"--cores: expected big, little, all or a list like 4-7 or 0,2, got {cores}") from None
    return core_list, (None if threads is not None else [None])

