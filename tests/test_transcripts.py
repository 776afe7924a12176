"""Reading transcripts people bring: CSV, plain text and our own JSON."""

from __future__ import annotations

import json

import pytest

from trainer.errors import TranscriptFormatError
from trainer.schema import Code, Role
from trainer.speech.transcript_files import read_transcript


def test_csv_keeps_every_row_in_order_with_times(transcript_csv):
    given = read_transcript(transcript_csv)
    assert [u.speaker for u in given.utterances] == [Role.COUNSELLOR, Role.CLIENT] * 3
    assert given.utterances[2].text == "You're not sure you agree with her."
    assert given.utterances[1].start == 3.5 and given.utterances[1].end == 9.5
    assert given.duration_s == 21.5
    assert given.codes is None


@pytest.mark.parametrize("label", ["counsellor", "COUNSELOR", "Therapist", "t"])
def test_counsellor_aliases(tmp_path, label):
    path = tmp_path / "a.csv"
    path.write_text(f"speaker,text\n{label},Hello there.\nClient,Hi.\n", encoding="utf-8")
    assert read_transcript(path).utterances[0].speaker is Role.COUNSELLOR


def test_csv_without_times_and_with_codes(tmp_path):
    path = tmp_path / "coded.csv"
    path.write_text("speaker,text,code\ncounsellor,How are you?,open_question\nclient,Fine.,\n", encoding="utf-8")
    given = read_transcript(path)
    assert given.utterances[0].start is None
    assert given.codes == (Code.OPEN_QUESTION, None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("who,text\nT,Hi\n", "missing column(s) speaker"),
        ("speaker,text\nnurse,Hi\n", "unknown speaker 'nurse'"),
        ("speaker,text\n", "no utterances"),
        ("", "missing column(s)"),
        ("speaker,text,start\nT,Hi,soon\n", "not a number of seconds"),
    ],
)
def test_malformed_csv_names_file_and_problem(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TranscriptFormatError) as error:
        read_transcript(path)
    assert message in str(error.value) and "bad.csv" in str(error.value)


def test_plain_text_prefixes_and_continuation_lines(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text(
        "Counsellor: What would you like to talk about?\nClient: My smoking.\nIt has got worse.\n\n"
        "Counsellor: It has been getting worse.\n",
        encoding="utf-8",
    )
    utterances = read_transcript(path).utterances
    assert [u.text for u in utterances] == [
        "What would you like to talk about?",
        "My smoking. It has got worse.",
        "It has been getting worse.",
    ]


def test_text_without_prefix_is_rejected(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("hello\n", encoding="utf-8")
    with pytest.raises(TranscriptFormatError, match="Counsellor:"):
        read_transcript(path)


def test_own_json_round_trip(tmp_path):
    doc = {
        "source": "x.wav",
        "duration_s": 30.0,
        "utterances": [
            {"speaker": "counsellor", "start": 0.0, "end": 2.0, "text": "How was it?", "code": "open_question"},
            {"speaker": "client", "start": 2.5, "end": 5.0, "text": "Hard.", "code": None},
        ],
    }
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    given = read_transcript(path)
    assert given.duration_s == 30.0
    assert given.codes == (Code.OPEN_QUESTION, None)
    assert [u.speaker for u in given.utterances] == [Role.COUNSELLOR, Role.CLIENT]


def test_invalid_json_and_binary_text(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(TranscriptFormatError, match="not valid JSON"):
        read_transcript(bad)
    binary = tmp_path / "y.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81speaker")
    with pytest.raises(TranscriptFormatError, match="y.csv"):
        read_transcript(binary)
