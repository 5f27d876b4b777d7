"""Exponential moving average of a module's weights (parameters averaged, buffers copied).

Example:
    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> ema = EMA(net, decay=0.9)
    >>> with torch.no_grad():
    ...     _ = net.weight.add_(1.0)
    >>> ema.update(net, step=1)
    >>> bool(torch.allclose(ema.module.weight, net.weight - 0.9, atol=1e-6))
    True
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``module``'s averaged copy: ``avg = decay * avg + (1 - decay) * current`` after each update.

    Args:
        module: the live module (unwrapped: not DDP/Fabric-wrapped).
        decay: averaging decay in [0, 1).
        start: before this step, :meth:`update` copies the weights instead of averaging.

    The copy lives on the module's device, in eval mode, without gradients.
    """

    def __init__(self, module: nn.Module, decay: float, start: int = 0) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.start = start
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        """Average ``module``'s current parameters into the copy (``step`` is the iteration just finished)."""
        decay = 0.0 if step < self.start else self.decay
        for avg, cur in zip(self.module.parameters(), module.parameters(), strict=True):
            avg.lerp_(cur.detach().to(avg.dtype), 1.0 - decay)
        for avg, cur in zip(self.module.buffers(), module.buffers(), strict=True):
            avg.copy_(cur)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
