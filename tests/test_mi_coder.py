"""The trained coder: its helpers, the shipped artifact, and the spaCy component."""

from __future__ import annotations

import pytest

from trainer.coding.mi_coder import MODEL_DIR, MICoder, load_mi_coder
from trainer.coding.network import MAX_TOKENS, NO_NEIGHBOUR, neighbours, overlap_features, token_ids
from trainer.errors import ModelNotAvailable
from trainer.schema import Code, Role, Utterance
from trainer.training.evaluation import asr_style
from trainer.vocabulary import OTHER_KINDS

C, K = Role.COUNSELLOR, Role.CLIENT
CONVERSATION = (
    Utterance(C, "Hi, thanks for coming in today. What brings you here?"),
    Utterance(K, "My wife thinks I drink too much. I have maybe four or five beers every night."),
    Utterance(C, "Do you drink every day?"),
    Utterance(K, "Yes."),
    Utterance(C, "You're worried that your drinking might be hurting your marriage."),
    Utterance(K, "Yeah, I guess I am. I really want to cut down, for her and for the kids."),
    Utterance(C, "How would your life be different if you drank less?"),
    Utterance(K, "I'd have more energy, I think."),
    Utterance(C, "More energy."),
    Utterance(K, "Yeah."),
    Utterance(C, "Drinking five beers a night can raise your blood pressure."),
)


def test_neighbours() -> None:
    roles = [C, K, K, C, C, K]
    assert neighbours(roles) == [
        (NO_NEIGHBOUR, 1, NO_NEIGHBOUR),
        (0, 3, NO_NEIGHBOUR),
        (0, 3, NO_NEIGHBOUR),
        (2, 5, 0),
        (2, 5, 0),
        (4, NO_NEIGHBOUR, 2),
    ]


def test_overlap_features_see_repeated_content_words() -> None:
    texts = ["I want to quit smoking", "You want to quit smoking", "Tell me more"]
    features = overlap_features(texts, neighbours([K, C, C]))
    assert features.shape == (3, 4)
    assert features[1, 0] == pytest.approx(1.0)  # every content word of the reflection came from the client
    assert features[2].tolist() == [0.0] * 4


def test_long_turns_keep_their_end() -> None:
    from trainer.coding.minilm import load_minilm

    tokenizer, _ = load_minilm()
    long_turn = "blah " * 200 + "what do you think about that"
    (ids,) = token_ids(tokenizer, [long_turn])
    assert len(ids) == MAX_TOKENS
    assert tokenizer.decode(ids[-7:-1]) == "what do you think about that"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("So, you're not sure?", "so you're not sure"), ("'Well' -- OK.", "well ok"), ("Don't!", "don't")],
)
def test_asr_style(text: str, expected: str) -> None:
    assert asr_style(text) == expected


def test_missing_artifact_says_how_to_train(tmp_path) -> None:
    with pytest.raises(ModelNotAvailable, match="train-coder"):
        MICoder.load(tmp_path)


def test_shipped_artifact_is_small() -> None:
    assert sum(f.stat().st_size for f in MODEL_DIR.iterdir()) < 25 * 2**20


@pytest.fixture(scope="module")
def coder() -> MICoder:
    return load_mi_coder()


def test_shipped_coder_codes_a_conversation(coder: MICoder) -> None:
    coded = coder.code(CONVERSATION)
    assert [c.utterance for c in coded] == list(CONVERSATION)
    counsellor = [c for c in coded if c.speaker is C]
    assert [c.code for c in counsellor] == [
        Code.OPEN_QUESTION,
        Code.CLOSED_QUESTION,
        Code.COMPLEX_REFLECTION,
        Code.OPEN_QUESTION,
        Code.SIMPLE_REFLECTION,
        Code.OTHER,
    ]
    assert all(0.0 < c.confidence <= 1.0 for c in counsellor)
    assert counsellor[-1].subcode in OTHER_KINDS  # therapist input, not a plain "other"
    client = [c for c in coded if c.speaker is K]
    assert all(c.code is None and c.confidence is None for c in client)
    assert client[2].subcode == "change"  # "I really want to cut down"


def test_shipped_coder_reads_speech_recognition_text(coder: MICoder) -> None:
    plain = [Utterance(u.speaker, asr_style(u.text)) for u in CONVERSATION]
    questions = [c.code for c in coder.code(plain) if c.speaker is C][:2]
    assert questions == [Code.OPEN_QUESTION, Code.CLOSED_QUESTION]


def test_coder_edge_cases(coder: MICoder) -> None:
    assert coder.code([]) == ()
    (only,) = coder.code([Utterance(C, "")])
    assert only.code in Code
    client_only = coder.code([Utterance(K, "I don't want to change anything.")])
    assert client_only[0].code is None and client_only[0].subcode in ("change", "neutral", "sustain")


def test_spacy_component_codes_lines_with_speaker_prefixes(coder: MICoder) -> None:
    import spacy

    nlp = spacy.blank("en")  # the factory is found through the package's entry point, no import needed
    nlp.add_pipe("mi_coder")
    doc = nlp(
        "Counsellor: What brings you in today?\n"
        "Client: My wife thinks I drink too much.\n"
        "\n"
        "Counsellor: Do you drink every day?\n"
    )
    spans = list(doc.spans["utterances"])
    assert [s.text for s in spans] == [
        "What brings you in today?",
        "My wife thinks I drink too much.",
        "Do you drink every day?",
    ]
    assert [s.label_ for s in spans] == ["counsellor", "client", "counsellor"]
    assert [s._.mi_code for s in spans] == ["open_question", None, "closed_question"]
    assert spans[1]._.mi_subcode in ("change", "neutral", "sustain")
    assert 0.0 < spans[0]._.mi_confidence <= 1.0


def test_score_codes_a_transcript_csv_row_by_row_with_the_trained_coder(transcript_csv, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from trainer.cli import main

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["score", str(transcript_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "session.json").read_text())
    assert doc["coder"] == "mi-coder"
    rows = transcript_csv.read_text().splitlines()[1:]
    assert [u["text"] for u in doc["utterances"]] == [r.split(",", 3)[3] for r in rows]
    counsellor = [u for u in doc["utterances"] if u["speaker"] == "counsellor"]
    codes = [u["code"] for u in counsellor]
    assert codes[0] == "open_question" and codes[2] == "closed_question"
    assert codes[1] in ("simple_reflection", "complex_reflection")  # "You're not sure you agree with her."
    assert all(0.0 < u["confidence"] <= 1.0 for u in counsellor)
    assert all(u["subcode"] in ("change", "neutral", "sustain") for u in doc["utterances"] if u["speaker"] == "client")
