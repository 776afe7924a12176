"""The network behind the trained coder: shared by training and coding.

Each utterance is encoded once by all-MiniLM-L6-v2, whose top layers are fine-tuned for
MI coding (the lower layers stay as the pip package ships them). A small head then
reads the utterance together with its neighbours: the other speaker's turn before and
after it (a reflection is defined by what it reflects; a closed question by the short
answer it gets) and the speaker's own previous turn. Every utterance passes through the
transformer once, whatever context it serves in.
A coder trained with ``context_tokens`` > 0 encodes each utterance followed by the end of
the other speaker's previous turn, so attention reads the two together (a reflection is
a reflection *of* something); its vector still pools the utterance's own tokens only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import torch
from tokenizers import Encoding, Tokenizer
from torch import nn

from trainer.schema import Code, Role
from trainer.vocabulary import NO_SUBCODE, OTHER_KINDS, TALK_TYPES

CODE_LABELS = tuple(c.value for c in Code)  # output order of the code head
SUBCODE_LABELS = (NO_SUBCODE, *OTHER_KINDS)  # output order of the "other" subtype head
TALK_LABELS = TALK_TYPES  # output order of the client talk-type head
MAX_TOKENS = 64  # per utterance, with [CLS] and [SEP]; longer turns keep head and tail
HEAD_TOKENS = 16  # word pieces kept from the start of a long turn (the rest from its end)
POOL_SCALE = 5.0  # unit-norm embeddings scaled so the head's inputs are not tiny
HIDDEN_SIZE = 384  # MiniLM-L6 width
VECTOR_SIZE = HIDDEN_SIZE  # one pooled vector per utterance
N_OVERLAP = 4  # word-overlap features per utterance
NO_NEIGHBOUR = -1
# What the transformer reads for one utterance: its text and the other speaker's previous
# turn ("" when the coder reads no context or there is none).
Segment = tuple[str, str]

_WORD = re.compile(r"[a-z0-9']+")
# Function words and fillers: overlap in these says nothing about reflecting.
_STOP = frozenset(
    "i me my you your we our it is are was were be been am the a an and or but so to of in on at for with "
    "that this what how do does did have has had not no yes yeah just like really um uh know mean okay ok "
    "well there they them he she his her".split()
)


def neighbours(roles: Sequence[Role]) -> list[tuple[int, int, int]]:
    """For each utterance: the other speaker's previous and next turn, and the own previous turn.

    Indices are positions in `roles`; NO_NEIGHBOUR where there is none. The own previous
    turn is the one before the other speaker's previous turn, so for a counsellor it is
    what they said before the client's latest words.
    """
    return [links_of(roles, i) for i in range(len(roles))]


def links_of(roles: Sequence[Role], i: int) -> tuple[int, int, int]:
    """(previous other, next other, previous own) turn of utterance `i`, as in `neighbours`."""
    role = roles[i]
    prev_other = next((j for j in range(i - 1, -1, -1) if roles[j] is not role), NO_NEIGHBOUR)
    next_other = next((j for j in range(i + 1, len(roles)) if roles[j] is not role), NO_NEIGHBOUR)
    prev_own = next((j for j in range(prev_other - 1, -1, -1) if roles[j] is role), NO_NEIGHBOUR)
    return prev_other, next_other, prev_own


def segments(texts: Sequence[str], links: Sequence[tuple[int, int, int]], with_context: bool) -> list[Segment]:
    """Each utterance with the other speaker's previous turn, or with "" when `with_context` is off."""
    return [(t, texts[link[0]] if with_context and link[0] != NO_NEIGHBOUR else "") for t, link in zip(texts, links)]


def _content(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def overlap_features(texts: Sequence[str], links: Sequence[tuple[int, int, int]]) -> torch.Tensor:
    """Shared content words with the other speaker's previous and next turn, both directions.

    A simple reflection repeats the client's words; a complex one adds meaning. The
    transformer sees each utterance alone, so this tells the head about word overlap.
    (Explicit question-mark features were tried: they made the coder lean on punctuation
    that speech recognisers do not write, and did not raise cross-validated macro-F1.)
    """
    words = [_content(t) for t in texts]
    rows = []
    for i, (prev_other, next_other, _) in enumerate(links):
        row = []
        for j in (prev_other, next_other):
            shared = len(words[i] & words[j]) if j != NO_NEIGHBOUR else 0
            other = len(words[j]) if j != NO_NEIGHBOUR else 0
            row += [shared / max(1, len(words[i])), shared / max(1, other)]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float32).reshape(len(texts), N_OVERLAP)


def token_ids(
    tokenizer: Tokenizer, texts: Sequence[str], contexts: Sequence[str] = (), context_tokens: int = 0
) -> list[list[int]]:
    """Word pieces of each utterance framed by [CLS]/[SEP]; long turns keep their start and end.

    The end of a run-on turn usually holds what it does (the question it closes with),
    the start how it relates to what came before. With `contexts`, the last
    `context_tokens` word pieces of each non-empty context follow, closed by another [SEP]:
    the end of the client's turn is what a counsellor's next words answer.
    """
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    room = MAX_TOKENS - 2
    if contexts:
        tails = [e.ids[-context_tokens:] if context_tokens else [] for e in _encoded(tokenizer, contexts)]
    else:
        tails = [[]] * len(texts)
    out = []
    for encoding, tail in zip(tokenizer.encode_batch(list(texts), add_special_tokens=False), tails, strict=True):
        ids = encoding.ids
        if len(ids) > room:
            ids = ids[:HEAD_TOKENS] + ids[-(room - HEAD_TOKENS) :]
        out.append([cls_id, *ids, sep_id, *tail, sep_id] if tail else [cls_id, *ids, sep_id])
    return out


