"""IR -> torch nn.Module. Imports torch; only commands that run a model import this module.

Every IR node becomes a leaf module registered at its dotted name (containers are plain nn.Modules), and
the forward is generated with torch.fx from the node list, so `named_modules()` names == IR layer names,
the model is scriptable and compilable, and nothing is interpreted per call.
"""

from __future__ import annotations

import operator
import sys
import types
from contextlib import nullcontext as _nullcontext

import torch
from torch import fx, nn

from lwbench.ir import Net, Ref
from lwbench.ops import get_op


def _place(root: nn.Module, name: str, module: nn.Module) -> None:
    *parents, leaf = name.split(".")
    holder = root
    for p in parents:
        child = holder._modules.get(p)
        if child is None:
            child = nn.Module()
            holder.add_module(p, child)
        holder = child
    holder.add_module(leaf, module)


def build(net: Net, seed: int | None = 0, device: str | torch.device | None = None) -> fx.GraphModule:
    """A torch module for `net` in eval mode, weights initialised by torch's defaults (seeded).

    `device="meta"` makes the module without allocating weights (instant, for counting parameters).
    """
    if seed is not None:
        torch.manual_seed(seed)
    root = nn.Module()
    with torch.device(device) if device is not None else _nullcontext():
        for n in net.nodes:
            _place(root, n.name, get_op(n.op).build(n.attrs, n.in_shapes))
    graph = fx.Graph()
    values: dict[Ref, fx.Node] = {Ref("input"): graph.placeholder("x")}
    for i, n in enumerate(net.nodes):
        # the fx value gets a plain name of its own: derived from the layer's name it could shadow `self` or a
        # builtin in the generated forward (the module is still called at its layer name)
        out = graph.create_node("call_module", n.name, tuple(values[r] for r in n.inputs), name=f"n{i}")
        if len(n.out_shapes) == 1:
            values[Ref(n.name)] = out
        else:
            for i in range(len(n.out_shapes)):
                values[Ref(n.name, i)] = graph.call_function(operator.getitem, (out, i))
    graph.output(values[net.output])
    gm = fx.GraphModule(root, graph, class_name=_class_name(net.name))
    return gm.eval()


def _class_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in name)
    return cleaned if cleaned[:1].isalpha() else f"Net_{cleaned}"


def example_input(net: Net, batch: int = 1, dtype=None, device="cpu") -> torch.Tensor:
    return torch.randn(batch, *net.input_shape, dtype=dtype or torch.float32, device=device)


class _CallableModule(types.ModuleType):
    """Importing this module makes the attribute `lwbench.build` this module (Python sets a package's
    attribute to its submodule on first import), which would hide the lazily exported `lwbench.build()`
    function; calling the module calls `build` so `lwbench.build(net)` works however it was reached."""

    def __call__(self, *args, **kwargs):
        return build(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
