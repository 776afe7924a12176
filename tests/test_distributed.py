"""The same batch on Dask's distributed scheduler: a LocalCluster of two worker processes."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from tests.test_batch import results, write_transcript
from trainer.batch.runner import find_inputs, score_batch
from trainer.cli import main

distributed = pytest.importorskip("distributed")


def model_loads() -> tuple[int, int]:
    """On a worker: (Whisper models loaded, cache hits) in this process."""
    from trainer.speech.transcribe import load_model

    info = load_model.cache_info()
    return info.misses, info.hits


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as local:
        yield local


def test_batch_on_a_cluster_matches_local_scoring(tmp_path, cluster, stereo_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_transcript(folder / f"session{i}.csv", repeat=i + 1)
    shutil.copy(stereo_path, folder / "stereo.wav")
    (folder / "empty.csv").write_bytes(b"")

    out = tmp_path / "cluster"
    command = ["score", str(folder), "--out", str(out), "--scheduler", cluster.scheduler_address]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output  # empty.csv
    assert "4 of 5 scored" in result.output

    local = tmp_path / "local"
    score_batch(find_inputs([folder]), local)
    assert results(out) == results(local)

    with distributed.Client(cluster.scheduler_address) as client:
        loads = client.run(model_loads)
    assert all(misses == 1 for misses, _ in loads.values()), loads  # each worker loaded Whisper once


def test_unreachable_scheduler_is_one_line(tmp_path, transcript_csv, monkeypatch):
    monkeypatch.setattr("trainer.batch.dask_cluster.CONNECT_TIMEOUT_S", 1)
    result = CliRunner().invoke(
        main, ["score", str(transcript_csv), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