def _encoded(tokenizer: Tokenizer, texts: Sequence[str]) -> list[Encoding]:
    """Encodings of `texts`, each distinct one tokenized once (contexts repeat: one client turn serves two)."""
    distinct = list(dict.fromkeys(texts))
    by_text = dict(zip(distinct, tokenizer.encode_batch(distinct, add_special_tokens=False)))
    return [by_text[t] for t in texts]


def segment_types(input_ids: torch.Tensor, sep_id: int) -> torch.Tensor:
    """Token types of padded ids: 0 for the utterance up to its first [SEP], 1 for the context after it.

    Padding gets 0, so a coder without context sees exactly the inputs it always did.
    """
    sep = (input_ids == sep_id).long()
    return ((sep.cumsum(1) - sep) > 0).long() * (input_ids != 0).long()


def by_length(lengths: Sequence[int], size: int) -> Iterator[list[int]]:
    """Positions in chunks of `size`, shortest first, so each chunk needs little padding."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for start in range(0, len(order), size):
        yield order[start : start + size]


def padded(rows: Sequence[list[int]], device: str = "cpu") -> torch.Tensor:
    """Word-piece id lists zero-padded into one (len(rows), tokens) tensor."""
    width = max(map(len, rows))
    return torch.tensor([row + [0] * (width - len(row)) for row in rows], device=device)


def id_batches(ids: Sequence[list[int]], size: int, device: str = "cpu") -> Iterator[tuple[list[int], torch.Tensor]]:
    """Chunks of `by_length` with their word-piece ids as one padded tensor."""
    for batch in by_length([len(x) for x in ids], size):
        yield batch, padded([ids[i] for i in batch], device)


def pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scaled unit-length mean of the token states, as sentence-transformers pools MiniLM.

    `mask` is 1 on the tokens to average: the utterance's own, not its context.
    """
    m = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return nn.functional.normalize(mean, dim=-1) * POOL_SCALE


class ContextHead(nn.Module):
    """Reads an utterance vector with its neighbours' vectors and predicts all three labels.

    With `history`, a bidirectional GRU then runs over the hidden layers of the
    conversation's utterances in order, so each one also reads the turns beyond its
    direct neighbours (the history attention of Cao et al., ACL 2019, in recurrent form).
    """

    def __init__(self, hidden: int = 256, history: bool = False) -> None:
        super().__init__()
        n_in = VECTOR_SIZE * 5 + 1 + N_OVERLAP
        self.trunk = nn.Sequential(nn.Dropout(0.1), nn.Linear(n_in, hidden), nn.GELU(), nn.Dropout(0.2))
        self.code = nn.Linear(hidden, len(CODE_LABELS))
        self.subcode = nn.Linear(hidden, len(SUBCODE_LABELS))
        self.talk = nn.Linear(hidden, len(TALK_LABELS))
        # Made last, so a head without it starts from the same weights as before.
        self.history = nn.GRU(hidden, hidden // 2, batch_first=True, bidirectional=True) if history else None

    def forward(
        self, vectors: torch.Tensor, links: torch.Tensor, is_client: torch.Tensor, overlap: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits of code, "other" subtype and talk type for the utterances in `links` (see `features`)."""
        return self.labels(self.features(vectors, links, is_client, overlap))

    def labels(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits of code, "other" subtype and talk type read from the hidden layer `z`."""
        return self.code(z), self.subcode(z), self.talk(z)

    def features(
        self, vectors: torch.Tensor, links: torch.Tensor, is_client: torch.Tensor, overlap: torch.Tensor
    ) -> torch.Tensor:
        """The hidden layer every label is read from, for the utterances in `links`.

        Args:
            vectors: pooled utterance vectors, one row per utterance of the conversation.
            links: (n, 4) rows of (utterance, previous other, next other, previous own)
                indices into `vectors`; NO_NEIGHBOUR for a missing neighbour.
            is_client: (n,) 1.0 for client utterances.
            overlap: (n, N_OVERLAP) from `overlap_features`.
        """
        padded = torch.cat([vectors, vectors.new_zeros(1, vectors.shape[1])])  # NO_NEIGHBOUR -> zeros
        links = torch.where(links < 0, torch.full_like(links, len(vectors)), links)
        own, prev_other, next_other, prev_own = (padded[links[:, k]] for k in range(4))
        inputs = [own, prev_other, next_other, prev_own, own * prev_other, is_client.unsqueeze(-1), overlap]
        z = self.trunk(torch.cat(inputs, dim=-1))
        if self.history is not None:  # the rows are consecutive utterances, in order
            z = z + self.history(z.unsqueeze(0))[0].squeeze(0)
        return z
