"""Expert examples: what an experienced counsellor said at a moment like the trainee's.

A trainee who answered a client with a closed question learns more from seeing an open
question or a complex reflection that an expert gave a similar client statement than from
a rule. The index (built by `trainer build-examples`, see trainer.training.examples_index)
holds client turns from high-quality AnnoMI sessions (Wu et al., ICASSP 2022) with the
counsellor's complex reflection or open question that followed; client turns are embedded
with all-MiniLM-L6-v2, the sentence encoder the trained coder is built on, so a lookup is
one short encoder call and one matrix product.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from trainer import MODELS
from trainer.coding.minilm import load_minilm
from trainer.coding.network import id_batches, pool, token_ids
from trainer.errors import ModelNotAvailable
from trainer.schema import Code, CodedUtterance, FeedbackItem, Role
from trainer.threads import torch_threads

INDEX_ROWS = MODELS / "expert_examples.json"  # one row per example: the texts, code and source
INDEX_VECTORS = MODELS / "expert_examples.safetensors"  # the client turns' unit vectors, float16
EXPERT_CODES = (Code.COMPLEX_REFLECTION, Code.OPEN_QUESTION)
MIN_SIMILARITY = 0.35  # cosine below which a client statement is not "similar" enough to learn from
PER_MOMENT = 2  # expert answers shown per trainee moment (1 to 3 keeps the page readable)
BATCH_SIZE = 32

# Per point to practise: the trainee codes that mark a weak answer, and the expert codes to show for it.
ALTERNATIVES: dict[str, tuple[tuple[Code, ...], tuple[Code, ...]]] = {
    "reflection_question_ratio": ((Code.CLOSED_QUESTION, Code.OPEN_QUESTION), (Code.COMPLEX_REFLECTION,)),
    "open_question_share": ((Code.CLOSED_QUESTION,), (Code.OPEN_QUESTION, Code.COMPLEX_REFLECTION)),
    "complex_reflection_share": ((Code.SIMPLE_REFLECTION,), (Code.COMPLEX_REFLECTION,)),
}


@dataclass(frozen=True)
class ExpertExample:
    """One expert answer: the client statement it answered and where it comes from."""

    client: str
    reply: str
    code: Code
    transcript_id: int  # AnnoMI's transcript_id
    topic: str
    similarity: float = 0.0  # cosine to the trainee's client turn, once looked up


@dataclass(frozen=True)
class Moment:
    """A weak answer of the trainee's, and expert answers to similar client statements."""

    client: str
    trainee: str
    experts: tuple[ExpertExample, ...]


@torch.inference_mode()
def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 sentence vectors, (len(texts), 384) float32.

    Runs on one thread of the calling thread: a sentence or two is too little work to share,
    and on a busy 2-core machine a second thread mostly waits (10x the CPU time, measured).
    """
    tokenizer, model = load_minilm()
    vectors = torch.zeros(len(texts), model.hidden_size)
    with torch_threads(1):
        for batch, input_ids in id_batches(token_ids(tokenizer, texts), BATCH_SIZE):
            mask = (input_ids != 0).long()
            vectors[batch] = pool(model(input_ids, mask), mask)
    return torch.nn.functional.normalize(vectors, dim=-1).numpy()


class ExampleIndex:
    """Expert examples and their client turns' vectors, searched by cosine similarity."""

    def __init__(self, rows: Sequence[ExpertExample], vectors: np.ndarray) -> None:
        if len(rows) != len(vectors):
            raise ValueError(f"{len(rows)} examples but {len(vectors)} vectors")
        self.rows = tuple(rows)
        self.vectors = vectors.astype(np.float32)
        self._codes = np.array([r.code.value for r in rows])

    @classmethod
    def load(cls, rows_path: Path = INDEX_ROWS, vectors_path: Path = INDEX_VECTORS) -> ExampleIndex:
        """Read a built index (default: the shipped one)."""
        from safetensors.numpy import load_file

        if not rows_path.is_file() or not vectors_path.is_file():
            raise ModelNotAvailable(
                f"no expert examples in {rows_path.parent}; build them with `trainer build-examples`"
            )
        rows = [ExpertExample(**{**r, "code": Code(r["code"])}) for r in json.loads(rows_path.read_text("utf-8"))]
        return cls(rows, load_file(str(vectors_path))["client"])

    def search(self, queries: np.ndarray, codes: Sequence[Code], k: int = PER_MOMENT) -> list[list[ExpertExample]]:
        """For each unit query vector, up to `k` examples with these codes, most similar first.

        Examples below MIN_SIMILARITY are left out, and no reply is given twice for one query.
        """
        allowed = np.isin(self._codes, [c.value for c in codes])
        scores = np.where(allowed, queries @ self.vectors.T, -1.0)
        out = []
        for row in scores:
            best = [i for i in np.argsort(-row)[: k * 2] if row[i] >= MIN_SIMILARITY]
            found: list[ExpertExample] = []
            for i in best:
                if len(found) < k and all(f.reply != self.rows[i].reply for f in found):
                    found.append(replace(self.rows[i], similarity=float(row[i])))
            out.append(found)
        return out

    def lookup(
        self, client_turns: Sequence[str], codes: Sequence[Code], k: int = PER_MOMENT
    ) -> list[list[ExpertExample]]:
        """Expert answers to statements like each client turn (one encoder call for all of them)."""
        return self.search(embed(client_turns), codes, k) if client_turns else []


@functools.lru_cache(maxsize=1)
def load_index() -> ExampleIndex:
    """The shipped index, loaded once per process."""
    return ExampleIndex.load()


def weak_moments(item: FeedbackItem, utterances: Sequence[CodedUtterance]) -> list[tuple[str, str]]:
    """(client turn, trainee answer) pairs behind a point to practise, the quoted answers first.

    Only answers that directly follow a client turn count: the expert examples answer a client too.
    """
    weak_codes = ALTERNATIVES[item.key][0] if item.key in ALTERNATIVES else ()
    pairs = [
        (before.text, after.text)
        for before, after in zip(utterances, utterances[1:])
        if before.speaker is Role.CLIENT and after.speaker is Role.COUNSELLOR and after.code in weak_codes
    ]
    quoted = {text: rank for rank, text in enumerate(item.examples)}
    pairs.sort(key=lambda p: quoted.get(p[1], len(quoted)))
    return pairs[: max(len(item.examples), 1)]


def expert_moments(
    item: FeedbackItem, utterances: Sequence[CodedUtterance], index: ExampleIndex | None = None
) -> tuple[Moment, ...]:
    """The trainee's weak moments for one point to practise, each with expert answers; () when none fit."""
    pairs = weak_moments(item, utterances)
    if not pairs:
        return ()
    found = (index or load_index()).lookup([c for c, _ in pairs], ALTERNATIVES[item.key][1])
    return tuple(Moment(client, said, tuple(experts)) for (client, said), experts in zip(pairs, found) if experts)
