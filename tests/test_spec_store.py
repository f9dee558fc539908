"""lwbench.spec.store: a Net compiled once is stored as JSON and given back to a fresh process exactly (node for
node, attribute types included) for every zoo network; the store answers without the YAML parse or the compile;
an edited file, an edited compiler or a broken store file is compiled again; an error is never stored; the store
never makes a load fail, can be turned off, and stays bounded."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from lwbench.errors import ConfigError
from lwbench.ir import Ref
from lwbench.spec import cache, compile_doc, index, read_doc, store
from tests.conftest import record_returns

NET = """
    name: n
    input: {channels: 3, resolution: 32}
    channels: {round: floor}
    params: {sizes: [1, 2], rate: 0.5, flag: true, tag: "x"}
    layers:
      - {name: stem, op: conv2d, out: ch(16), kernel: 3, stride: [1, 2], padding: 1}
      - {op: batchnorm}
      - parallel: [[{op: relu}], [{op: relu6}]]
        split: half
        merge: concat
      - {op: global_avgpool}
      - {op: flatten}
      - {op: linear, out: 10}
"""


@pytest.fixture
def on(monkeypatch, tmp_path):
    """The store on, in a temp folder, with this process's caches empty before and after."""
    monkeypatch.setenv("LWBENCH_NET_STORE", "1")
    monkeypatch.setenv("LWBENCH_CACHE", str(tmp_path / "cache"))
    cache.clear()
    yield tmp_path / "cache" / "nets"
    cache.clear()


def _typed(v):
    """A value with the type of every part spelled out (a tuple and a list, 1 and 1.0, Ref and tuple differ)."""
    if dataclasses.is_dataclass(v):
        return type(v).__name__, [(f.name, _typed(getattr(v, f.name))) for f in dataclasses.fields(v)]
    if isinstance(v, dict):
        return type(v).__name__, [(k, _typed(x)) for k, x in v.items()]
    if isinstance(v, (list, tuple)):
        return type(v).__name__, [_typed(x) for x in v]
    return type(v).__name__, repr(v) if isinstance(v, float) else v     # repr: -0.0 is not 0.0


def _no_compile(monkeypatch):
    """Any YAML parse or compile from here on fails the test."""
    def boom(*a, **k):
        raise AssertionError("compiled, not served by the store")

    for name in ("compile_doc", "read_doc"):
        monkeypatch.setattr(cache, name, boom)


def _write(tmp_path, text=NET, name="n.yaml") -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


def _files(d: Path) -> list[Path]:
    return sorted(d.glob("*.json")) if d.is_dir() else []


def test_every_zoo_network_comes_back_exactly(on, monkeypatch):
    """Stored by one load, read back with every in-process cache empty and the compiler unusable: compile_doc's
    Net, types and all, for every zoo network and widths / resolutions of the mobile families."""
    cases = []
    for name, (file, variant) in sorted(index().items()):
        cases.append((name, file, variant, None, None))
        if name in ("mobilenet_v2", "shufflenet_v2_x1_0", "efficientnet_b0", "mobilenet_v3_large", "mobilenet_v1"):
            scaled = ((0.35, None), (1.3, 161)) if "channels" in read_doc(file) else ()
            cases += [(name, file, variant, w, r) for w, r in (*scaled, (None, 96), (None, 161))]
    want = {}
    for name, file, variant, w, r in cases:
        ref = compile_doc(read_doc(file), file, variant, w, r)
        cache.clear()                                            # as in a fresh process: compiled, not replayed
        assert _typed(cache.load(name, w, r)) == _typed(ref)     # (and stored)
        want[(name, w, r)] = _typed(ref)
    assert len(_files(on)) == len(cases) > 90
    cache.clear()
    _no_compile(monkeypatch)
    for name, _, _, w, r in cases:
        assert _typed(cache.load(name, w, r)) == want[(name, w, r)], (name, w, r)


