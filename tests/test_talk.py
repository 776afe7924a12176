"""Talk-time statistics: speech without pauses, overlap, longest stretch, answer pauses."""

from __future__ import annotations

import pytest

from trainer.batch.output import session_from_dict, session_to_dict
from trainer.pipeline import run_session
from trainer.schema import Attribution, Role, Utterance, Word
from trainer.scoring.talk_time import merge, role_speech, swap_talk, talk_stats

C, K = Role.COUNSELLOR, Role.CLIENT


def test_merge_bridges_short_gaps_only():
    assert merge([(3.0, 4.0), (0.0, 1.0), (1.2, 2.0)], bridge_s=0.3) == [(0.0, 2.0), (3.0, 4.0)]
    assert merge([(0.0, 2.0), (1.0, 1.5)]) == [(0.0, 2.0)]


def test_speech_excludes_pauses_and_counts_overlap():
    # Counsellor speaks 0-2 and 5-6 with a long pause; the client talks over her end, 1.5-3.
    words = (
        Word(0.0, 1.0, "so", speaker="left"),
        Word(1.1, 2.0, "tell", speaker="left"),
        Word(1.5, 3.0, "well", speaker="right"),
        Word(5.0, 6.0, "okay", speaker="left"),
    )
    attribution = Attribution((), (("left", C), ("right", K)), "channel", words=words)
    speech = role_speech(attribution)
    assert speech == {C: [(0.0, 2.0), (5.0, 6.0)], K: [(1.5, 3.0)]}
    utterances = [Utterance(C, "so tell", 0.0, 2.0), Utterance(K, "well", 1.5, 3.0), Utterance(C, "okay", 5.0, 6.0)]
    stats = talk_stats(utterances, speech)
    assert dict(stats.speaking_s) == {C: 3.0, K: 1.5}
    assert stats.overlap_s == 0.5


def test_longest_stretch_and_pause_before_answering():
    utterances = [
        Utterance(C, "a long question", 0.0, 6.0),
        Utterance(K, "mm-hmm", 3.0, 3.5),  # inside the counsellor's turn: not taking the floor
        Utterance(K, "an answer", 7.0, 9.0),
        Utterance(C, "a reflection", 10.0, 12.0),
        Utterance(K, "yes", 11.5, 13.0),  # talks over the end: a pause of 0
    ]
    stats = talk_stats(utterances)
    assert dict(stats.longest_s) == {C: 6.0, K: 2.0}
    assert dict(stats.response_pause_s) == {C: 1.0, K: pytest.approx(0.5)}
    assert dict(stats.speaking_s) == {C: 8.0, K: 4.0}  # utterance spans stand in without words


def test_no_times_no_stats():
    assert talk_stats([Utterance(C, "Hello."), Utterance(K, "Hi.")]) is None
    assert talk_stats([]) is None


def test_a_role_that_never_answers_has_no_pause():
    stats = talk_stats([Utterance(C, "Hello, anyone there?", 0.0, 2.0)])
    assert dict(stats.response_pause_s) == {C: None, K: None}
    assert dict(stats.longest_s)[K] == 0.0


def test_swap_exchanges_every_per_role_figure():
    stats = talk_stats([Utterance(C, "q", 0.0, 4.0), Utterance(K, "a", 5.0, 6.0)])
    swapped = swap_talk(stats)
    assert dict(swapped.speaking_s) == {C: 1.0, K: 4.0}
    assert dict(swapped.response_pause_s) == {C: 1.0, K: None}
    assert swapped.overlap_s == stats.overlap_s
    assert swap_talk(swapped) == stats


def test_talk_is_in_the_result_and_survives_a_round_trip(transcript_csv):
    session = run_session(transcript_csv)
    doc = session_to_dict(session)
    talk = doc["metrics"]["talk"]
    assert talk["speaking_s"] == {"counsellor": 7.5, "client": 11.5}
    assert talk["longest_s"]["client"] == 6.0 and talk["overlap_s"] == 0.0
    assert talk["response_pause_s"] == {"counsellor": 0.5, "client": 0.5}
    assert session_from_dict(doc).talk == session.talk


def test_channel_recording_reports_talk(stereo_path):
    session = run_session(stereo_path)
    speaking = dict(session.talk.speaking_s)
    # Both real speakers talk at once for the whole right sentence.
    assert speaking[C] > speaking[K] > 1.5
    assert session.talk.overlap_s >= 1.5
