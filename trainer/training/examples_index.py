"""Build the expert-example index the feedback page searches (trainer.scoring.examples).

Only high-quality AnnoMI sessions (Wu et al., ICASSP 2022) are used, and from them only a
complex reflection or open question that directly answers a client turn with some content:
"Mm-hmm" says nothing about the moment, and a very long reply is not an example a trainee
can take in at a glance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from trainer.schema import Role
from trainer.scoring.examples import EXPERT_CODES, INDEX_ROWS, INDEX_VECTORS, ExpertExample, embed
from trainer.training.annomi import AnnotatedTranscript

MIN_CLIENT_WORDS = 4  # shorter client turns ("Yeah.", "Mm-hmm.") do not say what the moment was
MAX_REPLY_WORDS = 60  # longer expert turns are speeches, not examples to read beside one's own words


def expert_examples(transcripts: Sequence[AnnotatedTranscript]) -> list[ExpertExample]:
    """Client turn and expert answer pairs from the high-quality transcripts, in transcript order."""
    out, seen = [], set()
    for t in transcripts:
        if t.mi_quality != "high":
            continue
        for before, after in zip(t.utterances, t.utterances[1:]):
            client, reply = before.utterance, after.utterance
            if (
                client.speaker is Role.CLIENT
                and after.code in EXPERT_CODES
                and len(client.text.split()) >= MIN_CLIENT_WORDS
                and len(reply.text.split()) <= MAX_REPLY_WORDS
                and (client.text, reply.text) not in seen
            ):
                seen.add((client.text, reply.text))
                out.append(ExpertExample(client.text, reply.text, after.code, t.transcript_id, t.topic))
    return out


def build_index(
    transcripts: Sequence[AnnotatedTranscript], rows_path: Path = INDEX_ROWS, vectors_path: Path = INDEX_VECTORS
) -> int:
    """Embed the examples' client turns and write the index; returns how many examples it holds."""
    from safetensors.numpy import save_file

    examples = expert_examples(transcripts)
    if not examples:
        raise ValueError("no high-quality complex reflections or open questions in these transcripts")
    vectors = embed([e.client for e in examples]).astype("float16")
    rows = [{k: v for k, v in asdict(e).items() if k != "similarity"} for e in examples]
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    rows_path.write_text(json.dumps(rows, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    save_file({"client": vectors}, str(vectors_path), metadata={"encoder": "all-MiniLM-L6-v2", "source": "AnnoMI"})
    return len(examples)
