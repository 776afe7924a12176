"""The AnnoMI loader: labels, guards against bad data, and leak-free folds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from trainer.cli import main as trainer_cli
from trainer.errors import InputError
from trainer.schema import Code, Role, Utterance
from trainer.training.annomi import (
    grouped_folds,
    load_annomi,
    looks_swapped,
    parse_timestamp,
    series_key,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:13", 13.0), ("01:02:03", 3723.0), ("00:09:025", None), ("", None), ("n/a", None), ("00:61:00", None)],
)
def test_parse_timestamp(text: str, seconds: float | None) -> None:
    assert parse_timestamp(text) == seconds


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Part 1: A Non-Diet Approach with MI Role Play, Engaging",
            "Part 3: A Non-Diet Approach with MI Role Play, Focusing",
        ),
        (
            "Motivational Techniques - Daryl interviews Ricky - 1",
            "Motivational Techniques - Daryl interviews Ricky - 3",
        ),
        ("ComMIt Asthma Dialogue with MI", "ComMIt Asthma Dialogue without MI"),
        (
            "The Effective Dentist: Motivational Interviewing Demonstration",
            "The Ineffective Dentist: Non-Motivational Approach",
        ),
        (
            "Part One: MI in an Integrated Care Setting (Nurse)",
            "Part Three: MI in an Integrated Care Setting (Social Work)",
        ),
    ],
)
def test_series_key_joins_parts_and_quality_pairs(a: str, b: str) -> None:
    assert series_key(a) == series_key(b)


def test_series_key_keeps_different_videos_apart() -> None:
    assert series_key('NEW VIDEO: Brief intervention: "Barbara"') != series_key('NEW VIDEO: Brief intervention: "Dave"')


def _talk(counsellor: str, client: str, n: int = 4) -> list[Utterance]:
    return [Utterance(Role.COUNSELLOR, counsellor), Utterance(Role.CLIENT, client)] * n


def test_looks_swapped() -> None:
    normal = _talk(
        "What brings you here today? How do you feel about your drinking?", "I think my drinking is fine, I'm ok."
    )
    swapped = _talk(
        "I think my drinking is fine, I'm ok.", "What brings you here today? How do you feel about your drinking?"
    )
    assert not looks_swapped(normal)
    assert looks_swapped(swapped)


def _write_tiny_corpus(folder: Path, swap_second: bool) -> None:
    """Two transcripts in AnnoMI's three-file layout."""
    simple_cols = [
        "transcript_id",
        "mi_quality",
        "video_title",
        "video_url",
        "topic",
        "utterance_id",
        "interlocutor",
        "timestamp",
        "utterance_text",
        "main_therapist_behaviour",
        "client_talk_type",
    ]
    full_cols = [
        "transcript_id",
        "utterance_id",
        "interlocutor",
        "main_therapist_behaviour",
        "therapist_input_subtype",
        "question_exists",
        "question_subtype",
        "reflection_exists",
        "reflection_subtype",
    ]
    rows, full, five = [], [], []
    turns = [
        ("therapist", "00:00:01", "What brings you in today?", "question", "n/a", "open_question", "n/a"),
        ("client", "00:00:05", "My doctor says I drink too much, I want to cut down.", "n/a", "change", None, None),
        (
            "therapist",
            "00:00:0x",
            "You should try to drink less at night.",
            "therapist_input",
            "n/a",
            "other",
            "advice",
        ),
        ("client", "00:00:04", "I don't know, I'm fine really.", "n/a", "sustain", None, None),
    ]
    for tid in (0, 1):
        for uid, (who, ts, text, main, talk, label, subtype) in enumerate(turns):
            if swap_second and tid == 1:
                who = {"therapist": "client", "client": "therapist"}[who]
            rows.append(
                [
                    tid,
                    "high",
                    f"Demo - {tid + 1}",
                    f"https://example.org/{tid}",
                    "alcohol",
                    uid,
                    who,
                    ts,
                    text,
                    main,
                    talk,
                ]
            )
            question = {"question": ("True", "open"), "n/a": ("n/a", "n/a")}.get(main, ("False", "n/a"))
            # Two annotators: the second also hears a complex reflection in the advice.
            full.append([tid, uid, who, main, subtype or "n/a", *question, "False", "n/a"])
            if main == "therapist_input":
                full.append([tid, uid, who, main, subtype or "n/a", *question, "True", "complex"])
            if label:
                five.append([tid, uid, text, label])
    for name, cols, data in (
        ("dev_simple.csv", simple_cols, rows),
        ("dev.csv", full_cols, full),
        ("dev_therapist5.csv", ["transcript_id", "utterance_id", "utterance_text", "label5"], five),
    ):
        with (folder / name).open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(cols)
            writer.writerows(data)


