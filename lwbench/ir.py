"""The graph IR every other part reads: a network parsed once from YAML into named nodes with shapes.

Shapes are per image: (C, H, W) for feature maps, (F,) after flatten. Node names are dotted paths, and
are exactly the `named_modules()` names of the torch module that `lwbench.build` makes from the same Net.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import NamedTuple

Shape = tuple[int, ...]


class Ref(NamedTuple):
    """One tensor: output `index` of node `node` ('input' is the network input). A named tuple (immutable,
    hashed and compared in C): the compiler keys every tensor's shape by its Ref."""

    node: str
    index: int = 0


@dataclass
class Node:
    name: str
    op: str
    attrs: dict
    inputs: list[Ref]
    in_shapes: list[Shape]
    out_shapes: list[Shape]
    src: str = ""  # key path in the YAML file, for errors ("layers[3].layers[1]")

    @property
    def out_shape(self) -> Shape:
        return self.out_shapes[0]

    @property
    def in_shape(self) -> Shape:
        return self.in_shapes[0]


@dataclass
class Net:
    name: str
    nodes: list[Node]
    input_shape: Shape
    output: Ref
    file: str = ""
    family: str = ""
    source: str = ""
    notes: str = ""
    params: dict = field(default_factory=dict)
    expect: dict = field(default_factory=dict)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def output_shape(self) -> Shape:
        if self.output.node == "input":
            return self.input_shape
        return self.node(self.output.node).out_shapes[self.output.index]

    @property
    def resolution(self) -> int:
        return self.input_shape[-1]


def numel(shape: Shape) -> int:
    return prod(shape)


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)
