"""What newsflow's fine-tuning runs share: the learning-rate schedule and the batches.

Training only (PyTorch: the `train` extra), never imported by a service.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def warmup_then_decay(optimiser, warmup_share: float, total_steps: int):
    """A scheduler: the learning rate rises linearly over the first `warmup_share` of the
    steps, then falls linearly to zero at the last."""
    import torch

    warmup = max(1, int(warmup_share * total_steps))
    return torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: (
            (step + 1) / warmup
            if step < warmup
            else max(0.0, (total_steps - step) / max(1, total_steps - warmup))
        ),
    )


def length_batches(
    count: int, length: Callable[[int], int], size: int, rng: random.Random
) -> list[list[int]]:
    """One epoch's batches of the indices 0..count-1: shuffled, then sorted by `length`
    within runs of 32 batches, so a batch holds similar lengths (less padding), and the
    batches themselves in random order."""
    order = list(range(count))
    rng.shuffle(order)
    batches = []
    for first in range(0, count, size * 32):
        run = sorted(order[first : first + size * 32], key=length)
        batches += [run[i : i + size] for i in range(0, len(run), size)]
    rng.shuffle(batches)
    return batches


def update(loss, parameters, optimiser, scheduler) -> float:
    """One optimiser step on `loss` (gradients clipped to norm 1); the loss as a number."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimiser.step()
    scheduler.step()
    optimiser.zero_grad()
    return loss.item()
