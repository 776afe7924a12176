"""Which voice is the counsellor's, and correcting it without transcribing again."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from trainer.batch.output import write_session_json
from trainer.cli import main
from trainer.coding import load_coder
from trainer.errors import SpeakerError
from trainer.pipeline import choose_counsellor, run_session, summarise, swap_session
from trainer.schema import Attribution, Code, Role, SpeakerTurn, Word
from trainer.scoring.checks import check_roles
from trainer.scoring.utterances import build_utterances
from trainer.speakers.roles import assign_roles, counsellor_probabilities, voice_profile
from trainer.training.annomi import load_annomi

DIALOGUE = (
    ("S0", "Hi, what brings you in today?"),
    ("S1", "My doctor told me I drink too much and I should cut down."),
    ("S0", "So you're not sure you agree with her."),
    ("S1", "Well, I do drink more than I used to. My job is stressful."),
    ("S0", "How does drinking help you with the stress?"),
)


def words_of(dialogue: tuple[tuple[str, str], ...]) -> tuple[list[Word], list[SpeakerTurn]]:
    """Words one second each with their voice, and one turn per line."""
    words, turns, t = [], [], 0.0
    for label, text in dialogue:
        start = t
        for token in text.split():
            words.append(Word(t, t + 1.0, token, speaker=label))
            t += 1.0
        turns.append(SpeakerTurn(start, t, label))
        t += 0.5
    return words, turns


@pytest.mark.parametrize(
    ("text", "questions", "reflective", "you_minus_i"),
    [
        ("What brings you here? You seem worried.", 0.5, 1.0, 2 / 7),
        ("I drink too much. My wife hates it.", 0.0, 0.0, -2 / 8),
        ("Is it okay if we talk", 0.0, 0.0, 0.0),
    ],
)
def test_voice_profile(text, questions, reflective, you_minus_i):
    profile = voice_profile([text], opens=False)
    assert profile.questions == questions
    assert profile.reflective_starts == reflective
    assert profile.you_minus_i == pytest.approx(you_minus_i)


@pytest.mark.parametrize("counsellor_first", [True, False])
def test_the_voice_that_asks_and_reflects_is_the_counsellor(counsellor_first):
    dialogue = DIALOGUE if counsellor_first else tuple((("S1", "Hello."), *DIALOGUE))
    words, turns = words_of(dialogue)
    roles, confidence = assign_roles(words, turns)
    assert dict(roles) == {"S0": Role.COUNSELLOR, "S1": Role.CLIENT}
    assert confidence > 0.9


def test_swap_takes_the_other_voice_as_a_persons_decision():
    words, turns = words_of(DIALOGUE)
    roles, confidence = assign_roles(words, turns, swap=True)
    assert dict(roles) == {"S0": Role.CLIENT, "S1": Role.COUNSELLOR}
    assert confidence == 1.0


def test_a_voice_without_words_is_a_client():
    words, turns = words_of(DIALOGUE)
    roles, _ = assign_roles(words, [*turns, SpeakerTurn(30.0, 33.0, "S2")])
    assert dict(roles)["S2"] is Role.CLIENT and dict(roles)["S0"] is Role.COUNSELLOR


def test_counsellor_found_in_annomi_transcripts_from_text_alone():
    transcripts = load_annomi(skip_swapped=False)
    right = 0
    for t in transcripts:
        first = t.plain[0].speaker
        profiles = {r: voice_profile([u.text for u in t.plain if u.speaker is r], first is r) for r in Role}
        p = counsellor_probabilities(profiles)
        right += p[Role.COUNSELLOR] > p[Role.CLIENT]
    assert right / len(transcripts) >= 0.95


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A timed transcript scored once, as if its attribution had come from diarization."""
    path = tmp_path_factory.mktemp("roles") / "session.csv"
    path.write_text(
        "speaker,start,end,text\n"
        "counsellor,0.0,3.0,What brings you here today?\n"
        "client,3.5,9.5,My doctor says I drink too much and I should cut down.\n"
        "counsellor,10.0,13.0,You're not sure you agree with her.\n"
        "client,13.5,18.0,Well I do drink a bit more than I used to.\n",
        encoding="utf-8",
    )
    roles = (("S0", Role.COUNSELLOR), ("S1", Role.CLIENT))
    session = run_session(path)
    speakers = Attribution((), roles, "diarization", role_confidence=0.6)
    return summarise(session.source, session.duration_s, session.utterances, speakers=speakers, talk=session.talk)


