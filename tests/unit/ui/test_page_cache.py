"""The pages' dataset cache: bounded in bytes across sessions, one build per key, errors never kept."""

import threading
import time

import numpy as np
import pytest
import torch

from cvlab.data.datasets import LabelledImages
from cvlab.ui.bounded_cache import BytesBoundedCache, weigh

MIB = 2**20


def images(mib: int) -> LabelledImages:
    x = torch.zeros((mib, 1, 1024, 1024), dtype=torch.uint8)
    return LabelledImages("set", ("a",), x[: mib // 2], torch.zeros(mib // 2, dtype=torch.int64), x[mib // 2:],
                          torch.zeros(mib - mib // 2, dtype=torch.int64))


def test_a_dataset_is_weighed_by_its_tensors_and_shared_storage_counts_once():
    data = images(4)
    assert 4 * MIB <= weigh(data) < 4 * MIB + 1024  # train_x and val_x are views of one 4 MiB storage
    assert weigh({"a": np.zeros(MIB, np.uint8), "b": [np.zeros(10, np.float32)]}) == MIB + 40


def test_the_cache_keeps_what_fits_its_byte_budget_least_recently_used_out():
    cache = BytesBoundedCache(lambda: 10 * MIB)
    made = []
    make = lambda n: (lambda: made.append(n) or images(n))  # noqa: E731
    for key in (4, 3, 2):
        cache.get_or_make(key, make(key))
    cache.get_or_make(4, make(4))  # used again: now the most recent
    cache.get_or_make(5, make(5))  # 4 + 2 + 5 > 10: the least recently used (3) goes, then 2
    assert made == [4, 3, 2, 5] and 3 not in cache and 4 in cache and 5 in cache
    assert cache.total <= 10 * MIB
    huge = cache.get_or_make(11, make(11))  # heavier than the whole budget: returned, not kept
    assert weigh(huge) > 10 * MIB and 11 not in cache and 5 in cache


def test_sessions_asking_for_the_same_dataset_at_once_share_one_build():
    cache, calls, barrier = BytesBoundedCache(lambda: 100 * MIB), [], threading.Barrier(6)

    def build():
        calls.append(1)
        time.sleep(0.2)
        return images(2)

    results = []
    threads = [threading.Thread(target=lambda: (barrier.wait(), results.append(cache.get_or_make("k", build))))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_an_error_is_raised_to_every_caller_and_never_kept():
    cache = BytesBoundedCache(lambda: MIB)
    with pytest.raises(ValueError):
        cache.get_or_make("bad", lambda: (_ for _ in ()).throw(ValueError("broken upload")))
    assert "bad" not in cache and cache.get_or_make("bad", lambda: 7) == 7
