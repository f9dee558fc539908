"""The op registry: complete from the first import (no lazy loading, no cycle), a custom kind registered first
keeps the built-ins, and the torch-side counter's module table is derived from OpDef.module."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = {"conv2d", "linear", "batchnorm", "relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "swish", "tanh",
           "maxpool", "avgpool", "global_avgpool", "adaptive_avgpool", "flatten", "dropout", "identity", "add", "mul",
           "concat", "split", "shuffle"}


def _fresh(code: str) -> str:
    """Run `code` in a fresh interpreter (nothing of lwbench imported yet) and return its stdout."""
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "LWBENCH_NET_STORE": "0"})
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_registering_a_custom_op_first_keeps_the_22_builtins():
    out = _fresh("""
        from lwbench.ops.registry import OPS, OpDef, Cost, register, get_op, all_ops
        register(OpDef(kind="my_gate", attrs={}, infer=lambda a, s: s, cost=lambda a, i, o: Cost(),
                       build=lambda a, i: None, category=lambda a, i, o: "other"))
        print(get_op("relu").kind, get_op("my_gate").kind, len(all_ops()))
    """)
    assert out.split() == ["relu", "my_gate", "23"]


def test_registry_is_complete_on_first_import_and_torch_free():
    out = _fresh("""
        import sys
        from lwbench.ops.registry import OPS
        print(sorted({op.kind for op in OPS.values()}), "torch" in sys.modules)
    """)
    kinds, torch_loaded = out.rsplit(" ", 1)
    assert eval(kinds) == sorted(BUILTIN) and torch_loaded.strip() == "False"     # noqa: S307 - our own output


def test_torchcount_module_table_is_derived_from_the_registry():

    from lwbench.measure.torchcount import KNOWN_MODULES
    from lwbench.ops import all_ops, get_op, module_table

    table = module_table()
    for kind, op in all_ops().items():
        assert op.module, f"{kind}: OpDef.module names the torch class it builds"
        if kind in ("global_avgpool", "adaptive_avgpool"):
            assert "AdaptiveAvgPool2d" not in table          # built by two kinds: names neither
            continue
        cls = op.module.rsplit(".", 1)[-1]
        assert KNOWN_MODULES[cls] == (kind, op.fixed_category), kind
    assert get_op("conv2d").fixed_category is None and get_op("relu").fixed_category == "element-wise"


def test_every_kind_builds_the_class_it_names():
    """Every node of a few zoo networks (all 22 kinds between them) is built as exactly OpDef.module."""
    import importlib

    import lwbench
    from lwbench.ops import get_op

    seen = set()
    for name in ("mobilenet_v3_small", "shufflenet_v2_x1_0", "squeezenet1_0", "alexnet", "efficientnet_b0",
                 "mobilenet_v2", "shufflenet_v1_g3_x1_0", "googlenet", "resnet18"):
        net = lwbench.load(name)
        model = lwbench.build(net)
        for node in net.nodes:
            mod = model.get_submodule(node.name)
            mod_path, _, cls = get_op(node.op).module.rpartition(".")
            assert type(mod) is getattr(importlib.import_module(mod_path), cls), (name, node.name)
            seen.add(get_op(node.op).kind)
    assert len(seen) >= 15, sorted(seen)