def test_swapping_a_session_recodes_and_recomputes(scored):
    swapped = swap_session(scored, load_coder())
    assert [c.speaker for c in swapped.utterances] == [Role.CLIENT, Role.COUNSELLOR] * 2
    assert all(c.code is None for c in swapped.utterances if c.speaker is Role.CLIENT)
    assert swapped.metrics.counsellor_talk_share == pytest.approx(1 - scored.metrics.counsellor_talk_share)
    assert dict(swapped.speakers.roles) == {"S0": Role.CLIENT, "S1": Role.COUNSELLOR}
    assert swapped.speakers.role_confidence == 1.0
    assert dict(swapped.talk.speaking_s)[Role.COUNSELLOR] == dict(scored.talk.speaking_s)[Role.CLIENT]
    back = swap_session(swapped, load_coder())
    assert [c.code for c in back.utterances] == [c.code for c in scored.utterances]
    assert back.metrics == scored.metrics and back.talk == scored.talk


def test_more_than_two_voices_cannot_be_swapped_in_a_result(scored):
    three = Attribution((), (("S0", Role.COUNSELLOR), ("S1", Role.CLIENT), ("S2", Role.CLIENT)), "diarization")
    with pytest.raises(SpeakerError, match="3 voices"):
        swap_session(replace(scored, speakers=three), load_coder())


def test_an_older_result_without_words_can_still_exchange_two_voices(scored):
    assert scored.speakers.words == ()  # as results stored before words were kept
    coder = load_coder()
    chosen = choose_counsellor(scored, "S1", coder)
    assert chosen.utterances == swap_session(scored, coder).utterances
    assert dict(chosen.speakers.roles) == {"S0": Role.CLIENT, "S1": Role.COUNSELLOR}
    kept = choose_counsellor(scored, "S0", coder)  # already the counsellor: only marked as decided
    assert kept.utterances == scored.utterances and kept.speakers.role_confidence == 1.0
    three = Attribution((), (("S0", Role.COUNSELLOR), ("S1", Role.CLIENT), ("S2", Role.CLIENT)), "diarization")
    with pytest.raises(SpeakerError, match="score the recording again"):
        choose_counsellor(replace(scored, speakers=three), "S2", coder)


def test_swap_roles_command_rewrites_the_result(tmp_path, scored):
    path = tmp_path / "session.json"
    write_session_json(scored, path)
    result = CliRunner().invoke(main, ["swap-roles", str(path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(path.read_text())
    assert [u["speaker"] for u in doc["utterances"]] == ["client", "counsellor"] * 2
    assert doc["speakers"]["roles"] == {"S0": "client", "S1": "counsellor"}
    assert doc["metrics"]["counts"][Code.OPEN_QUESTION.value] == 0
    # The feedback with the new roles is printed, read back from the rewritten file.
    assert " ".join(doc["feedback"]["summary"].split()) in " ".join(result.stdout.replace("│", " ").split())
    assert "role confidence 100%" in result.stdout  # a person decided


def test_swap_roles_command_refuses_other_json(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    result = CliRunner().invoke(main, ["swap-roles", str(path)])
    assert result.exit_code != 0
    assert "not a result written by trainer score" in result.output


def test_choosing_the_counsellor_again_renews_the_warnings_about_roles():
    words, turns = words_of(DIALOGUE)  # S0 three turns, S1 two
    roles = (("S0", Role.COUNSELLOR), ("S1", Role.CLIENT))
    attribution = Attribution(tuple(turns), roles, "diarization", role_confidence=0.6, words=tuple(words))
    coder = load_coder("rules")
    coded = coder.code(build_utterances(attribution))
    warnings = ("a quiet recording", *check_roles(coded))
    session = summarise("s.wav", 30.0, coded, speakers=attribution, warnings=warnings)
    assert "only 3 counsellor utterance(s): too few for reliable metrics" in session.warnings
    chosen = choose_counsellor(session, "S1", coder)
    assert chosen.warnings == ("a quiet recording", "only 2 counsellor utterance(s): too few for reliable metrics")
