"""spaCy pipeline component: ``nlp.add_pipe("mi_coder")`` codes a conversation Doc.

A Doc holds one conversation. Its utterances are the spans in ``doc.spans["utterances"]``
(span label ``counsellor`` or ``client``) when a caller has set them; otherwise each
non-empty line is one utterance, and a ``counsellor:``, ``therapist:`` or ``client:``
prefix names its speaker (lines without one are the counsellor's). Every utterance span
gets ``span._.mi_code``, ``span._.mi_confidence``, ``span._.mi_subcode`` and
``span._.mi_subcode_confidence``, exactly as the coder's ``CodedUtterance`` has them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from spacy.language import Language
from spacy.tokens import Doc, Span

from trainer.coding import Coder
from trainer.schema import CodedUtterance, Role, Utterance

SPAN_KEY = "utterances"  # doc.spans key holding one span per utterance
_PREFIX = re.compile(r"^\s*(counsellor|counselor|therapist|client)\s*:\s*", re.IGNORECASE)
_EXTENSIONS = ("mi_code", "mi_confidence", "mi_subcode", "mi_subcode_confidence")


def _register_extensions() -> None:
    for name in _EXTENSIONS:
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)


def role_of(span: Span) -> Role:
    """Speaker of an utterance span from its label; anything but "client" is the counsellor."""
    return Role.CLIENT if span.label_.lower() == Role.CLIENT.value else Role.COUNSELLOR


def line_spans(doc: Doc) -> list[Span]:
    """One span per non-empty line, without its speaker prefix, labelled with the role."""
    spans = []
    offset = 0
    for line in doc.text.splitlines(keepends=True):
        start, end = offset, offset + len(line.rstrip())
        offset += len(line)
        match = _PREFIX.match(line)
        role = Role.COUNSELLOR
        if match:
            start += match.end()
            role = Role.CLIENT if match.group(1).lower() == "client" else Role.COUNSELLOR
        span = doc.char_span(start, end, label=role.value, alignment_mode="expand") if end > start else None
        if span is not None and span.text.strip():
            spans.append(span)
    return spans


class MICoderComponent:
    """Codes every utterance span of a Doc with a behaviour coder (the trained one by default)."""

    def __init__(self, nlp: Language, name: str, coder: Coder) -> None:
        self.name = name
        self.coder = coder
        _register_extensions()

    def __call__(self, doc: Doc) -> Doc:
        spans = list(doc.spans[SPAN_KEY]) if doc.spans.get(SPAN_KEY) else line_spans(doc)
        coded = self.predict(spans)
        self.set_annotations(doc, spans, coded)
        return doc

    def predict(self, spans: Sequence[Span]) -> tuple[CodedUtterance, ...]:
        """Code the utterances, in order, with their conversation as context."""
        return self.coder.code([Utterance(role_of(s), s.text) for s in spans])

    def set_annotations(self, doc: Doc, spans: Sequence[Span], coded: Sequence[CodedUtterance]) -> None:
        """Write the codes onto the spans and keep the spans in ``doc.spans``."""
        for span, item in zip(spans, coded, strict=True):
            span._.mi_code = item.code.value if item.code else None
            span._.mi_confidence = item.confidence
            span._.mi_subcode = item.subcode
            span._.mi_subcode_confidence = item.subcode_confidence
        doc.spans[SPAN_KEY] = list(spans)


@Language.factory(
    "mi_coder",
    assigns=[f"span._.{name}" for name in _EXTENSIONS],
    default_config={"model_dir": None},
)
def make_mi_coder(nlp: Language, name: str, model_dir: str | None) -> MICoderComponent:
    """Build the component around the trained coder (``model_dir`` None: the shipped model)."""
    from trainer.coding.mi_coder import load_mi_coder

    return MICoderComponent(nlp, name, load_mi_coder(model_dir))
