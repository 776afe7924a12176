"""Stage 5: give every counsellor utterance one behaviour code.

A coder sees the whole conversation in order (a reflection is defined by what it
reflects) and returns one CodedUtterance per input utterance, in the same order.
Coders are found by name through `load_coder`: `rules` (trainer.coding.rules) and the
trained `mi-coder` (trainer.coding.mi_coder, its network in trainer.coding.network).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from trainer.coding.rules import RuleCoder
from trainer.schema import CodedUtterance, Utterance


class Coder(Protocol):
    """Anything that codes a conversation."""

    name: str

    def code(self, utterances: Sequence[Utterance]) -> tuple[CodedUtterance, ...]:
        """Code counsellor utterances; client utterances get code None."""
        ...


def _rules() -> Coder:
    return RuleCoder()


def _mi_coder() -> Coder:
    from trainer.coding.mi_coder import load_mi_coder  # imports torch: only when this coder is asked for

    return load_mi_coder()


CODERS: dict[str, Callable[[], Coder]] = {"mi-coder": _mi_coder, "rules": _rules}
# The trained coder beats the rules on AnnoMI (grouped cross-validation, see the README).
DEFAULT_CODER = "mi-coder"


def load_coder(name: str = DEFAULT_CODER) -> Coder:
    """A coder by name (see CODERS).

    Raises:
        ValueError: the name is not a known coder.
    """
    if name not in CODERS:
        raise ValueError(f"unknown coder {name!r}; choose from {', '.join(sorted(CODERS))}")
    return CODERS[name]()
