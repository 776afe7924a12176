"""Score a batch on a Dask cluster: one task per input, models loaded once per worker.

Dask's `distributed` scheduler queues the tasks, retries those whose worker died and
balances the load; this module only connects to it, has every worker load the
models as it joins (a worker plugin) and hands the batch a standard Executor.
Workers must have this package installed and see the inputs and the output folder
at the same paths as the machine that starts the batch (a shared file system).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

from distributed import Client, Worker, WorkerPlugin

from trainer.batch.runner import warm_up
from trainer.errors import SchedulerError
from trainer.pipeline import PipelineOptions

CONNECT_TIMEOUT_S = 20  # how long to wait for the scheduler before giving up
PLUGIN_NAME = "trainer-models"


class LoadModels(WorkerPlugin):
    """Load the pipeline's models on each worker as it starts, once, before any task."""

    def __init__(self, options: PipelineOptions, audio: bool = True) -> None:
        self.options = options
        self.audio = audio

    def setup(self, worker: Worker) -> None:
        """Called by Dask on every worker, including workers that join later."""
        warm_up(self.options, self.audio)


@contextmanager
def dask_executor(address: str, options: PipelineOptions, audio: bool = True) -> Iterator[Executor]:
    """Connect to a Dask scheduler and yield an Executor that runs on its workers.

    Raises:
        SchedulerError: the scheduler cannot be reached.
    """
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as e:
        raise SchedulerError(f"cannot reach the Dask scheduler at {address} ({e.__class__.__name__})") from e
    with client:
        client.register_plugin(LoadModels(options, audio), name=PLUGIN_NAME)
        yield client.get_executor()
