"""Which lwbench layers each node ORT actually runs computes: the optimised graph mapped onto the graph it was given.

G0 is the model handed to ONNX Runtime (emitted by `lwbench.onnx.emit`, possibly quantized to QDQ), where every
node belongs to one layer (`emit.layer_of`) or is a QuantizeLinear/DequantizeLinear the quantizer added.
G1 is the graph ORT runs after its optimisations (saved with `optimized_model_filepath` at the same level).
ORT keeps the names of the tensors that survive optimisation, so a G1 node covers exactly the G0 nodes that
lie between the tensors it produces and the tensors other G1 nodes produce:

- anchors: the node's outputs that are G0 tensors (NCHWc convolutions write a new tensor and are named
  `<G0 tensor>_nchwc` by ORT's NCHWc transformer: that tensor is the anchor);
- cover: walk G0 backwards from the anchors' producers, stopping at tensors that some G1 node produces (or
  graph inputs and initializers): every G0 node walked is computed inside this G1 node. A FusedConv that
  absorbed Conv, BatchNormalization and Relu thus covers the three layers; a QLinearConv covers its
  DequantizeLinear inputs, the Conv and the QuantizeLinear of its output.

ORT-inserted nodes (ReorderInput/ReorderOutput layout conversions, Memcpy between devices) cover nothing and
are their own kind; a node that covers nothing and is none of those is "unattributed" (reported, never
dropped). Nodes whose covers overlap are merged into one group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lwbench.onnx.emit import layer_of

LAYOUT_OPS = {"ReorderInput": "layout", "ReorderOutput": "layout", "MemcpyFromHost": "transfer",
              "MemcpyToHost": "transfer"}
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


@dataclass
class GNode:
    name: str
    op: str
    domain: str
    inputs: list[str]
    outputs: list[str]


@dataclass
class Graph:
    nodes: list[GNode]
    inputs: set[str]
    initializers: set[str]
    producer: dict[str, GNode] = field(default_factory=dict)

    def __post_init__(self):
        self.producer = {t: n for n in self.nodes for t in n.outputs if t}


def read_graph(path_or_proto) -> Graph:
    import onnx

    proto = path_or_proto if isinstance(path_or_proto, onnx.ModelProto) else \
        onnx.load(str(path_or_proto), load_external_data=False)
    g = proto.graph
    nodes = [GNode(n.name, n.op_type, n.domain, list(n.input), list(n.output)) for n in g.node]
    inits = {i.name for i in g.initializer}
    return Graph(nodes, {i.name for i in g.input} - inits, inits)


@dataclass
class NodeMap:
    """One G1 node: kind is 'layers', 'quant' (only Q/DQ nodes), 'layout', 'transfer' or 'unattributed'."""

    name: str
    op: str
    kind: str
    layers: list[str]
    covers: list[str]


def _anchors(n: GNode, g0: Graph, g0_names: dict[str, GNode]) -> list[str]:
    """The G0 tensors node `n` produces: its outputs that G0 has; else the tensor its NCHWc name is made from;
    else (a fusion inside an NCHWc region writes new tensors, e.g. `L/mul_1/QuickGeluFusion/`) the outputs of
    the G0 node whose name is the longest prefix of `n`'s name."""
    out = [t for t in n.outputs if t in g0.producer]
    if not out and n.name.endswith("_nchwc") and n.name[:-len("_nchwc")] in g0.producer:
        out = [n.name[:-len("_nchwc")]]
    if not out and n.op not in QDQ_OPS:
        cands = [m for name, m in g0_names.items() if n.name == name or n.name.startswith(name + "/")
                 or n.name.startswith(name + "_")]
        if cands:
            out = [t for t in max(cands, key=lambda m: len(m.name)).outputs if t]
    return out


def _cover(anchors: list[str], g0: Graph, live: set[str]) -> list[GNode]:
    seen: dict[str, GNode] = {}
    stack = [g0.producer[t] for t in anchors]
    while stack:
        n = stack.pop()
        if n.name in seen:
            continue
        seen[n.name] = n
        for t in n.inputs:
            if t and t in g0.producer and t not in live:
                stack.append(g0.producer[t])
    return list(seen.values())


def _kind(n: GNode, covered: list[NodeMap], lays: list[str]) -> str:
    if lays:
        return "layers"
    if n.op in QDQ_OPS or (covered and all(m.kind == "quant" for m in covered)):
        return "quant"
    if not covered and n.op == "Transpose":
        return "layout"     # ORT's layout transformer (NHWC kernels, e.g. int8 QLinearConv) inserts these
    return "unattributed"


def map_nodes(g0: Graph, g1: Graph, base: dict[str, NodeMap], layers: list[str]) -> dict[str, NodeMap]:
    """{G1 node name: NodeMap}, given `base`, the NodeMap of every G0 node (`emitted_map` for the emitted graph);
    `layers` are the network's layer names in order."""
    g0_names = {m.name: m for m in g0.nodes}
    anchors = {n.name: ([] if n.op in LAYOUT_OPS else _anchors(n, g0, g0_names)) for n in g1.nodes}
    live = {t for a in anchors.values() for t in a} | g0.inputs | g0.initializers
    order = {lay: i for i, lay in enumerate(layers)}
    out: dict[str, NodeMap] = {}
    for n in g1.nodes:
        if n.op in LAYOUT_OPS:
            out[n.name] = NodeMap(n.name, n.op, LAYOUT_OPS[n.op], [], [])
            continue
        covered = [base[m.name] for m in _cover(anchors[n.name], g0, live - set(anchors[n.name]))]
        lays = sorted({lay for m in covered for lay in m.layers}, key=order.get)
        out[n.name] = NodeMap(n.name, n.op, _kind(n, covered, lays), lays, sorted(m.name for m in covered))
    return out


def emitted_map(g0: Graph, layers: list[str]) -> dict[str, NodeMap]:
    """The emitted graph's own map: node `L` or `L/<op>_<k>` computes layer `L`."""
    layer_set = set(layers)
    out = {}
    for n in g0.nodes:
        lay = layer_of(n.name)
        out[n.name] = NodeMap(n.name, n.op, "layers" if lay in layer_set else "unattributed",
                              [lay] if lay in layer_set else [], [n.name])
    return out


def map_chain(graphs: list[Graph], layers: list[str]) -> dict[str, NodeMap]:
    """Map the last graph of a chain (emitted -> pre-processed -> quantized -> ORT-optimised) onto the layers,
    one step at a time: each graph's nodes onto the previous graph's nodes."""
    m = emitted_map(graphs[0], layers)
    for a, b in zip(graphs, graphs[1:]):
        m = map_nodes(a, b, m, layers)
    return m


def groups(mapping: dict[str, NodeMap], layers: list[str]) -> list[list[str]]:
    """Layer groups: layers computed by one node, merged where nodes share a layer (union-find), in net order."""
    parent = {lay: lay for lay in layers}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m in mapping.values():
        for lay in m.layers[1:]:
            parent[find(lay)] = find(m.layers[0])
    out: dict[str, list[str]] = {}
    for lay in layers:
        out.setdefault(find(lay), []).append(lay)
    return list(out.values())
