"""The torch-side counter's user-code loading (`--module`): sys.path is restored, sibling imports work while the
module loads and its factory runs; warnings are returned to the caller, who says them (the CLI on stderr)."""

from __future__ import annotations

import sys
import textwrap

from lwbench.cli import main

SIBLING = "WIDTH = 8\n"
NET = textwrap.dedent("""\
    import torch.nn as nn
    import helper_sibling_xyz

    def small():
        import helper_sibling_xyz as h          # a lazy sibling import, inside the factory
        return nn.Sequential(nn.Conv2d(3, h.WIDTH, 3, 2, 1), nn.ReLU())

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Linear(4, 4)          # never runs: its parameters are not in the rows
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.conv(x).sort(1).values     # sort: no cost rule

    def odd():
        return Odd()
""")


def test_load_factory_restores_sys_path(tmp_path):
    from lwbench.measure.torchcount import count_module, load_factory

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "helper_sibling_xyz.py").write_text(SIBLING)
    (tmp_path / "pkg" / "net_file.py").write_text(NET)
    before = list(sys.path)
    model = load_factory(f"{tmp_path / 'pkg' / 'net_file.py'}:small")
    assert sys.path == before                                     # nothing left behind
    prof = count_module(model, "3x16x16")
    assert prof.layers[0].madds == 8 * 8 * 8 * 3 * 9            # Hout·Wout·Cout·Cin·k² (8 channels: the sibling's)
    sys.modules.pop("helper_sibling_xyz", None)


def test_warnings_go_through_the_caller(tmp_path, capsys):
    from lwbench.measure.torchcount import load_factory, profile_factory, warnings_of

    (tmp_path / "helper_sibling_xyz.py").write_text(SIBLING)
    path = tmp_path / "net_file.py"
    path.write_text(NET)
    load_factory(f"{path}:odd")
    prof = profile_factory(f"{path}:odd", "3x8x8")
    assert capsys.readouterr().err == ""                         # the library prints nothing
    lines = warnings_of(prof)
    assert len(lines) == 2 and "sort×1" in lines[0] and "unused 20" in lines[1]
    assert main(["profile", "--module", f"{path}:odd", "--input", "3x8x8", "-f", "csv"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"lwbench: warning: {line}" for line in lines]
    sys.modules.pop("helper_sibling_xyz", None)
