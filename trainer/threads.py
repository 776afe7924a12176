"""How many threads torch uses for one stretch of work.

`torch.set_num_threads` is process-wide, so every caller that needs a different count
(one thread for small models on a busy 2-core machine, the user's count for Whisper)
puts the previous count back when done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch on `n` threads inside the block, the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
