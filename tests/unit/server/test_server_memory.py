"""A page server gives big freed blocks back to the system (glibc's mmap threshold, fixed at start)."""

import subprocess
import sys
import textwrap

from cvlab.syllabus import REPO_ROOT

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import psutil
    from cvlab.server.memory import return_big_blocks_to_the_system

    if sys.argv[1] == "fixed":
        assert return_big_blocks_to_the_system() and return_big_blocks_to_the_system()  # once, then the same answer
    rss = lambda: psutil.Process().memory_info().rss / 2**20
    big = np.ones(16 * 2**20, np.uint8)  # freed, it raises glibc's threshold to its size (up to 32 MiB)
    del big
    before = rss()
    blocks, kept = [], []
    for i in range(300):  # 300 MB of activation-sized blocks, each with a small object made after it that stays
        blocks.append(np.ones(2**20 + 4096 * i, np.uint8))
        kept.append(bytearray(50_000))
    del blocks
    print(round(rss() - before))
""")


def held_after_free(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_freed_activation_sized_blocks_go_back_to_the_system():
    assert held_after_free("default") > 200  # glibc alone keeps them on its heap
    assert held_after_free("fixed") < 30
