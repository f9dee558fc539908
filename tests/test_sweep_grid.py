"""The grid file: values and ranges expand exactly; every mistake is one line naming file, line and key, exit 2."""

from __future__ import annotations

import textwrap

import pytest

from lwbench.cli import main
from lwbench.sweep.grid import read_grid
from lwbench.sweep.jobs import expand


def _grid(tmp_path, text: str):
    p = tmp_path / "g.yaml"
    p.write_text(textwrap.dedent(text).lstrip())
    return p


def test_ranges_lists_globs_and_per_network_values(tmp_path):
    g = read_grid(_grid(tmp_path, """
        networks:
          - mobilenet_v2
          - {name: "shufflenet_v2_x*", width: null, resolution: [224]}
        width: {from: 0.25, to: 1.5, step: 0.05}
        resolution: {from: 96, to: 224, step: 32}
        batch: [1, 8]
        timing: false
    """))
    mb = g.networks[0]
    assert len(mb.dims["width"]) == 26 and mb.dims["width"][0] == 0.25 and mb.dims["width"][-1] == 1.5
    assert mb.dims["width"][1] == 0.3                               # no 0.30000000000000004
    assert mb.dims["resolution"] == [96, 128, 160, 192, 224]
    assert [n.label for n in g.networks[1:]] == ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
                                                  "shufflenet_v2_x2_0"]
    assert all(n.dims["width"] == [None] and n.dims["resolution"] == [224] for n in g.networks[1:])
    analytic, timing = expand(g, {})
    assert len(analytic) == 26 * 5 * 2 + 4 * 2 and timing == []
    assert len({j.id for j in analytic}) == len(analytic)


def test_job_ids_follow_the_content_not_the_path(tmp_path):
    net = tmp_path / "n.yaml"
    net.write_text(textwrap.dedent("""
        name: n
        input: {channels: 3, resolution: 16}
        channels: {round: floor}
        layers: [{op: conv2d, out: ch(8), kernel: 3}]
    """))
    g = _grid(tmp_path, "networks: [n.yaml]\nwidth: [0.5, 1.0]\ntiming: false\n")
    ids = [j.id for j in expand(read_grid(g), {})[0]]
    assert ids == [j.id for j in expand(read_grid(g), {})[0]] and len(set(ids)) == 2
    net.write_text(net.read_text().replace("out: ch(8)", "out: ch(16)"))
    assert not set(ids) & {j.id for j in expand(read_grid(g), {})[0]}


BAD = [
    ("networks: [mobilenet_v2]\nwidht: [0.5]\n", 2, "widht: unknown key (did you mean: width?)"),
    ("networks: [mobilenet_v3]\n", 1, "networks[0]: unknown network (did you mean: mobilenet_v2"),
    ("networks:\n  - mobilenet_v2\n  - nope_net\n", 3, "networks[1]: unknown network"),
    ("networks: [mobilenet_v2]\nwidth: {from: 0.5, to: 1.0}\n", 2, "width.step: missing"),
    ("networks: [mobilenet_v2]\nresolution: {from: 224, to: 96, step: 32}\n", 2, "resolution.to: expected at least"),
    ("networks: [mobilenet_v2]\nresolution: {from: 96, to: 224, step: 0.5}\n", 2, "resolution.step: expected an integer"),
    ("networks: [shufflenet_v2_x1_0]\nwidth: [0.5]\n", 2, "width: shufflenet_v2_x1_0 has no channel rule"),
    ("networks:\n  - name: shufflenet_v2_x1_0\n    width: 0.5\n", 3, "networks[0].width: shufflenet_v2_x1_0 has no"),
    ("networks: [mobilenet_v2]\ndtype: [float32, fp16]\n", 2, "dtype[1]: expected one of"),
    ("networks: [mobilenet_v2]\nbatch: [1, 0]\n", 2, "batch[1]: expected an integer above 0"),
    ("networks: [mobilenet_v2]\nbatch: 1\nbatch: 2\n", 3, "batch: duplicate key"),
    ("networks: [mobilenet_v2]\ntimer: {warmup: 1}\n", 2, "timer.warmup: unknown key"),
    ("networks: [mobilenet_v2]\ntimer: {min_time_s: 5, max_time_s: 1}\n", 2, "timer: "),
    ("networks:\n  - {name: mobilenet_v2, module: a:b}\n", 2, "networks[0]: expected exactly one of name, module"),
    ("networks:\n  - {module: nofile.py:make}\n", 2, "networks[0].module: no such Python file"),
    ("networks: [mobilenet_v2\n", 1, "invalid YAML: '[' opened at line 1 is not closed"),
    ("networks: mobilenet_v2\n", 1, "networks: expected a non-empty list"),
    ("width: [0.5]\n", None, "networks: missing"),
    ("networks: [mobilenet_v2]\nretries: 50\n", 2, "retries: at most 10"),
    ("networks: [mobilenet_v2]\nanalytic: false\ntiming: false\n", 3, "nothing to do"),
    ("networks: [mobilenet_v2]\nwidth: {from: 0.001, to: 100, step: 0.001}\n", 2, "width: a range of at most"),
]


@pytest.mark.parametrize("text,line,message", BAD, ids=[b[2][:30] for b in BAD])
def test_grid_errors_are_one_line_with_file_line_key(tmp_path, capsys, text, line, message):
    p = tmp_path / "g.yaml"
    p.write_text(text)
    assert main(["sweep", str(p), "--plan"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    where = f"{p}:{line}: " if line else f"{p}: "
    assert err.startswith(f"lwbench: error: {where}"), err
    assert message in err, err


def test_ray_without_the_extra_is_one_line(tmp_path):
    """Without Ray installed, --ray is one line naming the extra, exit 2 (ray hidden from the import system)."""
    import subprocess
    import sys
    from pathlib import Path

    p = tmp_path / "g.yaml"
    p.write_text("networks: [mobilenet_v2]\n")
    code = ("import sys; sys.modules['ray'] = None\nfrom lwbench.cli import main\n"
            f"sys.exit(main(['sweep', {str(p)!r}, '--ray', 'auto']))")
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                       env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "lwbench: error: --ray needs Ray: install the extra with pip install 'lwbench[ray]'"], r.stderr
