"""Channel attribution and grouping words into utterances."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.errors import SpeakerError
from trainer.schema import Attribution, Role, SpeakerTurn, Transcript, Word
from trainer.scoring.utterances import build_utterances
from trainer.speakers import SpeakerOptions, choose_method
from trainer.speakers.channel import channel_turns, channel_voices, drop_bleed
from trainer.speakers.turns import FRAME_S, label_words, runs_to_turns
from trainer.speech.audio import SAMPLE_RATE, Audio


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


@pytest.fixture
def two_channel() -> Audio:
    """Left speaks 0-2 s, right speaks 2.5-4 s, left again 4.5-5 s."""
    left = np.concatenate([tone(2), silence(2.5), tone(0.5)])
    right = np.concatenate([silence(2.5), tone(1.5), silence(1.0)])
    return Audio(np.stack([left, right]), "synthetic.wav")


def test_channel_turns_follow_the_louder_channel(two_channel):
    turns = channel_turns(two_channel)
    assert [t.speaker for t in turns] == ["left", "right", "left"]
    assert turns[0].start == pytest.approx(0.0, abs=0.03) and turns[0].end == pytest.approx(2.0, abs=0.03)
    assert turns[1].start == pytest.approx(2.5, abs=0.03) and turns[1].end == pytest.approx(4.0, abs=0.03)


def test_choose_method(two_channel):
    assert choose_method(two_channel) == "channel"
    same = Audio(np.stack([two_channel.samples[0]] * 2), "same.wav")
    assert choose_method(same) == "diarization"
    with pytest.raises(SpeakerError, match="one voice per channel"):
        choose_method(same, SpeakerOptions(method="channel"))


def test_drop_bleed_keeps_own_channel_words_only(two_channel):
    words = (
        Word(0.5, 1.0, "hello", speaker="left"),
        Word(0.5, 1.0, "echo", speaker="right"),
        Word(3.0, 3.5, "yes", speaker="right"),
    )
    kept = drop_bleed(words, two_channel)
    assert [w.text for w in kept] == ["hello", "yes"]
    voices = channel_voices(two_channel, Transcript(words, 5.0), SpeakerOptions(swap_roles=True))
    assert [w.text for w in voices.words] == ["hello", "yes"]
    assert dict(voices.roles) == {"right": Role.COUNSELLOR, "left": Role.CLIENT}


def test_words_go_to_the_turn_they_overlap_most_then_the_nearest():
    turns = (SpeakerTurn(0.0, 2.0, "S0"), SpeakerTurn(2.0, 4.0, "S1"))
    words = (Word(1.5, 2.4, "a"), Word(1.9, 3.0, "b"), Word(5.0, 5.5, "c"), Word(0.1, 0.2, "d", speaker="S1"))
    assert [w.speaker for w in label_words(words, turns)] == ["S0", "S1", "S1", "S1"]
    with pytest.raises(SpeakerError, match="no speech turns"):
        label_words(words[:1], ())


def attribution(ws: list[Word]) -> Attribution:
    roles = (("left", Role.COUNSELLOR), ("right", Role.CLIENT))
    return Attribution(turns=(), roles=roles, method="channel", words=tuple(sorted(ws, key=lambda w: w.start)))


def words(speaker: str, text: str, start: float, step: float = 0.3) -> list[Word]:
    return [Word(start + i * step, start + i * step + 0.25, w, speaker=speaker) for i, w in enumerate(text.split())]


def test_a_speakers_pause_stays_in_the_turn_but_not_between_speakers():
    frames = ["A"] * 50 + [None] * 40 + ["A"] * 50 + [None] * 20 + ["B"] * 50 + [None] * 60 + ["B"] * 50
    turns = runs_to_turns(frames)
    assert [(t.speaker, round(t.start / FRAME_S), round(t.end / FRAME_S)) for t in turns] == [
        ("A", 0, 140),  # a 0.8-s pause inside A's turn is A's
        ("B", 160, 210),  # the 0.4 s between A and B is nobody's
        ("B", 270, 320),  # a 1.2-s pause ends B's turn
    ]


def test_turns_become_utterances_in_order():
    ws = words("left", "what brings you here", 0.0) + words("right", "my doctor sent me", 2.0)
    ws += words("left", "your doctor is worried", 4.0)
    utterances = build_utterances(attribution(ws))
    assert [(u.speaker, u.text) for u in utterances] == [
        (Role.COUNSELLOR, "what brings you here"),
        (Role.CLIENT, "my doctor sent me"),
        (Role.COUNSELLOR, "your doctor is worried"),
    ]
    assert utterances[1].start == 2.0 and utterances[1].end == pytest.approx(3.15)


def test_backchannel_and_overlap_do_not_split_a_turn():
    counsellor = words("left", "so you have been thinking about cutting down for a while now", 0.0)
    backchannel = [Word(1.0, 1.3, "mm-hmm", speaker="right")]  # in a gap, said over the counsellor
    overlap = words("right", "yes I have", 2.0)  # real words said over the counsellor's speech
    ws = tuple(sorted(counsellor + backchannel + overlap, key=lambda w: w.start))
    utterances = build_utterances(attribution(list(ws)))
    assert [u.speaker for u in utterances].count(Role.COUNSELLOR) == 1
    assert utterances[0].text == " ".join(w.text for w in counsellor)


def test_long_pause_splits_a_turn():
    ws = words("left", "okay", 0.0) + words("left", "let us begin", 6.0)
    assert len(build_utterances(attribution(ws))) == 2


def test_reference_strategy_takes_turns_and_roles_from_the_reference(tmp_path):
    from trainer.speakers import attribute

    (tmp_path / "talk.ref.csv").write_text(
        "speaker,start,end,text\ncounsellor,0.0,2.0,how are you\nclient,2.5,4.0,fine\n", encoding="utf-8"
    )
    audio = Audio(np.zeros((1, 4 * SAMPLE_RATE), dtype=np.float32), str(tmp_path / "talk.wav"))
    heard = Transcript(
        (Word(0.2, 0.6, "how"), Word(0.7, 1.0, "are"), Word(1.1, 1.5, "you"), Word(2.6, 3.1, "fine")), 4.0
    )
    attribution = attribute(audio, heard, "reference")
    assert attribution.method == "reference" and attribution.role_confidence == 1.0
    assert [w.speaker for w in attribution.words] == ["counsellor"] * 3 + ["client"]
    assert [(u.speaker, u.text) for u in build_utterances(attribution)] == [
        (Role.COUNSELLOR, "how are you"),
        (Role.CLIENT, "fine"),
    ]
    with pytest.raises(SpeakerError, match="no reference transcript"):
        attribute(Audio(audio.samples, str(tmp_path / "other.wav")), heard, "reference")
