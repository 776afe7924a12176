"""Whose is each speech window, decided as it arrives.

- Stereo input, one microphone per person: the channel decides; no model is needed.
  A window much quieter than the other channel is the other person heard across the
  room, and is dropped (their own microphone has it).
- One microphone with the counsellor's enrolled voice: a window is the counsellor's
  when its voice embedding is nearer the enrolled profile than the client's voice.
- One microphone and no profile: the first voice heard is taken as the counsellor's,
  and the panel says so.

In both single-microphone cases two running voices are kept (the counsellor's anchor
and the client's mean, started by the first window that sounds unlike the anchor), and
each window goes to the nearer one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from trainer.live.vad import SAMPLE_RATE, SpeechWindow
from trainer.schema import Role

CROSS_TALK_DB = -6.0  # a stereo window this far below the other channel is the other voice
# A window's voice at most this similar (cosine) to the first voice is a new voice. One voice's
# windows of 1-4 s measured 0.69-0.92 against each other, two voices' 0.36-0.55 (weak_mono);
# 0.55-0.65 gave the same roles on the mono samples and two real AMI excerpts, 0.72 let a
# first 1-s window found a voice its own speaker's next window did not reach.
NEW_VOICE = 0.6
RELIABLE_S = 0.8  # shorter windows are placed but do not shape the running voices
PIECE_S = 1.5  # seconds per embedded piece: the encoder's window (trainer.speakers.diarize)
PIECE_SHIFT_S = 0.6  # pieces start this far apart: overlapping, so a 2-4-s live window gets several

Embedder = Callable[[np.ndarray], np.ndarray]  # 16 kHz mono samples -> unit voice vector


class RoleTracker(Protocol):
    """Decides the role of each speech window; None drops the window (cross-talk)."""

    note: str  # one line for the panel: how roles are being decided

    def role(self, window: SpeechWindow) -> Role | None: ...


class ChannelRoles:
    """Stereo input: one microphone per person, the counsellor's on the left unless swapped."""

    def __init__(self, swap: bool = False) -> None:
        """Left (channel 0) is the counsellor's microphone, or the right one with `swap`."""
        self.counsellor_channel = 1 if swap else 0
        side = "right" if swap else "left"
        self.note = f"Roles: one microphone each; the {side} one is the counsellor's."

    def role(self, window: SpeechWindow) -> Role | None:
        """The role of the window's channel, or None for the other voice bleeding in."""
        if window.dominance_db < CROSS_TALK_DB:
            return None
        return Role.COUNSELLOR if window.channel == self.counsellor_channel else Role.CLIENT


def embed_voice(samples: np.ndarray) -> np.ndarray:
    """Unit voice vector of a stretch of one voice: the mean of CAM++ embeddings of its PIECE_S pieces."""
    from trainer.speakers.diarize import embed_windows

    # The encoder's feature extractor needs a whole window: a short stretch is repeated to fill one.
    samples = np.tile(samples, int(np.ceil(PIECE_S * SAMPLE_RATE / max(1, len(samples)))))
    duration = len(samples) / SAMPLE_RATE
    starts = np.arange(0.0, duration - PIECE_S + 1e-9, PIECE_SHIFT_S)
    pieces = [(float(a), float(a) + PIECE_S) for a in starts] + [(duration - PIECE_S, duration)]
    mean = embed_windows(np.ascontiguousarray(samples, dtype=np.float32), pieces).mean(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


class VoiceRoles:
    """One microphone: each window to the nearer of the counsellor's and the client's voice."""

    def __init__(self, profile: np.ndarray | None = None, embed: Embedder = embed_voice, swap: bool = False) -> None:
        """Anchor the counsellor on an enrolled `profile`, or on the first voice heard without one.

        Args:
            profile: the counsellor's enrolled unit voice vector, if there is one.
            embed: turns samples into a unit voice vector comparable with `profile`.
            swap: without a profile, the first voice heard is the client's instead.
        """
        self.embed = embed
        self.swap = swap and profile is None
        self.voices: dict[Role, np.ndarray] = {}
        self._weight: dict[Role, float] = {}
        self._anchored = profile is not None
        if profile is not None:
            self.voices[Role.COUNSELLOR] = profile / (np.linalg.norm(profile) or 1.0)
            self.note = "Roles: the counsellor is recognised by the enrolled voice."
        else:
            first = "client" if swap else "counsellor"
            self.note = f"Roles: no enrolled voice, so the first voice heard is taken as the {first}'s."

    def role(self, window: SpeechWindow) -> Role:
        """The role whose voice the window sounds nearer to (the first window founds the first voice)."""
        vector = self.embed(window.samples)
        reliable = window.duration_s >= RELIABLE_S
        if not self.voices:
            first = Role.CLIENT if self.swap else Role.COUNSELLOR
            if reliable:  # a click or a word cut short would found a voice no one has
                self._learn(first, vector, window.duration_s)
            return first
        known = next(iter(self.voices))
        if len(self.voices) == 1:
            if float(vector @ self.voices[known]) > NEW_VOICE or not reliable:
                self._learn(known, vector, window.duration_s if reliable else 0.0)
                return known
            other = Role.CLIENT if known is Role.COUNSELLOR else Role.COUNSELLOR
            self._learn(other, vector, window.duration_s)
            return other
        role = max(self.voices, key=lambda r: float(vector @ self.voices[r]))
        if reliable:
            self._learn(role, vector, window.duration_s)
        return role

    def _learn(self, role: Role, vector: np.ndarray, weight: float) -> None:
        """Fold a window into a role's running voice (an enrolled profile stays as enrolled)."""
        if role is Role.COUNSELLOR and self._anchored:
            return
        if role not in self.voices:
            self.voices[role], self._weight[role] = vector, max(weight, 1e-3)
            return
        total = self._weight[role] + weight
        mean = (self.voices[role] * self._weight[role] + vector * weight) / total
        self.voices[role], self._weight[role] = mean / (np.linalg.norm(mean) or 1.0), total
