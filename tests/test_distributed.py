"""The same batch on Dask's distributed scheduler: a LocalCluster of two worker processes."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tests.conftest import SAMPLES
from tests.test_batch import results, write_transcript
from trainer.batch.runner import OTHER_BUILD, find_inputs, score_batch, score_one, worker_options
from trainer.cli import main
from trainer.pipeline import PipelineOptions

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


def outputs(out: Path) -> dict[str, bytes]:
    """Every result file of an output folder (each input's JSON and summary.csv), as bytes."""
    return {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}


def test_every_execution_path_gives_the_same_bytes(tmp_path, cluster, monkeypatch):
    """Plain, two worker processes and a Dask cluster: byte-identical result files for real recordings.

    A mono recording (diarization) and a stereo one (a voice per channel) go through Whisper,
    the speaker stages, the trained coder and the seeded metric ranges. The plain path runs
    Whisper and torch on more threads than either other path: a result that depended on
    threads, or on a seed that differs between processes, would differ between the paths.
    The batch is started from another directory than the cluster's workers run in, with
    relative paths, as a user on one machine starts it while the workers run elsewhere.
    """
    names = ("backchannel_mono", "weak_stereo")
    (tmp_path / "in").mkdir()
    for name in names:
        shutil.copy(SAMPLES / f"{name}.opus", tmp_path / "in" / f"{name}.opus")
    monkeypatch.chdir(tmp_path)
    inputs = [Path(f"in/{name}.opus") for name in names]
    default = PipelineOptions()
    threads = max(worker_options(default, 2).transcribe.cpu_threads, default.transcribe.cpu_threads) + 1
    before = torch.get_num_threads()
    # Set here: the Dask cluster's nannies run in this process and may have lowered it to their workers' 1.
    torch.set_num_threads(threads)
    try:
        plain_options = replace(default, transcribe=replace(default.transcribe, cpu_threads=threads))
        score_batch(inputs, Path("plain"), plain_options)
    finally:
        torch.set_num_threads(before)
    score_batch(inputs, Path("workers"), default, workers=2)
    result = CliRunner().invoke(main, ["score", "in", "--out", "dask", "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output

    plain = outputs(tmp_path / "plain")
    assert set(plain) == {*(f"{name}.json" for name in names), "summary.csv"}
    for name in names:
        document = json.loads(plain[f"{name}.json"])
        assert document["source"] == f"in/{name}.opus"
        assert document["metrics"]["intervals"], name  # the seeded draws are part of what is compared
    for path in ("workers", "dask"):
        other = outputs(tmp_path / path)
        assert set(other) == set(plain), path
        for file, content in plain.items():
            assert other[file] == content, f"{path}/{file} differs from plain/{file}"


def test_a_worker_of_another_build_refuses(tmp_path, transcript_csv):
    outcome = score_one(transcript_csv, tmp_path / "session.json", PipelineOptions(), settings="0" * 64)
    assert outcome.content is None and OTHER_BUILD in outcome.row["error"]
    assert not (tmp_path / "session.json").exists()
