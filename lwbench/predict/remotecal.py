"""`lwbench calibrate --runtime onnxruntime --target ssh://...`: the calibration grid timed on a remote target.

Nothing of lwbench is installed on the target (lwbench.targets.remote: the runner bundle, python + onnxruntime +
numpy there). The host does what needs torch and the IR; the target times:

Group by group (the order of a local calibration):

  export   every probe of the group the partial file lacks is built with lively weights and written to ONNX on
           the host (the file a local ORT probe runs); torch's output on the seeded check input is kept here, at
           the positions the target samples (the input: lwbench.onnx.ortcore.check_input, made bit for bit
           alike on the target, so the 2.5 GB of a grid's inputs are not sent)
  copy     the .onnx files in tar copies of ~32 MB (SshTarget.ship_many: one ssh call per copy, not per probe;
           a grid's models are ~1.2 GB, so each group's are removed from the target once it is measured)
  measure  one runner process (`lwbench_run.py calibrate`) per probe group, and one per synthetic network, as a
           local calibration runs one worker per group and per network: each probe checked, timed and
           profiled by lwbench.onnx.ortcore.time_probe (the code that times a local probe), its record written
           back as a line as soon as it is done; the host checks the output sample against torch's
           (ortcore.sampled_check: a wrong graph is an error record, not a time) and appends the record to
           OUTPUT.partial at once, so an interrupted remote calibration resumes where it stopped
  nchwc    ORT's NCHWc rule read from the target's ORT (the graphs it optimises one-convolution models into,
           lwbench.predict.layout.detect_rules), or stored as unknown with the reason
  cleanup  the run directory removed

The fingerprint and machine block are the target's (its `info`: CPU model, cores, onnxruntime version), with
`target` in the settings. torch is refused: a target runs exported TorchScript, not the eager modules a torch
calibration times. Errors (unreachable, no onnxruntime there, a lost link) are one line naming the target and
the step; the partial file keeps what was measured.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from lwbench.errors import InputError, LwbenchError
from lwbench.predict.design import GROUPS, Probe, probe_net

COPY_CHUNK_BYTES = 32 << 20
STEP_MARGIN_S = 120.0        # a runner process may outlive the calibration's budget by this much (its last probe)


def check_remote(target: str, runtime: str, device: str) -> None:
    """One line for what a remote calibration cannot do."""
    if runtime != "onnxruntime":
        raise InputError(f"--target {target} --runtime {runtime}: a torch calibration times eager torch modules, and "
                         "a remote target runs exported TorchScript, not eager torch (lwbench is not installed "
                         "there); calibrate a target with --runtime onnxruntime, or calibrate torch on the target "
                         "itself")
    if device != "cpu":
        raise InputError(f"--target {target} --device {device}: SSH targets time on their CPU only (device cpu)")


class RemoteCalibration:
    """An SSH target opened for one calibration: machine() (its block, with its onnxruntime), measure(...),
    nchwc(ort_opt), close()."""

    def __init__(self, target: str):
        from lwbench.targets.remote import SshTarget

        self.spec = target
        self.target = SshTarget(target)
        self._info: dict | None = None

    # ------------------------------------------------------------------------------------------ machine
    def machine(self) -> dict:
        """The target's machine block, its onnxruntime in `onnxruntime` (as machine_info + lwbench.onnx.session.info
        make it here) and the host's exporter versions in `host`; one line when unreachable or without
        onnxruntime/numpy."""
        from lwbench.onnx.session import info as host_ort
        from lwbench.targets.remote import StepError
        from lwbench.targets.ssh import TransportError

        if self._info is None:
            try:
                self._info = self.target.info()
            except (TransportError, StepError) as e:
                raise InputError(str(e)) from None
        doc = self._info
        for name in ("onnxruntime", "numpy"):
            r = (doc.get("runtimes") or {}).get(name) or {}
            if "version" not in r:
                raise InputError(f"{self.spec}: info: {name} is not installed for the target's "
                                 f"{self.target.spec.python} ({r.get('missing', 'not found')}); "
                                 f"{r.get('how', '')}".rstrip("; "))
        ort = doc["runtimes"]["onnxruntime"]
        machine = dict(doc["machine"])
        machine["onnxruntime"] = {"onnxruntime": ort["version"], "providers_available": ort.get("providers") or []}
        import torch

        from lwbench.measure.machine import command_line, git_commit

        machine.update(command=command_line(), git_commit=git_commit())     # this host's, as a remote profile's
        machine["host"] = {"role": "exports the probes and computes torch's reference outputs",
                           "torch": torch.__version__, "onnx": host_ort().get("onnx")}
        return machine

    def versions(self, machine: dict) -> dict:
        """The fingerprint's runtime_versions: the target's onnxruntime, the host's exporter (onnx)."""
        return {"torch": (machine.get("torch") or {}).get("version"),
                "onnxruntime": (machine.get("onnxruntime") or {}).get("onnxruntime"),
                "onnx": (machine.get("host") or {}).get("onnx")}

    # ------------------------------------------------------------------------------------------ measure
    def measure(self, probes: list[Probe], settings: dict, partial: Path, done: dict, deadline: float,
                progress=None, timers: tuple[dict, dict] | None = None, network_groups=("chain",),
                max_measurements: int = 1500, retry_share: float = 0.85) -> list[str]:
        """Time on the target the probes `done` (the partial file's records) lacks, group by group (export,
        copy, one runner per group / network), appending each record to `partial`; the problems, as
        lwbench.predict.calibrate._measure_groups has them."""
        problems: list[str] = []
        todo = [p for p in probes if p.id not in done]
        if not todo:
            return problems
        say = progress or (lambda _m: None)
        cfg, net_cfg = timers or (settings["timer"], {**settings["timer"], **settings.get("timer_networks", {})})
        with open(partial, "a", encoding="utf-8") as f:
            def keep(rec: dict) -> None:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
                f.flush()

            for group in GROUPS:
                mine = [p for p in todo if p.group == group]
                if not mine or time.time() > deadline:
                    continue
                say(f"{group}: {len(mine)} probes exported here, timed on {self.spec}")
                shipped = self._export_and_ship(mine, settings["batch"], keep)
                ids = list(shipped)
                spare = max(0, max_measurements - len(probes)) * len(mine) // len(probes)
                batches = [[i] for i in ids] if group in network_groups else [ids] if ids else []
                for b, batch in enumerate(batches):
                    if time.time() > deadline:
                        break
                    job = {"probes": [{k: shipped[i][k] for k in ("id", "group", "model", "input_shape")}
                                      for i in batch],
                           "threads": settings["threads"], "options": {"ort_opt": settings.get("ort_opt", "all")},
                           "timer": net_cfg if group in network_groups else cfg, "seed": shipped[batch[0]]["seed"],
                           "layout_ops": _layout_ops(), "retry_share": retry_share,
                           "max_retries": spare if len(batches) == 1 else int(b < spare),
                           "budget_s": max(0.0, deadline - time.time()), "extra": {"heap": "onnxruntime arena"}}
                    err = self._run(job, shipped, keep, max(60.0, deadline - time.time() + STEP_MARGIN_S))
                    if err:
                        problems.append(f"{group}: {err}")
                self._drop([s["model"] for s in shipped.values()])
        return problems

    def _export_and_ship(self, todo: list[Probe], batch: int, keep) -> dict[str, dict]:
        """{probe id: {id, group, model, input_shape, seed, ref_shape, ref_sample}} of every probe exported and
        sent (each tar of ~COPY_CHUNK_BYTES as soon as it is full: the files are never all in memory); torch's
        output is kept only at the positions the target samples. A probe that cannot be exported is an error
        record (kept in the partial file, as a local one would be)."""
        import tempfile

        import torch

        from lwbench.build import build
        from lwbench.onnx.export import export_onnx
        from lwbench.onnx.ortcore import CHECK_SAMPLE, CHECK_SEED, check_input, sample_positions
        from lwbench.onnx.run import lively
        from lwbench.targets.remote import StepError
        from lwbench.targets.ssh import TransportError

        out: dict[str, dict] = {}
        pending: list[tuple[str, bytes]] = []

        def flush() -> None:
            try:
                rels = self.target.ship_many([(b, ".onnx") for _, b in pending], COPY_CHUNK_BYTES * 2)
            except (TransportError, StepError) as e:
                raise InputError(str(e)) from None
            for (pid, _), rel in zip(pending, rels):
                out[pid]["model"] = rel
            pending.clear()

        with tempfile.TemporaryDirectory(prefix="lwbench-rcal-") as cache:
            for p in todo:
                try:
                    net = probe_net(p)
                    model = lively(build(net), net)
                    path = Path(export_onnx(net, batch, model=model, cache=cache))
                    shape = [batch, *net.input_shape]
                    with torch.inference_mode():
                        ref = model.eval()(torch.from_numpy(check_input(shape, CHECK_SEED))).numpy()
                    data = path.read_bytes()
                    path.unlink()
                except Exception as e:  # noqa: BLE001 - one failing probe is recorded, the grid goes on
                    keep({"id": p.id, "group": p.group, "error": f"export: {type(e).__name__}: {e}"[:300]})
                    continue
                out[p.id] = {"id": p.id, "group": p.group, "input_shape": shape, "seed": CHECK_SEED,
                             "ref_shape": list(ref.shape),
                             "ref_sample": ref.reshape(-1)[sample_positions(ref.size, CHECK_SAMPLE)].copy()}
                pending.append((p.id, data))
                if sum(len(b) for _, b in pending) >= COPY_CHUNK_BYTES:
                    flush()
            if pending:
                flush()
        return out

    def _drop(self, rels: list[str]) -> None:
        """Remove a measured group's models from the target (a grid's models are ~1.2 GB: one group's at a time
        are there)."""
        from lwbench.targets.remote import StepError
        from lwbench.targets.ssh import TransportError

        try:
            self.target.drop(rels)
        except (TransportError, StepError) as e:
            raise InputError(str(e)) from None

    def _run(self, job: dict, shipped: dict, keep, timeout_s: float) -> str | None:
        """One runner process over `job`'s probes; every record checked against torch's output and kept as it
        comes. A lost link stops the calibration (one line, the partial file kept); a runner that crashed is a
        problem of its group (the others go on), as a local worker's crash is."""
        from lwbench.onnx.ortcore import sampled_check
        from lwbench.targets.remote import StepError
        from lwbench.targets.ssh import TransportError

        def on_record(rec: dict) -> None:
            s = shipped.get(rec.get("id"))
            if s is None:
                return
            sample = {k: rec.pop(k) for k in ("check_shape", "check_finite", "check_sample_b64") if k in rec}
            if "error" not in rec:
                chk = sampled_check(sample, s["ref_shape"], s["ref_sample"])
                if not chk["valid"]:
                    rec = {"id": rec["id"], "group": rec["group"],
                           "error": f"{self.spec}: measure: onnxruntime's output on the target differs from "
                                    f"torch's ({chk.get('why')}): not a result"}
                else:
                    rec = {**rec, "rel_err": chk["rel_err"], "check_sampled": chk["check_sampled"]}
            keep(rec)

        try:
            doc = self.target.stream_step("calibrate", job, timeout_s, on_record)
        except TransportError as e:
            raise InputError(f"{e} (the partial file keeps every probe timed so far: run again to resume)") from None
        except StepError as e:
            return str(e)
        if doc.get("error"):
            msg = f"{self.spec}: {doc.get('step', 'calibrate')}: {doc['error']}"
            if doc.get("error_kind") == "config":     # no onnxruntime, a bad setting: the same for every group
                raise InputError(msg)
            return msg
        return None

    # ------------------------------------------------------------------------------------------ nchwc
    def nchwc(self, ort_opt: str | None) -> tuple[dict | None, str | None]:
        """(ORT's NCHWc rule on the target, None) at level all; (None, None) below it (no NCHWc region);
        (None, why) when the target's graphs could not be read (the fit then reads every convolution as
        blocked, as for a calibration made before the rule was stored)."""
        if (ort_opt or "all") != "all":
            return None, None
        from lwbench.predict.layout import detect_rules

        try:
            return detect_rules(self._ask), None
        except LwbenchError as e:
            return None, f"not read from the target: {e}"
        except Exception as e:  # noqa: BLE001 - an unreadable graph: stored as unknown, the fit goes on
            return None, f"not read from the target: {type(e).__name__}: {e}"[:300]

    def _ask(self, shapes: list[tuple[int, int, int]]) -> dict:
        """{shape: (blocked, converts its input)} from the graphs the target's ORT optimises rule models into."""
        import base64
        import tempfile

        from lwbench.predict.layout import graph_blocked, rule_model
        from lwbench.targets.remote import StepError
        from lwbench.targets.ssh import TransportError

        with tempfile.TemporaryDirectory(prefix="lwbench-rcal-rule-") as d:
            data = [Path(rule_model(*s, d)).read_bytes() for s in shapes]
            try:
                rels = self.target.ship_many([(b, ".onnx") for b in data])
                doc = self.target.stream_step("graphs", {"models": [{"key": str(i), "model": r}
                                                                    for i, r in enumerate(rels)],
                                                         "options": {"ort_opt": "all"}}, 300.0, lambda _r: None)
            except (TransportError, StepError) as e:
                raise InputError(str(e)) from None
            if doc.get("error"):
                raise InputError(f"{self.spec}: graphs: {doc['error']}")
            out = {}
            for i, s in enumerate(shapes):
                p = Path(d, f"opt-{i}.onnx")
                p.write_bytes(base64.b64decode(doc["graphs"][str(i)]))
                out[s] = graph_blocked(str(p))
        return out

    def close(self) -> None:
        self.target.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _layout_ops() -> list[str]:
    from lwbench.predict.orttime import layout_ops

    return layout_ops()