def test_a_fresh_process_is_served_by_the_store(on, tmp_path, monkeypatch):
    f = _write(tmp_path)
    first = cache.load(f, 0.5, 20)
    assert first.nodes[0].attrs["stride"] == (1, 2) and first.params["sizes"] == [1, 2]
    cache.clear()
    with monkeypatch.context() as m:
        _no_compile(m)
        again = cache.load(f, 0.5, 20)
        assert _typed(again) == _typed(first)
        again.nodes[0].attrs["out"] = 999               # the caller's own copy
        assert cache.load(f, 0.5, 20).nodes[0].attrs["out"] == 8
        monkeypatch.setenv("LWBENCH_NET_STORE", "0")     # the same load without the store compiles
        cache.clear()
        with pytest.raises(AssertionError, match="not served"):
            cache.load(f, 0.5, 20)
    # a fresh Python process, too
    code = (f"import lwbench.spec.cache as c; from lwbench.spec import parse; parse.compile_doc = None; "
            f"c.compile_doc = c.read_doc = None; print(c.load({f!r}, 0.5, 20).nodes[0].out_shape)")
    env = {**os.environ, "LWBENCH_NET_STORE": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "(8, 20, 10)", out.stderr


def test_the_path_asked_for_is_the_nets_file(on, tmp_path, monkeypatch):
    f = _write(tmp_path)
    cache.load(f)
    link = tmp_path / "link.yaml"
    link.symlink_to(f)
    cache.clear()
    _no_compile(monkeypatch)                            # same bytes, same real path: served, under the new path
    assert cache.load(str(link)).file == str(link) and cache.load(f).file == f


def test_an_edited_file_or_compiler_is_compiled_again(on, tmp_path, monkeypatch):
    f = _write(tmp_path)
    assert cache.load(f, 0.5).nodes[0].out_shape == (8, 32, 16)
    Path(f).write_text(textwrap.dedent(NET).replace("ch(16)", "ch(32)"))
    cache.clear()
    assert cache.load(f, 0.5).nodes[0].out_shape == (16, 32, 16)
    assert len(_files(on)) == 2
    compiled = record_returns(monkeypatch, cache, "compile_doc")
    monkeypatch.setattr(store, "_CODE", ["another compiler"])
    cache.clear()
    assert cache.load(f, 0.5).nodes[0].out_shape == (16, 32, 16) and len(compiled) == 1
    assert len(_files(on)) == 3


def test_the_code_identity_follows_the_compilers_files(monkeypatch):
    ident = store.code_identity()
    real = os.stat

    def stat(path, *a, **k):
        st = real(path, *a, **k)
        if str(path).endswith(os.path.join("spec", "parse.py")):         # parse.py edited: a newer mtime
            return SimpleNamespace(st_size=st.st_size, st_mtime_ns=st.st_mtime_ns + 1)
        return st

    monkeypatch.setattr(store, "_CODE", [])
    monkeypatch.setattr(os, "stat", stat)
    assert store.code_identity() != ident


def _store_file(d: Path) -> Path:
    (path,) = _files(d)
    return path


def _rewrite(path: Path, edit):
    """Edit the header of a valid store file and give it a valid checksum again (only the edit is wrong)."""
    data = path.read_bytes()
    cut = data.index(store._SEP)
    body = data[cut + len(store._SEP):-2]
    head = json.loads(data[:cut] + b"}")
    body = edit(head, body)
    head["sha256"] = store.hashlib.sha256(body).hexdigest()
    path.write_bytes(json.dumps(head).encode()[:-1] + store._SEP + body + b"}\n")


def _changed(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1
    return data.replace(old, new)


BROKEN = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:-40]),
    "empty": lambda p: p.write_bytes(b""),
    "not json": lambda p: p.write_bytes(b"\x00\xffnot json" * 10),
    "one digit changed": lambda p: p.write_bytes(_changed(p.read_bytes(), b'"input_shape":[3,32,32]', b'"input_shape":[3,32,33]')),
    "oversized": lambda p: p.write_bytes(p.read_bytes() + b" " * store.MAX_BYTES),
    "a folder": lambda p: (p.unlink(), p.mkdir()),
    "other format": lambda p: _rewrite(p, lambda h, b: (h.update(format=store.FORMAT + 1), b)[1]),
    "other lwbench": lambda p: _rewrite(p, lambda h, b: (h.update(lwbench="0.0.1"), b)[1]),
    "other key": lambda p: _rewrite(p, lambda h, b: (h.update(key="0" * 64), b)[1]),
    "bad structure": lambda p: _rewrite(p, lambda h, b: b.replace(b'"nodes":[', b'"nodes":[[],')),
    "unknown op": lambda p: _rewrite(p, lambda h, b: b.replace(b'"conv2d"', b'"conv3d"')),
    "bad tag": lambda p: _rewrite(p, lambda h, b: b.replace(b'{"list":', b'{"set":')),
}


@pytest.mark.parametrize("how", sorted(BROKEN))
def test_a_broken_store_file_is_ignored_and_rewritten(on, tmp_path, monkeypatch, how):
    f = _write(tmp_path)
    ref = cache.load(f)
    path = _store_file(on)
    BROKEN[how](path)
    cache.clear()
    compiled = record_returns(monkeypatch, cache, "compile_doc")
    assert store.get(path.stem, f) is None
    assert _typed(cache.load(f)) == _typed(ref) and len(compiled) == 1
    if how == "a folder":
        return                                           # os.replace cannot put a file over a folder: not stored
    assert _typed(store.get(path.stem, f)) == _typed(ref)   # rewritten, whole
    assert len(_files(on)) == 1 and not list(on.glob(".*.tmp"))


