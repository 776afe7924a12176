"""The rule coder on typical utterances, with and without ASR-style text."""

from __future__ import annotations

import pytest

from trainer.coding import load_coder
from trainer.coding.rules import RuleCoder
from trainer.schema import Code, Role, Utterance

CASES = [
    ("What brings you in today?", Code.OPEN_QUESTION),
    ("how do you feel about your drinking", Code.OPEN_QUESTION),
    ("Tell me more about that.", Code.OPEN_QUESTION),
    ("Do you smoke every day?", Code.CLOSED_QUESTION),
    ("are you taking your tablets", Code.CLOSED_QUESTION),
    ("So you're drinking most nights.", Code.SIMPLE_REFLECTION),
    ("It sounds like part of you worries about your kids, but you enjoy it too.", Code.COMPLEX_REFLECTION),
    ("You should really stop smoking.", Code.OTHER),
    ("Thanks for coming in.", Code.OTHER),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_rule_codes(text, expected):
    coded = RuleCoder().code([Utterance(Role.COUNSELLOR, text)])
    assert coded[0].code is expected


def test_client_utterances_get_no_code_and_order_is_kept():
    utterances = [
        Utterance(Role.COUNSELLOR, "What brings you here?"),
        Utterance(Role.CLIENT, "My wife."),
        Utterance(Role.COUNSELLOR, "Your wife wants you here."),
    ]
    coded = load_coder("rules").code(utterances)
    assert [c.utterance for c in coded] == utterances
    assert coded[1].code is None
    assert coded[0].code is Code.OPEN_QUESTION


def test_unknown_coder_lists_known_ones():
    with pytest.raises(ValueError, match="rules"):
        load_coder("nope")
