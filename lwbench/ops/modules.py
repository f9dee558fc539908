"""Small torch modules for the ops torch has no module for, so that every IR node is a named module."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

MAX_SCRIPTABLE_INPUTS = 8


class Add(nn.Module):
    """Sum of 2..8 branches. Positional optional inputs instead of `*xs`, which TorchScript cannot compile
    (`--mode script`); merges of more branches get `AddMany` (eager and compile only)."""

    def forward(self, x0: torch.Tensor, x1: Optional[torch.Tensor] = None, x2: Optional[torch.Tensor] = None,
                x3: Optional[torch.Tensor] = None, x4: Optional[torch.Tensor] = None,
                x5: Optional[torch.Tensor] = None, x6: Optional[torch.Tensor] = None,
                x7: Optional[torch.Tensor] = None) -> torch.Tensor:
        out = x0
        for x in [x1, x2, x3, x4, x5, x6, x7]:
            if x is not None:
                out = out + x
        return out


class AddMany(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mul(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b


class Concat(nn.Module):
    """Channel concatenation of 1..8 inputs (scriptable, as `Add`); more inputs get `ConcatMany`."""

    def forward(self, x0: torch.Tensor, x1: Optional[torch.Tensor] = None, x2: Optional[torch.Tensor] = None,
                x3: Optional[torch.Tensor] = None, x4: Optional[torch.Tensor] = None,
                x5: Optional[torch.Tensor] = None, x6: Optional[torch.Tensor] = None,
                x7: Optional[torch.Tensor] = None) -> torch.Tensor:
        xs = [x0]
        for x in [x1, x2, x3, x4, x5, x6, x7]:
            if x is not None:
                xs.append(x)
        return torch.cat(xs, dim=1)


class ConcatMany(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class Split(nn.Module):
    def __init__(self, sizes: list[int]):
        super().__init__()
        self.sizes = sizes

    def forward(self, x: torch.Tensor):
        return torch.split(x, self.sizes, dim=1)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}"


class ChannelShuffle(nn.Module):
    """ShuffleNet channel shuffle: (N, g·k, H, W) -> view (N, g, k, H, W) -> transpose -> (N, k·g, H, W)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous()
        return x.view(n, c, h, w)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
