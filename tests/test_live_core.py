"""The live path's parts on real audio replayed block by block: VAD windows, roles, transcription."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.conftest import JFK_TEXT, SAMPLES, normalise
from trainer.live.roles import ChannelRoles, VoiceRoles, embed_voice
from trainer.live.vad import SAMPLE_RATE, Segmenter, SegmenterOptions, SpeechWindow, StreamingVad
from trainer.live.windows import batch, context_of, transcribe_windows
from trainer.schema import CodedUtterance, Role
from trainer.speech.audio import load_audio
from trainer.speech.transcribe import TranscribeOptions

BLOCK = 1600  # 100 ms, as the recorder delivers blocks


def reference(name: str) -> list[dict]:
    with open(SAMPLES / f"{name}.ref.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def windows_of(samples: np.ndarray, options: SegmenterOptions = SegmenterOptions(min_silence_s=0.2), channel=0):
    """Replay (channels, n) samples in 100 ms blocks; all windows heard, and the segmenter."""
    segmenter = Segmenter(options, channel)
    found = []
    for i in range(0, samples.shape[1], BLOCK):
        found += segmenter.feed(samples[:, i : i + BLOCK])
    return found + segmenter.flush(), segmenter


def truth_at(rows: list[dict], t: float) -> str | None:
    """Speaker of the reference row around time t."""
    return next((r["speaker"] for r in rows if float(r["start"]) - 0.3 <= t <= float(r["end"]) + 0.3), None)


@pytest.fixture(scope="module")
def strong_mono():
    return load_audio(SAMPLES / "strong_mono.opus").samples


def test_streaming_vad_matches_the_whole_recording_at_once(strong_mono):
    from faster_whisper.vad import get_vad_model

    signal = strong_mono[0, : 30 * 16000 // 512 * 512]
    whole = get_vad_model()(signal.copy())
    vad = StreamingVad()
    blocks = [vad(signal[i : i + 1000]) for i in range(0, len(signal), 1000)]  # blocks not a multiple of 512
    assert np.abs(np.concatenate(blocks) - whole).max() < 1e-3


def test_windows_end_at_turns_and_memory_stays_small(strong_mono):
    rows = reference("strong_mono")
    found, segmenter = windows_of(strong_mono)
    assert all(b.start >= a.end - 0.25 for a, b in zip(found, found[1:]))  # in order, hardly overlapping
    # Every reference turn change falls in a gap between windows, not inside one.
    for prev, row in zip(rows, rows[1:]):
        if prev["speaker"] != row["speaker"] and float(row["start"]) - float(prev["end"]) >= 0.3:
            inside = [w for w in found if w.start + 0.15 < float(prev["end"]) and float(row["start"]) < w.end - 0.15]
            assert not inside, (prev["text"], row["text"])
    speech = sum(float(r["end"]) - float(r["start"]) for r in rows)
    assert 0.9 * speech < sum(w.duration_s for w in found) < 1.2 * speech
    assert segmenter._buffer.shape[1] < 2 * 16000  # only the latest speech is held, not the recording


def test_a_monologue_is_cut_into_windows_of_bounded_length(strong_mono):
    found, _ = windows_of(strong_mono, SegmenterOptions(min_silence_s=2.0, max_speech_s=5.0))
    assert max(w.duration_s for w in found) <= 5.0 + 0.2 + 1e-6
    assert sum(w.duration_s for w in found) > 100


def test_stereo_channels_give_roles_and_cross_talk_is_dropped():
    samples = load_audio(SAMPLES / "strong_stereo.opus").samples
    rows = reference("strong_stereo")
    bled = samples + 0.1 * samples[::-1]  # each microphone also hears the other person, 20 dB down
    roles = ChannelRoles()
    for channel in (0, 1):
        clean, _ = windows_of(samples, channel=channel)
        heard, _ = windows_of(bled, channel=channel)
        kept = [w for w in heard if roles.role(w) is not None]
        assert len(heard) > len(clean)  # the other voice was heard across the room...
        assert abs(sum(w.duration_s for w in kept) - sum(w.duration_s for w in clean)) < 3.0  # ...and dropped
        expected = "counsellor" if channel == 0 else "client"
        assert all(roles.role(w) == expected for w in kept)
        assert all(truth_at(rows, (w.start + w.end) / 2) in (expected, None) for w in kept)
    assert ChannelRoles(swap=True).role(clean[0]) is Role.COUNSELLOR and "right" in ChannelRoles(True).note


@pytest.mark.parametrize("name", ["strong_mono.opus", "weak_mono.flac"])  # weak_mono opens with a 1-s window
def test_one_microphone_first_voice_heard_is_the_counsellor(name):
    rows = reference(name.split(".")[0])
    found, _ = windows_of(load_audio(SAMPLES / name).samples)
    roles = VoiceRoles()
    assert "first voice heard" in roles.note
    right = sum(w.duration_s for w in found if roles.role(w).value == truth_at(rows, (w.start + w.end) / 2))
    assert right / sum(w.duration_s for w in found) > 0.9


def test_an_enrolled_voice_decides_even_when_the_client_speaks_first(strong_mono):
    rows = reference("strong_mono")
    found, _ = windows_of(strong_mono)
    counsellor = [w for w in found if truth_at(rows, (w.start + w.end) / 2) == "counsellor"]
    profile = embed_voice(np.concatenate([w.samples for w in counsellor[:3]]))
    roles = VoiceRoles(profile=profile)
    assert "enrolled voice" in roles.note
    later = [w for w in found if w.start > 30]
    client_first = sorted(later, key=lambda w: truth_at(rows, (w.start + w.end) / 2) != "client")[:1] + later
    right = [roles.role(w).value == truth_at(rows, (w.start + w.end) / 2) for w in client_first]
    assert right[0] and np.mean(right) > 0.9


def test_windows_transcribed_together_get_their_own_words_back(jfk_path):
    samples = load_audio(jfk_path).samples
    found, _ = windows_of(samples, SegmenterOptions(min_silence_s=0.2))
    assert len(found) >= 2 and batch(found) == len(found)  # 11 s of speech fits in one call
    words = transcribe_windows(found, TranscribeOptions(beam_size=1))
    assert normalise(" ".join(w.text for ws in words for w in ws)) == normalise(JFK_TEXT)
    for window, said in zip(found, words):
        assert all(window.start <= w.start <= w.end <= window.end for w in said)
    assert context_of(["one two", "three four five"], 2) == "four five"


def test_a_counsellor_utterance_coded_in_its_stretch_gets_the_offline_code():
    """Live codes read the same neighbours as the offline coder, once the client's answer is heard."""
    from trainer.coding.mi_coder import load_mi_coder
    from trainer.live.session import _code_in, _context
    from trainer.training.annomi import load_annomi

    coder = load_mi_coder()
    conversation = list(load_annomi()[0].plain[:40])
    offline = coder.code(conversation)
    coded = [CodedUtterance(u) for u in conversation]
    counsellor = [i for i, u in enumerate(conversation) if u.speaker is Role.COUNSELLOR]
    assert len(counsellor) >= 10
    agree = []
    for i in counsellor:
        lo, stretch = _context(coded, i)
        assert len(stretch) <= 8  # a few turns, not the whole conversation
        live = _code_in(coder, stretch, i - lo)
        assert live.utterance == conversation[i]
        agree.append(live.code == offline[i].code)
    # Not every one: the int8 encoder scales its activations per batch, so a text encoded with
    # other texts gets slightly other vectors (4 transcripts: 68 of 72 codes the same).
    assert np.mean(agree) >= 0.85


def test_a_short_first_sound_does_not_found_a_voice():
    """A click or a clipped word as the stream opens is placed, but the first real voice founds the counsellor."""
    rows = reference("strong_mono")
    found, _ = windows_of(load_audio(SAMPLES / "strong_mono.opus").samples)
    client = next(w for w in found if truth_at(rows, (w.start + w.end) / 2) == "client" and w.duration_s > 1)
    clipped = SpeechWindow(0.0, 0.5, client.samples[: SAMPLE_RATE // 2])
    roles = VoiceRoles()
    assert roles.role(clipped) is Role.COUNSELLOR and not roles.voices
    right = sum(w.duration_s for w in found if roles.role(w).value == truth_at(rows, (w.start + w.end) / 2))
    assert right / sum(w.duration_s for w in found) > 0.9