@pytest.mark.parametrize("where", ["a file above", "nets is a file", "cache is a file"])
def test_an_unwritable_store_never_fails_a_load(monkeypatch, tmp_path, where):
    (tmp_path / "f").write_text("x")
    root = {"a file above": tmp_path / "f" / "deeper", "nets is a file": tmp_path / "c", "cache is a file":
            tmp_path / "f"}[where]
    if where == "nets is a file":
        root.mkdir()
        (root / "nets").write_text("not a folder")
    monkeypatch.setenv("LWBENCH_NET_STORE", "1")
    monkeypatch.setenv("LWBENCH_CACHE", str(root))
    cache.clear()
    f = _write(tmp_path)
    ref = compile_doc(read_doc(f), f)
    for _ in range(2):
        cache.clear()
        assert _typed(cache.load(f)) == _typed(ref)
    assert (tmp_path / "f").read_text() == "x"


def test_no_home_or_no_code_identity_is_no_store(on, tmp_path, monkeypatch):
    """No cache folder can be named (no home directory, no $LWBENCH_CACHE), or lwbench's own module files cannot
    be stat'ed: loads work as without the store, and nothing is written."""
    f = _write(tmp_path)
    ref = compile_doc(read_doc(f), f)

    def no_home():
        raise RuntimeError("Could not determine home directory")

    monkeypatch.delenv("LWBENCH_CACHE")
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    for _ in range(2):
        cache.clear()
        assert _typed(cache.load(f)) == _typed(ref)
    monkeypatch.setenv("LWBENCH_CACHE", str(on.parent))
    monkeypatch.setattr(store, "_CODE", [])

    def unreadable(path, *a, **k):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "listdir", unreadable)
    cache.clear()
    assert _typed(cache.load(f)) == _typed(ref) and store.key(f, "ab", None, None, None) is None
    monkeypatch.undo()
    assert _files(on) == []


def test_a_read_only_store_is_read(on, tmp_path, monkeypatch):
    """A store folder that cannot be written (a shared, read-only cache) still serves what it holds."""
    f = _write(tmp_path)
    ref = cache.load(f)
    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    for name in ("replace", "utime", "makedirs"):
        monkeypatch.setattr(os, name, denied)
    cache.clear()
    _no_compile(monkeypatch)
    assert _typed(cache.load(f)) == _typed(ref)


@pytest.mark.parametrize("text, key", [
    (NET.replace("kernel: 3,", "kernel: 3, kernal: 3,"), "layers[0].kernal"),   # a bad key: the compile's error
    (NET.replace("layers:", "layers: [", 1), ""),                               # bad YAML: the parser's error
    (NET.replace("out: ch(16)", "out: ch(16) / 0"), "layers[0].out"),
])
def test_an_error_is_never_stored(on, tmp_path, text, key):
    f = _write(tmp_path, text)
    with pytest.raises(ConfigError) as want:
        compile_doc(read_doc(f), f)
    for _ in range(3):
        cache.clear()
        with pytest.raises(ConfigError) as got:
            cache.load(f)
        assert str(got.value) == str(want.value) and got.value.key == key
    assert _files(on) == []


def test_only_what_compiles_is_stored(on, tmp_path):
    """A width the file refuses is not stored; the file's own network is."""
    f = _write(tmp_path, NET.replace("    channels: {round: floor}\n", "").replace("ch(16)", "16"))
    cache.load(f)
    for _ in range(2):
        cache.clear()
        with pytest.raises(ConfigError, match="channel rule"):
            cache.load(f, 0.5)
    assert len(_files(on)) == 1


def test_the_off_switch(on, tmp_path, monkeypatch):
    f = _write(tmp_path)
    for off in ("0", "off", "False", "no"):
        monkeypatch.setenv("LWBENCH_NET_STORE", off)
        cache.clear()
        cache.load(f)
        assert _files(on) == [] and store.key(f, "ab", None, None, None) is None
    monkeypatch.setenv("LWBENCH_NET_STORE", "1")
    cache.clear()
    cache.load(f)
    assert len(_files(on)) == 1
    monkeypatch.setenv("LWBENCH_NET_STORE", "0")            # and a stored Net is not read
    cache.clear()
    compiled = record_returns(monkeypatch, cache, "compile_doc")
    cache.load(f)
    assert len(compiled) == 1