def test_load_tiny_corpus(tmp_path: Path) -> None:
    _write_tiny_corpus(tmp_path, swap_second=False)
    transcripts = load_annomi(tmp_path)
    assert [t.transcript_id for t in transcripts] == [0, 1]
    first = transcripts[0].utterances
    assert [a.code for a in first] == [Code.OPEN_QUESTION, None, Code.OTHER, None]
    assert [a.subcode for a in first] == [None, "change", "advice", "sustain"]
    # Behaviours marked besides the main one: open question, closed, simple, complex reflection.
    assert [a.present for a in first] == [(1.0, 0.0, 0.0, 0.0), None, (0.0, 0.0, 0.0, 0.5), None]
    # The malformed and the out-of-order time are dropped, never guessed.
    assert [a.utterance.start for a in first] == [1.0, 5.0, None, None]
    assert first[0].utterance.end == 5.0
    # "Demo - 1" and "Demo - 2" are parts of one series.
    assert transcripts[0].group == transcripts[1].group


def test_swapped_transcript_is_skipped(tmp_path: Path) -> None:
    _write_tiny_corpus(tmp_path, swap_second=True)
    assert [t.transcript_id for t in load_annomi(tmp_path)] == [0]
    assert len(load_annomi(tmp_path, skip_swapped=False)) == 2


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda d: (d / "dev.csv").unlink(), "dev.csv: not found; the AnnoMI folder holds dev_simple.csv"),
        (
            lambda d: (d / "dev_simple.csv").write_text(
                (d / "dev_simple.csv").read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8"
            ),
            "dev_simple.csv: no utterances",
        ),
        (lambda d: (d / "dev.csv").write_bytes(b"\xff\xfe\x00 not text"), "dev.csv: cannot be read"),
        (
            lambda d: (d / "dev_therapist5.csv").write_text("transcript_id,label5\n0,other\n", encoding="utf-8"),
            "lacks the column 'utterance_id'",
        ),
        (
            lambda d: (d / "dev_therapist5.csv").write_text(
                "transcript_id,utterance_id,utterance_text,label5\n0,0,Hi,shouting\n", encoding="utf-8"
            ),
            "holds a value it cannot have ('shouting' is not a valid Code)",
        ),
        (
            lambda d: (d / "dev_simple.csv").write_text(
                (d / "dev_simple.csv").read_text(encoding="utf-8").replace(",client,", ",Client,"), encoding="utf-8"
            ),
            "holds a value it cannot have ('Client')",
        ),
    ],
)
def test_damaged_corpus_is_named_in_one_line(tmp_path: Path, damage, said: str, monkeypatch) -> None:
    def reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("a command went past a damaged corpus")

    # Nothing may be trained or written over the shipped models if the corpus were read after all.
    for module, name in (
        ("trainer.training.train", "train_coder"),
        ("trainer.training.train", "cross_validate"),
        ("trainer.training.examples_index", "build_index"),
        ("trainer.training.calibration", "calibrate"),
    ):
        monkeypatch.setattr(f"{module}.{name}", reached)
    _write_tiny_corpus(tmp_path, swap_second=False)
    damage(tmp_path)
    with pytest.raises(InputError) as raised:
        load_annomi(tmp_path)
    assert said in str(raised.value) and "\n" not in str(raised.value)
    # Every command that reads the corpus says the same, in one line, without a traceback.
    for command in (["train-coder"], ["evaluate"], ["build-examples"], ["calibrate", str(tmp_path / "dev.csv")]):
        if command[0] == "calibrate" and not (tmp_path / "dev.csv").exists():
            continue
        result = CliRunner().invoke(trainer_cli, [*command, "--data", str(tmp_path)])
        assert result.exit_code == 1 and said in result.output and "Traceback" not in result.output, command


def test_real_corpus_folds_never_split_a_series() -> None:
    transcripts = load_annomi()
    assert len(transcripts) == 80
    assert sum(a.code is not None for t in transcripts for a in t.utterances) == 2914
    folds = grouped_folds(transcripts, n_folds=5, seed=0)
    tested = sorted(i for _, test in folds for i in test)
    assert tested == list(range(len(transcripts)))
    for train, test in folds:
        assert {transcripts[i].group for i in train}.isdisjoint({transcripts[i].group for i in test})
    by_id = {t.transcript_id: t.group for t in transcripts}
    assert by_id[3] == by_id[19] == by_id[40]  # "How to Do MI Role Play - 1/3/5": one video
    assert by_id[78] == by_id[92]  # asthma dialogue with and without MI
    sizes = [sum(len(transcripts[i].utterances) for i in test) for _, test in folds]
    assert max(sizes) - min(sizes) < 0.1 * max(sizes)
