"""`lwbench target check TARGET`: can lwbench time on this target, and what is it?

Connects (OpenSSH, BatchMode, your ssh config and known_hosts; LWBENCH_SSH_CONFIG=FILE for another config),
ships the runner into a temporary directory, prints the target's machine block (CPU model and core parts,
big.LITTLE clusters with their frequencies and governor, memory, OS, Python) and the runtimes it can use
(onnxruntime, torch, their versions), one line per missing piece saying how to get it, and removes the
directory. Exit 0 when at least one runtime is usable; 2 (one line) when the target cannot be reached or has
none. `-f json` gives the whole document, `-f csv|md` one row per runtime under the target's machine block.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lwbench.cli.options import FormatOpt, OutputOpt

target_app = typer.Typer(help="Remote targets: `lwbench target check TARGET`.", no_args_is_help=True)
RUNTIMES = ("onnxruntime", "torch")


def _clusters_line(m: dict) -> list[str]:
    out = []
    for c in m.get("clusters") or []:
        freq = (f"{c['min_mhz']}-{c['max_mhz']} MHz" if c.get("min_mhz") and c.get("max_mhz")
                else f"max {c['max_mhz']} MHz" if c.get("max_mhz") else "frequency not readable")
        role = {True: "big: pinned by default", False: "LITTLE", None: ""}[c.get("big")]
        parts = [f"cpus {c['cpus']}", f"{c['count']}× {c['core'] or 'core'}", freq,
                 f"governor {c['governor']}" if c.get("governor") else "no cpufreq governor", role]
        out.append(", ".join(p for p in parts if p))
    return out


def report_lines(doc: dict, target: str) -> tuple[list[str], list[str]]:
    """(facts, missing): the lines `target check` prints."""
    m, rt = doc["machine"], doc["runtimes"]
    topo = m.get("topology") or {}
    facts = [f"target     {target}",
             f"CPU        {m.get('cpu_model')}  ({m.get('arch')}, {m.get('cores_logical')} logical / "
             f"{m.get('cores_physical')} physical cores{', big.LITTLE' if topo.get('big_little') else ''})"]
    facts += [f"cluster    {line}" for line in _clusters_line(m)]
    if m.get("board"):
        facts.append(f"board      {m['board']}")
    mem = m.get("memory_gib")
    facts += [f"memory     {mem} GiB ({m.get('memory_available_gib')} GiB available)" if mem else
              "memory     not readable",
              f"OS         {m.get('os_release') or m.get('os')} ({m.get('os')})",
              f"Python     {m.get('python')} ({m.get('python_executable')})",
              f"load       {m.get('load_1m'):.2f} (1-minute average)" if m.get("load_1m") is not None else "load  ?"]
    missing = []
    for name in (*RUNTIMES, "numpy"):
        r = rt.get(name, {})
        if "version" in r:
            extra = f" ({', '.join(r['providers'])})" if r.get("providers") else ""
            facts.append(f"runtime    {name} {r['version']}{extra}")
        else:
            missing.append(f"missing    {name}: {r.get('missing', 'not found')}; to get it: {r.get('how', '')}")
    if doc.get("python_too_old"):
        missing.append(f"missing    a newer Python: {doc['python_too_old']}; install python3 >= 3.9 and give "
                       "?python=PATH")
    return facts, missing


def runtime_rows(doc: dict) -> list[dict]:
    """One row per runtime: name, version (or empty), missing (why), how (the install line)."""
    return [{"runtime": n, "version": r.get("version") or "", "missing": r.get("missing", ""),
             "how": r.get("how", "") if "version" not in r else ""}
            for n, r in ((n, doc["runtimes"].get(n, {})) for n in (*RUNTIMES, "numpy"))]


def notes(m: dict) -> list[str]:
    """What makes the target's numbers less stable, one line each (governor, load)."""
    out = []
    govs = {c.get("governor") for c in m.get("clusters") or []} - {None, "performance"}
    if govs:
        out.append(f"note       governor {', '.join(sorted(govs))}: the clock follows the load; for steady numbers "
                   "`echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor`")
    if (m.get("load_1m") or 0) >= 1.0:
        out.append(f"note       1-minute load {m['load_1m']:.2f}: other work runs on the target; its rows will "
                   "say contended")
    return out


@target_app.command("check")
def check(
    target: Annotated[str, typer.Argument(help="ssh://[user@]host[:port][?python=PATH] or an ssh config alias.")],
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Connect, print the target's machine block and usable runtimes, one line per missing piece (-f json: the
    whole document; csv/md: one row per runtime under the target's machine block)."""
    from lwbench.errors import LwbenchError
    from lwbench.report.emit import emit, resolve_format
    from lwbench.targets.remote import SshTarget

    kind = resolve_format(fmt, output)
    if target.strip().lower() == "local":
        raise LwbenchError("target check: `local` is this machine; check a remote target (ssh://host or an alias)")
    t0 = time.perf_counter()
    with SshTarget(target) as t:
        doc = t.info()
        rundir = t.rundir
    doc["connected_s"] = round(time.perf_counter() - t0, 2)
    doc["run_directory"] = rundir
    facts, missing = report_lines(doc, target)
    lines = [*facts, *notes(doc["machine"]), *missing,
             f"checked in {doc['connected_s']} s (runner in {rundir}, removed)"]
    from rich.text import Text

    emit(kind, runtime_rows(doc), output=output, machine=doc["machine"], document=doc, title=f"target {target}",
         table=lambda rows: Text("\n".join(lines)))
    if not any("version" in doc["runtimes"].get(n, {}) for n in RUNTIMES):
        raise LwbenchError(f"{target}: no runtime lwbench can time with (onnxruntime or torch) for "
                           f"{doc['machine'].get('python_executable')}; {doc['runtimes']['onnxruntime'].get('how')}")


def register(app: typer.Typer) -> None:
    app.add_typer(target_app, name="target")
