"""The gradient-noise scratch of the fused kernels: each tensor's draw, exactly as the reference.

:class:`NoiseScratch` holds one reusable buffer of ``capacity`` elements: at least the largest
tensor of the group and at most ``max(largest, min(group, max(2**18, group // 8)))``, so the extra
memory stays well under one copy of the parameters. The runner packs consecutive tensors (with the
same noise std) side by side into it; :meth:`NoiseScratch.draw` fills a batch, each tensor from a
generator seeded by ``(key, step)`` with the reference's ``normal_`` call, so the values are bit
for bit the reference's. The draws of different tensors are independent, so with more than one
torch thread they are spread over that many worker threads (``normal_`` releases the GIL); a
single tensor's draw stays serial, as torch's generator is.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch

from ...transforms.noise import _MIX

__all__ = ["NoiseScratch"]

BATCH = 1 << 18  # elements: below this, small tensors are still packed into one kernel call
PARALLEL_MIN = 1 << 16  # elements in a batch below which the draw stays on the calling thread
_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, workers, pool)


def _workers(n: int) -> ThreadPoolExecutor:
    """A pool of ``n`` draw threads (rebuilt after a fork: threads do not survive it)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid() or _pool[1] != n:
        _pool = (os.getpid(), n, ThreadPoolExecutor(n, thread_name_prefix="ravine-noise"))
    return _pool[2]


class NoiseScratch:
    """A reusable buffer for the gradient noise of one param group's tensors."""

    def __init__(self, params):
        sizes = [p.numel() for p in params]
        total = sum(sizes)
        self.capacity = max(max(sizes), min(total, max(BATCH, total // 8)))
        self.buffer = torch.empty(self.capacity, dtype=params[0].dtype)
        self.shapes = [p.shape for p in params]

    def draw(self, items: list[tuple[int, int, int, int]]) -> None:
        """Fill the buffer: ``items`` holds ``(offset, tensor index, noise key, step)``."""
        threads = torch.get_num_threads()
        total = sum(self.shapes[k].numel() for _, k, _, _ in items)
        if threads < 2 or len(items) < 2 or total < PARALLEL_MIN:
            self._draw(items)
            return
        # largest first, each to the least loaded worker
        parts: list[list] = [[] for _ in range(min(threads, len(items)))]
        loads = [0] * len(parts)
        for item in sorted(items, key=lambda it: -self.shapes[it[1]].numel()):
            i = loads.index(min(loads))
            parts[i].append(item)
            loads[i] += self.shapes[item[1]].numel()
        list(_workers(threads).map(self._draw, parts))  # list(): re-raise a worker's error

    def _draw(self, items) -> None:
        generator = torch.Generator()
        for offset, k, key, t in items:
            shape = self.shapes[k]
            generator.manual_seed((key * _MIX + t) % 2**63)  # as add_gradient_noise seeds
            self.buffer[offset:offset + shape.numel()].view(shape).normal_(generator=generator)
