"""Issue 17, family 10: the torch-side counter's loose ends, against hand formulas on small modules.

- sin, cos, cumsum, bitwise_not (edgenext's positional encoding) have rules: element-wise, each reads its
  inputs and writes its output, 0 multiply-adds;
- fused attention (`_scaled_dot_product_flash_attention_for_cpu` on a real CPU run) has a rule, and a real
  run and a meta run agree on the hand formula B·H·L·S·(E + Ev);
- what has no rule is listed in the JSON export (`unsupported`) and in the table's note column;
- kind names are one vocabulary: a functional batch norm is `batchnorm`, a Conv2d subclass (timm's
  Conv2dSame) is `conv2d` and its multiply-adds are under conv2d.
"""

from __future__ import annotations

import json

import pytest

from lwbench.cli import main

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from lwbench.measure.torchcount import count_module  # noqa: E402


class Trig(nn.Module):
    def forward(self, x):
        y = torch.sin(x) + torch.cos(x)          # sin: n in, n out; cos: n, n; add: 2n, n
        z = torch.cumsum(y, dim=1)               # n, n
        keep = torch.bitwise_not(x > 0)          # gt: n, n; bitwise_not: n, n
        return z * keep                          # mul: 2n, n


@pytest.mark.parametrize("device", ["meta", "real"])
def test_sin_cos_cumsum_bitwise_not_by_hand(device):
    n = 2 * 4 * 8 * 8
    prof = count_module(Trig(), (4, 8, 8), batch=2, device=device)
    assert prof.extra["unsupported"] == {}
    tot = prof.totals
    assert tot["madds"] == 0
    # reads: sin n, cos n, add 2n, cumsum n, gt n, bitwise_not n, mul 2n = 9n; writes: 7n
    assert tot["mac_elems"] == 9 * n + 7 * n


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8, bias=False)

    def forward(self, x):                       # x: (B, L, 8) -> q (B, 2, L, 4), k/v (B, 2, L, 4)
        b, length, _ = x.shape
        q = self.proj(x).view(b, length, 2, 4).transpose(1, 2)
        return F.scaled_dot_product_attention(q, q, q)


@pytest.mark.parametrize("device", ["meta", "real"])
def test_fused_attention_madds_by_hand(device):
    batch, length = 3, 5
    prof = count_module(Attention(), (length, 8), batch=batch, device=device)
    assert prof.extra["unsupported"] == {}, prof.extra["unsupported"]
    proj = batch * length * 8 * 8                               # the linear: every output meets 8 weights
    attn = batch * 2 * length * length * (4 + 4)                # Q K^T and weights x V, per head
    assert prof.totals["madds"] == proj + attn


def test_flash_attention_rule_names_the_cpu_kernel():
    """The aten op a real CPU run dispatches to has the rule (and stays out of the unsupported list)."""
    from lwbench.measure.torchcount.rules import ATTENTION_OPS, MATMUL_OPS

    assert "_scaled_dot_product_flash_attention_for_cpu" in ATTENTION_OPS <= MATMUL_OPS


class Sorts(nn.Module):
    def forward(self, x):
        return torch.sort(x, dim=1).values + 1


MODEL_PY = """
import torch
from torch import nn


class Sorts(nn.Module):
    def forward(self, x):
        return torch.sort(x, dim=1).values + 1


def make():
    return Sorts()
"""


def test_unsupported_ops_in_the_json_export_and_the_table(tmp_path, capsys):
    mod = tmp_path / "model.py"
    mod.write_text(MODEL_PY)
    assert main(["profile", "--module", f"{mod}:make", "--input", "4x8x8", "-f", "json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["unsupported"] == {"sort": 1}, doc.keys()
    assert "no cost rule for aten ops sort×1" in err
    assert main(["profile", "--module", f"{mod}:make", "--input", "4x8x8", "-f", "table"]) == 0
    table = capsys.readouterr().out
    assert "note" in table and "no rule for: sort×1" in table


class Conv2dSame(nn.Conv2d):  # as timm's: a Conv2d with its own forward (padding computed per call)
    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1)), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = Conv2dSame(3, 8, 3, bias=False)
        self.plain = nn.Conv2d(8, 8, 1, bias=False)
        self.register_buffer("mean", torch.zeros(8))
        self.register_buffer("var", torch.ones(8))

    def forward(self, x):
        x = self.plain(self.conv(x))
        return F.batch_norm(x, self.mean, self.var, training=False)  # a functional BN in the container


def test_kind_names_are_one_vocabulary():
    from lwbench.ops import all_ops

    prof = count_module(Mixed(), (3, 8, 8))
    kinds = {r.layer: r.kind for r in prof.layers}
    assert kinds["conv"] == "conv2d" and kinds["plain"] == "conv2d", kinds
    bn = [k for layer, k in kinds.items() if layer.endswith("native_batch_norm") or k.endswith("batch_norm")]
    assert bn and set(bn) == {"batchnorm"}, kinds
    assert "batchnorm" in all_ops() and "conv2d" in all_ops()
    by_kind = prof.by_kind()
    # 8 output channels x 8x8 positions, each 3·3·3 multiply-adds, then the 1x1 conv's 8 per output: both conv2d
    assert by_kind["conv2d"]["madds"] == 8 * 64 * 27 + 8 * 64 * 8, by_kind
    assert "Conv2dSame" not in by_kind and "native_batch_norm" not in by_kind
