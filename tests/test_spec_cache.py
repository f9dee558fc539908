"""lwbench.spec.cache gives exactly the Net that compile_doc gives (node by node, shapes, names, params), and
exactly lwbench.count's totals, for every zoo network across widths and resolutions; it re-reads a changed
file, and falls back to the full compile where a structure depends on the spatial size."""

from __future__ import annotations

import textwrap

import pytest

import lwbench
from lwbench.errors import ConfigError
from lwbench.spec import cache, compile_doc, index, read_doc


def _same(a, b):
    assert (a.name, a.input_shape, a.params, a.expect, a.output) == (b.name, b.input_shape, b.params, b.expect, b.output)
    assert [(n.name, n.op, n.attrs, n.inputs, [tuple(s) for s in n.in_shapes], [tuple(s) for s in n.out_shapes], n.src)
            for n in a.nodes] == [(n.name, n.op, n.attrs, n.inputs, [tuple(s) for s in n.in_shapes],
                                   [tuple(s) for s in n.out_shapes], n.src) for n in b.nodes]


def test_every_zoo_network_replays_exactly():
    """Widths and resolutions (odd, tiny, large) for each network: the cached load equals the full compile,
    its totals equal lwbench.count's, and an error is the same error."""
    checked, files = 0, set()
    for name, (file, variant) in sorted(index().items()):
        if file in files and not name.startswith(("mobilenet", "shufflenet")):
            continue                      # one variant per file, every variant of the mobile families
        files.add(file)
        doc = read_doc(file)
        for width in ([None, 0.35, 1.3] if "channels" in doc else [None]):
            for res in (None, 33, 128, 225):
                try:
                    ref = compile_doc(doc, file, variant, width, res)
                except ConfigError as e:
                    with pytest.raises(ConfigError) as got:
                        cache.load(name, width, res)
                    assert str(got.value) == str(e)
                    continue
                _same(cache.load(name, width, res), ref)
                model, shape, rows = cache.totals(name, width, res, (1, 3), ("float32", "float16"))
                assert model == ref.name and shape == "x".join(map(str, ref.input_shape))
                for row in rows:
                    want = lwbench.count(ref, row["batch"], row["dtype"]).totals
                    assert {k: row[k] for k in want} == want, (name, width, res)
                checked += 1
    assert checked > 150


def test_load_goes_through_the_cache_and_sees_a_changed_file(tmp_path):
    p = tmp_path / "n.yaml"
    text = """
        name: n
        input: {channels: 3, resolution: 32}
        channels: {round: floor}
        layers:
          - {op: conv2d, out: ch(16), kernel: 3}
    """
    p.write_text(textwrap.dedent(text))
    assert lwbench.load(str(p), 0.5, 20).nodes[0].out_shape == (8, 20, 20)
    p.write_text(textwrap.dedent(text).replace("ch(16)", "ch(32)") + "# longer\n")
    assert lwbench.load(str(p), 0.5, 20).nodes[0].out_shape == (16, 20, 20)


def test_structure_that_depends_on_the_size_is_compiled_in_full(tmp_path):
    """`if: $in_size > 8` and residual: auto around a stride-2 conv (equal shapes only at 1x1) both change
    with the resolution; the replayed Net must still be compile_doc's."""
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent("""
        name: s
        input: {channels: 4, resolution: 32}
        layers:
          - {name: big, op: conv2d, out: 4, kernel: 3, padding: 1, if: "$in_size > 8"}
          - name: body
            residual: auto
            layers:
              - {op: conv2d, out: 4, kernel: 3, stride: 2, padding: 1}
    """))
    doc = read_doc(p)
    for res in (32, 16, 8, 1, 2, 9):
        _same(cache.load(str(p), None, res), compile_doc(doc, str(p), "s", None, res))


def test_the_input_bounds_hold_for_a_replayed_resolution():
    """A resolution whose tensors are over the bounds is refused as the full compile refuses it, even when the
    same network and width were traced at a small resolution first."""
    lwbench.load("mobilenet_v1", 0.5, 64)
    with pytest.raises(ConfigError) as want:
        compile_doc(read_doc(index()["mobilenet_v1"][0]), index()["mobilenet_v1"][0], "mobilenet_v1", 0.5, 400_000)
    with pytest.raises(ConfigError) as got:
        lwbench.load("mobilenet_v1", 0.5, 400_000)
    assert str(got.value) == str(want.value) and "larger than" in str(got.value)