def test_in_process_first_and_replays_after_a_store_hit(on, tmp_path, monkeypatch):
    """A store hit leaves the in-process trace to the next compile: another resolution is then compiled once
    (and stored), and further resolutions are replays of it (not stored, and not looked up)."""
    f = _write(tmp_path)
    doc = read_doc(f)
    cache.load(f, 0.5, 40)
    cache.clear()
    assert _typed(cache.load(f, 0.5, 40)) == _typed(compile_doc(doc, f, None, 0.5, 40))     # a store hit
    assert _typed(cache.load(f, 0.5, 24)) == _typed(compile_doc(doc, f, None, 0.5, 24))     # compiled, traced
    assert len(_files(on)) == 2
    monkeypatch.setattr(store, "fetch", lambda *a: pytest.fail("the store was asked"))
    for res in (40, 17, 64, 96, 24):
        assert _typed(cache.load(f, 0.5, res)) == _typed(compile_doc(doc, f, None, 0.5, res))
    assert len(_files(on)) == 2


def test_a_store_hit_is_remembered_in_process(on, tmp_path, monkeypatch):
    """The next load of what the store gave is a copy in this process: no file read, no compile, and a change
    the caller makes to one Net reaches no other."""
    f = _write(tmp_path)
    ref = cache.load(f, 0.5)
    cache.clear()
    first = cache.load(f, 0.5)                               # the store hit
    _no_compile(monkeypatch)
    monkeypatch.setattr(store, "fetch", lambda *a: pytest.fail("the store was asked"))
    first.nodes[0].attrs["out"] = 999
    first.nodes[0].out_shapes.append((1, 1, 1))
    for _ in range(3):
        net = cache.load(f, 0.5)
        assert _typed(net) == _typed(ref)
        net.nodes[0].in_shapes.clear()


def test_the_store_is_bounded(on, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "MAX_FILES", 6)
    monkeypatch.setattr(store, "PRUNE_TO", 4)
    f = _write(tmp_path)
    for i, w in enumerate((0.5, 1.0, 1.5, 2.0, 2.5, 3.0)):
        cache.load(f, w)
        os.utime(_newest(on), ns=(i * 10**9, i * 10**9))     # written in this order, a second apart
    assert len(_files(on)) == 6
    cache.clear()
    cache.load(f, 0.5)                                       # a hit: the oldest becomes the most recent
    cache.load(f, 4.0)                                       # the 7th: pruned to 4
    kept = _files(on)
    assert len(kept) == 4
    widths = sorted(store.get(p.stem, f).params["width"] for p in kept)
    assert widths == [0.5, 2.5, 3.0, 4.0]


def _newest(d: Path) -> Path:
    return max(_files(d), key=lambda p: p.stat().st_mtime_ns)


def test_values_the_format_cannot_hold_are_not_stored(on, tmp_path):
    f = _write(tmp_path)
    net = cache.load(f)
    k = store.key(f, "0" * 64, None, None, None)
    net.params["odd"] = {1, 2}                               # a set: JSON has none
    store.put(k, net)
    net.params.pop("odd")
    net.nodes[0].op = "not_builtin"                          # an op kind lwbench does not define
    store.put(k, net)
    assert store.get(k, f) is None and len(_files(on)) == 1
    assert store.decode(store.encode(cache.load(f)), f).output == Ref(net.output.node, 0)


def test_attribute_values_keep_their_types(on, tmp_path):
    """Mappings equal in Python but not in type or order (1, 1.0, True; 0.0, -0.0; key order; tuples of them;
    lists and mappings) each come back as they were, shared table entries or not."""
    f = _write(tmp_path, NET + "      - {op: relu, repeat: 6}\n")
    net = cache.load(f)
    values = [{"a": 1, "b": 2}, {"a": 1.0, "b": 2}, {"a": True, "b": 2}, {"b": 2, "a": 1}, {"a": 0.0, "b": 2},
              {"a": -0.0, "b": 2}, {"a": (1, 2), "b": 2}, {"a": (1, True), "b": 2}, {"a": (1.0, 2), "b": 2},
              {"a": [1, (2, 3)], "b": {"c": [4]}}, {"a": None, "b": "2"}, {"a": float("inf"), "b": 2}]
    for n, v in zip(net.nodes, values):
        n.attrs = v
    assert len(net.nodes) >= len(values)
    back = store.decode(json.loads(json.dumps(store.encode(net))), f)
    assert _typed(back) == _typed(net)
    assert back.nodes[9].attrs["a"] is not net.nodes[9].attrs["a"]


def test_the_store_imports_no_torch():
    code = "import sys, lwbench.spec.store, lwbench.spec.cache; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert out.stdout.strip() == "False", out.stderr
