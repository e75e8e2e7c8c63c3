"""Length-bucketed batching by total (padded) frames, with sortagrad and DDP sharding.

A *global batch* is what one optimizer step sees across all ranks. It is built so
that ``max_length * count <= batch_frames * world_size``, then split round-robin
over ranks (each rank gets about ``batch_frames`` padded frames). Losses are
normalised by the global batch size, so N ranks compute exactly the gradient that
one process computes on the whole global batch.

Batches are re-drawn every epoch: items of equal length are ordered at random before the
buckets are cut, so equal-length data (fixed-length clips, images, bptt pieces) does not keep the
same batch companions, or batches of one class when the data dir is sorted by label, for the whole
run. The batches of an epoch and their order are a pure function of (seed, epoch), so a resumed
run only needs the epoch and the position inside it.
"""

from __future__ import annotations

import random


def bucket_batches(lengths: list[int], batch_frames: int, max_batch_size: int = 10**9,
                   min_batch_size: int = 1, tie_seed: int | None = None) -> list[list[int]]:
    """Group indices sorted by length into batches whose padded size fits ``batch_frames``.

    A single item longer than ``batch_frames`` still forms its own batch. Batches
    smaller than ``min_batch_size`` (only possible at the end) are merged into
    their neighbour. Items of equal length keep their index order, or with ``tie_seed``
    a random order drawn from it (the batch sizes do not depend on it).
    """
    n = len(lengths)
    if tie_seed is None:
        order = sorted(range(n), key=lambda i: (lengths[i], i))
    else:
        ties = list(range(n))
        random.Random(tie_seed).shuffle(ties)
        order = sorted(range(n), key=lambda i: (lengths[i], ties[i]))
    batches: list[list[int]] = []
    cur: list[int] = []
    cur_max = 0
    for i in order:
        length = lengths[i]
        new_max = max(cur_max, length)
        if cur and (new_max * (len(cur) + 1) > batch_frames or len(cur) >= max_batch_size):
            batches.append(cur)
            cur, new_max = [], length
        cur.append(i)
        cur_max = new_max
    if cur:
        batches.append(cur)
    while len(batches) > 1 and len(batches[-1]) < min_batch_size:
        last = batches.pop()
        batches[-1].extend(last)
    # Early batches hold the shortest items; make sure they too can be split over ranks.
    merged: list[list[int]] = []
    for b in batches:
        if merged and len(merged[-1]) < min_batch_size:
            merged[-1].extend(b)
        else:
            merged.append(b)
    return merged


class BucketSampler:
    """Deterministic per-epoch batch order over bucketed batches.

    ``epoch_batches(epoch)`` returns this rank's share of every global batch of the
    epoch: ascending length for epoch 0 with sortagrad, else shuffled with
    ``Random(seed, epoch)``.
    """

    def __init__(self, lengths: list[int], batch_frames: int, max_batch_size: int = 10**9,
                 seed: int = 1, sortagrad: bool = False, shuffle: bool = True,
                 world_size: int = 1, rank: int = 0):
        self.world_size = world_size
        self.rank = rank
        self.seed = seed
        self.sortagrad = sortagrad
        self.shuffle = shuffle
        self.lengths = list(lengths)
        self._args = (batch_frames * world_size, max_batch_size * world_size, world_size)
        self.global_batches = bucket_batches(self.lengths, *self._args)
        self._cached: tuple[int | None, list[list[int]]] = (None, [])

    def __len__(self) -> int:
        return len(self.global_batches)

    def epoch_global_batches(self, epoch: int) -> list[list[int]]:
        """The global batches of ``epoch`` in their order: without ``shuffle`` the fixed index-order
        buckets; else buckets re-cut with ties in length drawn at random, in random order (ascending
        length in epoch 0 with sortagrad)."""
        if not self.shuffle:
            return list(self.global_batches)
        if self._cached[0] != epoch:
            seed = self.seed * 100003 + epoch
            batches = bucket_batches(self.lengths, *self._args, tie_seed=seed)
            if not (self.sortagrad and epoch == 0):
                random.Random(seed).shuffle(batches)
            self._cached = (epoch, batches)
        return [list(b) for b in self._cached[1]]

    def shard(self, batch: list[int]) -> list[int]:
        """This rank's part of a global batch (round-robin keeps lengths balanced)."""
        return batch[self.rank :: self.world_size]
