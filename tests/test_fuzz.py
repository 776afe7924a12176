"""Property tests with hypothesis: transcript readers, time validation and the store's ids on arbitrary input."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainer.app.store import MAX_ID, parse_id, valid_id
from trainer.errors import AccessDenied, TranscriptFormatError
from trainer.speech.transcript_files import read_transcript, seconds

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
utterance = st.fixed_dictionaries(
    {"speaker": st.sampled_from(["counsellor", "client", "T", "x", ""]) | json_values, "text": json_values},
    optional={"start": json_values, "end": json_values, "code": json_values},
)


def well_formed(result) -> None:
    """What every reader promises: utterances with finite, ordered, non-negative times."""
    assert result.utterances
    for u in result.utterances:
        assert isinstance(u.text, str)
        for t in (u.start, u.end):
            assert t is None or (math.isfinite(t) and t >= 0)
        if u.start is not None and u.end is not None:
            assert u.start <= u.end
    assert result.duration_s is None or (math.isfinite(result.duration_s) and result.duration_s >= 0)


@FUZZ
@given(st.lists(utterance, max_size=4), json_values)
def test_json_reader_returns_sound_utterances_or_one_line_error(tmp_path, items, duration):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"utterances": items, "duration_s": duration}), encoding="utf-8")
    try:
        well_formed(read_transcript(path))
    except TranscriptFormatError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)


cell = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=10)


@FUZZ
@given(st.lists(st.tuples(cell, cell, cell, cell), max_size=5), st.sampled_from([".csv", ".txt"]))
def test_csv_and_text_readers_return_sound_utterances_or_one_line_error(tmp_path, rows, suffix):
    import csv

    path = tmp_path / f"t{suffix}"
    with path.open("w", newline="", encoding="utf-8") as f:
        if suffix == ".csv":
            csv.writer(f).writerows([("speaker", "start", "end", "text"), *rows])
        else:
            f.write("\n".join(f"{a}:{d}" for a, _, _, d in rows))
    try:
        well_formed(read_transcript(path))
    except TranscriptFormatError as e:
        assert str(e).startswith(str(path))


@settings(max_examples=300, deadline=None)
@given(json_values | st.text())
def test_seconds_are_finite_and_not_negative_or_refused(value):
    try:
        number = seconds(value, "start", "here")
    except TranscriptFormatError as e:
        assert str(e).startswith("here: start ")
        return
    assert number is None or (math.isfinite(number) and number >= 0)


ids = (
    st.integers() | st.floats() | st.booleans() | st.none() | st.text(max_size=25) | st.lists(st.integers(), max_size=2)
)


@settings(max_examples=300, deadline=None)
@given(ids)
def test_only_positive_ints_in_sqlite_range_are_ids(value):
    expected = value if type(value) is int and 1 <= value <= MAX_ID else None
    assert valid_id(value) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=25) | st.integers(min_value=-(2**70), max_value=2**70).map(str))
def test_url_ids_are_plain_digits_in_range(text):
    parsed = parse_id(text)
    if parsed is not None:
        assert text.isascii() and text == str(parsed) and 1 <= parsed <= MAX_ID


@pytest.fixture
def session_id(store, people, transcript_csv):
    from trainer.batch.output import session_to_dict
    from trainer.pipeline import PipelineOptions, run_session

    document = session_to_dict(run_session(transcript_csv, PipelineOptions(coder="rules")))
    return store.add_session(people["ann"], "week1.wav", document, "a" * 64).id


@FUZZ
@given(ids)
def test_store_opens_a_session_only_by_its_exact_id(store, people, session_id, value):
    if type(value) is int and value == session_id:
        assert store.session(people["ann"], value).id == session_id
        return
    with pytest.raises(AccessDenied, match="does not exist or is not yours to open"):
        store.session(people["ann"], value)
