"""Small torch modules for the ops torch has no module for, so that every IR node is a named module."""

from __future__ import annotations

import torch
from torch import nn


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Mul(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b


class Concat(nn.Module):
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
