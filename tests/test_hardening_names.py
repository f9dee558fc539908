"""Issue 17, family 5: a file that counts also builds and runs, for every layer name the loader accepts.

The corpus is every Python keyword and builtin, every attribute the installed torch gives a module or an fx
GraphModule, and a few names generated code might trip on. For each, a network using it as a top-level
layer, a nested layer, a branch name and a repeated layer either is refused at load with one line (exit 2),
or counts, builds with torch, runs a forward pass, and names its modules exactly as the counted rows."""

from __future__ import annotations

import builtins
import keyword
import re

import pytest

from lwbench.cli import main
from lwbench.spec.names import TORCH_ATTRS

torch = pytest.importorskip("torch")

NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")


def corpus() -> list[str]:
    from torch import fx, nn

    gm = fx.GraphModule(nn.Module(), fx.Graph())
    names = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins)) | set(dir(gm)) | set(dir(nn.Module()))
    names |= set(dir(nn.Conv2d(1, 1, 1)))  # a leaf's own attributes (weight, bias, ...) as container names
    names |= {"x", "self", "input", "torch", "fx", "getattr", "operator", "0", "1a", "a1", "_", "__", "yes", "no",
              "on", "off", "null", "true", "inf", "nan", "root", "graph_module", "call_module", "output", "placeholder"}
    return sorted(n for n in names if NAME_RE.match(n))


CORPUS = corpus()


def net_text(name: str) -> str:
    return ("name: t\ninput: {channels: 3, resolution: 8}\nlayers:\n"
            f"  - {{name: '{name}', op: conv2d, out: 4, kernel: 1}}\n"
            f"  - name: blk\n    layers: [{{name: '{name}', op: relu}}]\n"
            f"  - name: par\n    parallel: {{'{name}': [{{op: relu}}], other: []}}\n    merge: add\n"
            f"  - name: rep\n    layers: [{{name: '{name}', op: relu, repeat: 2}}]\n")


def test_every_accepted_name_builds_and_runs(tmp_path, capsys):
    import lwbench
    from lwbench.errors import ConfigError

    accepted, refused = [], []
    for name in CORPUS:
        path = tmp_path / "n.yaml"
        path.write_text(net_text(name))
        try:
            net = lwbench.load(str(path))
        except ConfigError as e:
            assert ".name" in str(e) or ".parallel." in str(e), (name, str(e))
            refused.append(name)
            continue
        accepted.append(name)
        model = lwbench.build(net)
        out = model(torch.randn(2, 3, 8, 8))
        assert tuple(out.shape) == (2, 4, 8, 8), name
        leaves = {n for n, m in model.named_modules() if not m._modules}
        assert {n.name for n in net.nodes} <= leaves, (name, sorted({n.name for n in net.nodes} - leaves))
    # both kinds really occur: ordinary words are kept, keywords and torch's own attributes are refused
    for must_build in ("x", "self", "torch", "getattr", "weight", "bias", "0", "1a", "a1", "print"):
        assert must_build in accepted, must_build
    for must_refuse in ("class", "lambda", "None", "True", "False", "forward", "training", "to", "_", "__init__",
                        "input"):
        assert must_refuse in refused, must_refuse


@pytest.mark.parametrize("name", ["class", "lambda", "None", "True", "forward", "_private"])
def test_refused_names_are_one_line_exit_2(tmp_path, capsys, name):
    path = tmp_path / "n.yaml"
    path.write_text(net_text(name))
    assert main(["profile", str(path), "-f", "csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layers[0].name" in err and name in err, err


@pytest.mark.parametrize("value", ["yes", "no", "true", "null", "~", "1.5", "[a]"])
def test_name_that_yaml_reads_as_another_type(tmp_path, capsys, value):
    """`name: yes` is a boolean to YAML: refused with a hint to quote it, not turned into a module 'True'."""
    path = tmp_path / "n.yaml"
    path.write_text(f"name: t\ninput: {{channels: 3, resolution: 8}}\nlayers:\n  - {{name: {value}, op: relu}}\n")
    assert main(["profile", str(path), "-f", "csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layers[0].name" in err, err


def test_static_torch_attribute_list_covers_the_installed_torch():
    """The loader cannot import torch, so it keeps the list; this ties the list to the torch that runs."""
    from torch import fx, nn

    gm = fx.GraphModule(nn.Module(), fx.Graph())
    live = {n for n in set(dir(gm)) | set(dir(nn.Module())) if NAME_RE.match(n) and not n.startswith("_")}
    assert live <= TORCH_ATTRS, sorted(live - TORCH_ATTRS)


def test_a_layer_cannot_also_be_a_container(tmp_path, capsys):
    """`a` a conv, then `a.weight` nested under it: torch cannot hold both (the conv has a weight)."""
    path = tmp_path / "n.yaml"
    path.write_text("name: t\ninput: {channels: 3, resolution: 8}\nlayers:\n"
                    "  - {name: a, op: conv2d, out: 4, kernel: 1}\n  - {name: a, layers: [{name: weight, op: relu}]}\n")
    assert main(["profile", str(path), "-f", "csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nests inside layer 'a'" in err, err
    path.write_text("name: t\ninput: {channels: 3, resolution: 8}\nlayers:\n"
                    "  - {name: a, layers: [{name: b, op: relu}]}\n  - {name: a, op: relu}\n")
    assert main(["profile", str(path), "-f", "csv"]) == 2
    assert "nests other layers" in capsys.readouterr().err


def test_time_and_verify_run_on_an_accepted_unusual_name(tmp_path):
    """The issue's path: a name that counted failed in --time / verify with a SyntaxError from fx."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "n.yaml"
    path.write_text(net_text("self").replace("'self'", "print"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for cmd in (["verify", str(path)], ["profile", str(path), "--time", "--min-time", "0.01", "-f", "csv"]):
        p = subprocess.run([sys.executable, "-m", "lwbench", *cmd], capture_output=True, text=True, env=env,
                           timeout=120)
        assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
