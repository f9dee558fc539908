"""Shared helpers for tests: compile small in-memory YAML networks."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from sshd_server import ssh_env, sshd  # noqa: F401 - fixtures: a real OpenSSH server on loopback (skips without one)

# The persistent store of compiled networks (lwbench.spec.store) is off for the test run, and for every process
# it starts: no test writes into ~/.cache, and every load compiles as the test expects. tests/test_spec_store.py
# turns it on, into a temp folder, test by test.
os.environ["LWBENCH_NET_STORE"] = "0"

DATA = Path(__file__).parent / "data"
CONFIGS = Path(__file__).resolve().parent.parent / "configs"


class FamilyNets:
    """The variants of some zoo files, loaded by file path (`configs/x.yaml:variant`), so a test of one family
    never depends on another family's file being readable."""

    def __init__(self, files):
        from lwbench.spec.parse import read_doc, variant_names

        self.nets = []
        for fam in files:
            path = CONFIGS / f"{fam}.yaml"
            self.nets += [(str(path), v) for v in variant_names(read_doc(path))]
        self.ids = [v for _, v in self.nets]

    def load(self, name: str, **kw):
        import lwbench

        for path, v in self.nets:
            if v == name:
                return lwbench.load(f"{path}:{v}", **kw)
        raise KeyError(name)


@pytest.fixture
def yaml_net(tmp_path):
    """yaml_net(text) -> (Net, path): writes the YAML text to a temp file and loads it."""
    from lwbench.spec import load

    def make(text: str, name: str = "net.yaml", **kw):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return load(str(path), **kw), path

    return make


def record_returns(mp: pytest.MonkeyPatch, obj, name: str) -> list:
    """Wrap `obj.name` (through the MonkeyPatch `mp`, undone with it) so that every call still runs and its
    return value is appended to the list returned here: e.g. the data a plot function drew."""
    real, seen = getattr(obj, name), []

    def wrapper(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(out)
        return out

    mp.setattr(obj, name, wrapper)
    return seen


# A tiny timed network: conv -> relu -> pool -> linear, 16x16 input (fast to build, count and time).
TINY_NET = """\
name: {name}
input: {{channels: 3, resolution: 16}}
layers:
  - {{name: stem, op: conv2d, out: 8, kernel: 3, stride: 2, bias: false}}
  - {{name: bn, op: batchnorm}}
  - {{name: relu, op: relu}}
  - {{name: pool, op: global_avgpool}}
  - {{name: flatten, op: flatten}}
  - {{name: fc, op: linear, out: 10}}
"""


def tiny_net_file(folder: Path, name: str) -> str:
    """Write TINY_NET named `name` to folder/name.yaml; returns the path."""
    p = Path(folder) / f"{name}.yaml"
    p.write_text(TINY_NET.format(name=name))
    return str(p)


def mutated(doc, path, value):
    """A deep copy of the parsed YAML document `doc` with the value at `path` (keys and indices) replaced."""
    import copy

    out = copy.deepcopy(doc)
    holder = out
    for p in path[:-1]:
        holder = holder[p]
    holder[path[-1]] = value
    return out


# ------------------------------------------------------------------ a synthetic machine for the latency model
# Every layer alone costs one module call + 2 us + madds / 5e7 + mac / 2e6 ms, a forward 4 us more (known answers
# for tests/test_predict_context.py and tests/test_predict_statistic.py; no timing).
SYN_FIXED_MS, SYN_PER_LAYER_MS = 0.004, 0.0015


def synthetic_ms(net, scale: float = 1.0, extra_ms: float = 0.0) -> float:
    """A network's latency on the synthetic machine: each layer `scale` x its time alone + `extra_ms`."""
    from lwbench.count import count
    from lwbench.predict.features import node_key

    total = SYN_FIXED_MS
    for n, r in zip(net.nodes, count(net).layers):
        alone = SYN_PER_LAYER_MS if node_key(n)[0] == "free" else \
            SYN_PER_LAYER_MS + 0.002 + r.madds / 5e7 + r.mac_elems / 2e6
        total += scale * alone + extra_ms
    return total


def synthetic_calibration(probes, records: dict) -> dict:
    """The calibration document fitted on `records` (probe id -> record) of a synthetic 1-thread torch CPU."""
    from lwbench.predict import calfile
    from lwbench.predict.fitcal import build_document

    settings = {"device": "cpu", "threads": 1, "runtime": "torch", "dtype": "float32", "batch": 1,
                "target": "local", "seed": 0, "timer": {}}
    machine = {"cpu_model": "Synthetic CPU", "arch": "x86_64", "cores_logical": 2, "torch": {"version": "2.13.0+cpu"}}
    return build_document(probes, records, settings, calfile.fingerprint(settings, machine), machine, 1.0, [])
