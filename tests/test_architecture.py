"""The architecture, checked (docs/architecture.md draws it): the import DAG of lwbench/ (no cycles, no import
against the layer order below, lazy imports inside functions included), the size limits (no module over 450
lines, no function over 60), and a fast, torch-free start (`lwbench --help` and the analytic path), measured in
fresh processes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "lwbench"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60

# Layers, lowest first. A module may import its own layer and the layers below it, never a layer above.
# A module belongs to the layer of the longest prefix that names it.
LAYERS = [
    ("foundation", ["lwbench.errors", "lwbench.vocab", "lwbench.ir", "lwbench.version"]),
    ("ops", ["lwbench.ops"]),
    ("spec", ["lwbench.spec"]),
    ("count/build", ["lwbench.count", "lwbench.build"]),
    ("measurement primitives", ["lwbench.measure.timer", "lwbench.measure.cpus", "lwbench.measure.machine",
                                "lwbench.measure.protocol"]),
    ("report", ["lwbench.report"]),
    ("measure, runtimes, targets", ["lwbench.measure", "lwbench.runtimes", "lwbench.targets", "lwbench.verify",
                                    "lwbench.onnx"]),
    ("experiments", ["lwbench.guidelines", "lwbench.sweep", "lwbench.predict"]),
    ("cli and facade", ["lwbench.cli", "lwbench.__main__", "lwbench"]),
]


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = p.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _layer(mod: str) -> int:
    best, rank = "", None
    for i, (_, prefixes) in enumerate(LAYERS):
        for pre in prefixes:
            if (mod == pre or mod.startswith(pre + ".")) and len(pre) > len(best):
                best, rank = pre, i
    assert rank is not None, f"{mod}: in no layer; add it to LAYERS here and to docs/architecture.md"
    return rank


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the lwbench modules it imports (anywhere in the file), resolved to existing modules."""
    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    out: dict[str, set[str]] = {}
    for mod, path in mods.items():
        seen: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("lwbench"):
                names = [f"{node.module}.{a.name}" for a in node.names]
                seen.update(resolve(n if n in mods else node.module) for n in names)
            elif isinstance(node, ast.Import):
                seen.update(resolve(a.name) for a in node.names if a.name.startswith("lwbench"))
        out[mod] = {m for m in seen if m and m != mod}
    return out


def test_imports_follow_the_layer_order():
    mods = _modules()
    against = [f"{m} ({LAYERS[_layer(m)][0]}) imports {t} ({LAYERS[_layer(t)][0]})"
               for m, targets in _imports(mods).items() for t in sorted(targets) if _layer(t) > _layer(m)]
    assert against == [], "\n".join(against)


def test_import_graph_has_no_cycle():
    graph = _imports(_modules())
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(path[path.index(t):] + [t] if t in path else [m, t])
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_the_checks_catch_what_they_should():
    """The layer rule and the cycle search themselves, on a made-up graph: a test that cannot fail is a defect."""
    assert _layer("lwbench.ops.defs") == 1 and _layer("lwbench.measure.timer") == 4
    assert _layer("lwbench.measure.jobs") == 6 and _layer("lwbench.cli.bench") == 8 and _layer("lwbench") == 8
    assert _layer("lwbench.report.emit") > _layer("lwbench.count") > _layer("lwbench.spec.parse")


def _sizes() -> tuple[list[str], list[str]]:
    big_modules, long_functions = [], []
    for path in sorted(PKG.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        n = text.count("\n") + (not text.endswith("\n"))
        rel = path.relative_to(ROOT)
        if n > MAX_MODULE_LINES:
            big_modules.append(f"{rel}: {n} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - min([node.lineno, *(d.lineno for d in node.decorator_list)]) + 1
                if lines > MAX_FUNCTION_LINES:
                    long_functions.append(f"{rel}:{node.lineno} {node.name}: {lines} lines")
    return big_modules, long_functions


def test_no_module_over_450_lines():
    assert _sizes()[0] == []


def test_no_function_over_60_lines():
    assert _sizes()[1] == []


def _fresh(code: str) -> str:
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(ROOT),
                            "LWBENCH_NET_STORE": "0"})         # no ROOT/.cache/lwbench/nets
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


HEAVY = ("torch", "pandas", "fvcore", "matplotlib", "onnx", "onnxruntime", "ray")


def test_help_and_the_analytic_path_import_no_torch(tmp_path):
    """`lwbench --help`, `import lwbench`, and profile/list/schema to CSV run without torch, pandas, fvcore,
    matplotlib, onnx, onnxruntime or ray in sys.modules."""
    out = _fresh(
        "import sys, io, contextlib\n"
        "from lwbench.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    rcs = [main(['--help']), main(['profile', 'mobilenet_v2', '-f', 'csv']),\n"
        "           main(['profile', '--all', '-f', 'json']), main(['list', '-f', 'md']),\n"
        "           main(['schema', '-f', 'json'])]\n"
        f"print(rcs, [m for m in {HEAVY!r} if m in sys.modules], len(buf.getvalue()) > 10000)\n")
    assert out.strip() == "[0, 0, 0, 0, 0] [] True", out
