"""The live path: audio blocks in, coded utterances and running figures out.

`feed` runs on the audio thread and only resamples and runs the VAD (milliseconds per
block). Each speech window that ends goes into a bounded queue; one worker thread
decides its role, transcribes it with context, joins it to its speaker's utterance and
codes a counsellor utterance, with the client turn before it, as soon as it ends. When
the worker falls behind, waiting windows are transcribed together (trainer.live.windows);
if the queue is ever full, windows are left out of the live view only, and the figures
say how much: the recording on disk is written by the recorder and never skips a sample.
"""

from __future__ import annotations

import bisect
import logging
import queue
import threading
from dataclasses import dataclass, field, replace

import numpy as np

from trainer.coding import DEFAULT_CODER, Coder, load_coder
from trainer.coding.network import NO_NEIGHBOUR, links_of
from trainer.live.roles import ChannelRoles, RoleTracker, VoiceRoles
from trainer.live.stats import RECENT, LiveStats, nudges
from trainer.live.vad import SAMPLE_RATE, Segmenter, SegmenterOptions, SpeechWindow
from trainer.live.windows import batch, context_of, transcribe_windows
from trainer.schema import CodedUtterance, Role, Utterance, Word
from trainer.scoring.metrics import compute_metrics
from trainer.scoring.utterances import MAX_PAUSE_S, is_backchannel
from trainer.speakers.enrol import load_profile
from trainer.speech.level import LevelMeter
from trainer.speech.transcribe import TranscribeOptions, load_model
from trainer.threads import torch_threads

log = logging.getLogger("trainer")


@dataclass(frozen=True)
class LiveOptions:
    """How the live path listens; the final score uses the ordinary pipeline's options."""

    transcribe: TranscribeOptions = field(default_factory=lambda: TranscribeOptions(beam_size=1))
    coder: str = DEFAULT_CODER  # name in trainer.coding.CODERS
    segmenter: SegmenterOptions = field(default_factory=lambda: SegmenterOptions(min_silence_s=0.2))
    swap_roles: bool = False  # the counsellor is the right channel, or the second voice heard
    counsellor_voice: str | None = None  # an enrolled name or a recording: one microphone's roles anchor on it
    max_waiting: int = 64  # windows that may wait for the worker; more are left out of the live view


@dataclass(frozen=True)
class CodedEvent:
    """When a counsellor utterance got its (latest) code, for latency figures."""

    utterance_end_s: float  # end of the utterance in the stream
    heard_s: float  # stream time already heard when the code appeared


def default_roles(options: LiveOptions, channels: int) -> RoleTracker:
    """By channel for stereo; else by voice, anchored on the enrolled voice or the first voice heard.

    Raises:
        TrainerError: the enrolled voice named cannot be found or used.
    """
    if channels == 2:
        return ChannelRoles(options.swap_roles)
    profile = load_profile(options.counsellor_voice) if options.counsellor_voice else None
    return VoiceRoles(profile=profile, swap=options.swap_roles)


class LiveSession:
    """Listens to a stream of blocks and keeps running figures of the conversation."""

    def __init__(
        self,
        samplerate: int,
        channels: int = 1,
        options: LiveOptions = LiveOptions(),
        roles: RoleTracker | None = None,
        coder: Coder | None = None,
    ) -> None:
        """Start the worker; models load on it while the first words are heard.

        Args:
            samplerate: rate of the blocks given to `feed`.
            channels: 2 for one microphone per person (roles by channel), else 1.
            options: decoding, coder and VAD settings.
            roles: how to tell counsellor from client; default `default_roles`.
            coder: a loaded coder (default: `options.coder`, loaded on the worker).
        """
        self.options, self.samplerate, self.channels = options, samplerate, channels
        self.roles = roles or default_roles(options, channels)
        self.coder = coder
        self._segmenters = [Segmenter(options.segmenter, c) for c in range(channels if channels == 2 else 1)]
        self._resampler = _Resampler(samplerate, channels)
        self._waiting: queue.Queue[SpeechWindow | None] = queue.Queue(maxsize=options.max_waiting)
        self._lock = threading.Lock()
        self._heard = 0  # samples at SAMPLE_RATE fed so far
        self._meter = LevelMeter()  # how far speech stands above the room, over all heard so far
        self._noise_db: float | None = None
        self._waiting_s = self._skipped_s = 0.0
        self._talk = {Role.COUNSELLOR: 0.0, Role.CLIENT: 0.0}
        self._coded: list[CodedUtterance] = []
        self._run_start: float | None = None  # start of the counsellor's current stretch of talk
        self._last_end = {Role.COUNSELLOR: 0.0, Role.CLIENT: 0.0}
        self._ready = False
        self.events: list[CodedEvent] = []
        self.errors: list[str] = []
        self._worker = threading.Thread(target=self._work, name="live-worker", daemon=True)
        self._worker.start()

    @property
    def heard_s(self) -> float:
        """Seconds of audio fed so far."""
        return self._heard / SAMPLE_RATE

    def feed(self, block: np.ndarray) -> None:
        """Take a (frames, channels) block at `samplerate`; never blocks the caller."""
        samples = self._resampler(block)
        self._heard += samples.shape[1]
        self._meter.add(samples.mean(axis=0))
        self._noise_db = self._meter.speech_over_background_db()
        for segmenter in self._segmenters:
            for window in segmenter.feed(samples):
                self._enqueue(window)

    def finish(self, wait: bool = True) -> None:
        """End the stream: speech still going on is closed; with `wait`, everything heard is coded."""
        for segmenter in self._segmenters:
            for window in segmenter.flush():
                self._enqueue(window, block=True)
        if not wait:  # drop what waits: the final score does not need it
            while True:
                try:
                    self._waiting.get_nowait()
                except queue.Empty:
                    break
        self._waiting.put(None)
        self._worker.join()

    def coded(self) -> tuple[CodedUtterance, ...]:
        """The utterances so far, counsellor ones with their latest code."""
        with self._lock:
            return tuple(self._coded)

    def snapshot(self) -> LiveStats:
        """The running figures now (safe from any thread)."""
        with self._lock:
            coded = tuple(self._coded)
            speaking = any(s.speaking_since is not None for s in self._segmenters)
            run = 0.0
            if self._run_start is not None:
                run = (self.heard_s if speaking else self._last_end[Role.COUNSELLOR]) - self._run_start
            return LiveStats(
                elapsed_s=self.heard_s,
                talk_s=tuple(self._talk.items()),
                metrics=compute_metrics(coded),
                recent=tuple(c for c in coded if c.code is not None)[-RECENT:],
                nudges=nudges(run, [c for c in coded if c.code is not None]),
                roles_note=self.roles.note,
                waiting_s=self._waiting_s,
                skipped_s=self._skipped_s,
                ready=self._ready,
                error=self.errors[-1] if self.errors else "",
                one_microphone=self.channels != 2,
                speech_over_background_db=self._noise_db,
            )

    def _enqueue(self, window: SpeechWindow, block: bool = False) -> None:
        """Hand a window to the worker; from the audio thread, leave it out of the view if too much waits."""
        try:
            self._waiting.put(window, block=block)
        except queue.Full:
            with self._lock:
                self._skipped_s += window.duration_s
            return
        with self._lock:
            self._waiting_s += window.duration_s

    def _work(self) -> None:
        """Worker loop: load models, then take waiting windows in batches until told to stop."""
        try:
            t = self.options.transcribe
            load_model(t.model, t.compute_type, t.cpu_threads)
            self.coder = self.coder or load_coder(self.options.coder)
        except Exception as e:  # noqa: BLE001 - reported on the panel; the recording goes on
            self.errors.append(f"live feedback is off: {e}")
            self._drain()
            return
        self._ready = True
        pending: list[SpeechWindow] = []
        stop = False
        while pending or not stop:
            if not pending:
                item = self._waiting.get()
                stop = item is None
                pending += [] if stop else [item]
            while not stop:  # take whatever else waits, to catch up in one call
                try:
                    item = self._waiting.get_nowait()
                except queue.Empty:
                    break
                stop = item is None
                pending += [] if stop else [item]
            if pending:
                n = batch(pending)
                try:
                    self._process(pending[:n])
                except Exception as e:  # noqa: BLE001 - one bad window must not end live feedback
                    log.warning("live view: a stretch of speech could not be processed (%s)", e)
                pending = pending[n:]

    def _drain(self) -> None:
        while self._waiting.get() is not None:
            pass

    def _process(self, windows: list[SpeechWindow]) -> None:
        """Role, words and codes for windows taken together."""
        roles = [self.roles.role(w) for w in windows]
        kept = [(w, r) for w, r in zip(windows, roles) if r is not None]
        with self._lock:
            texts = [c.text for c in self._coded]
        words = transcribe_windows([w for w, _ in kept], self.options.transcribe, context_of(texts)) if kept else []
        for (window, role), said in sorted(zip(kept, words), key=lambda x: x[0][0].start):
            self._add(window, role, said)
        with self._lock:
            self._waiting_s = max(0.0, self._waiting_s - sum(w.duration_s for w in windows))

    def _add(self, window: SpeechWindow, role: Role, words: tuple[Word, ...]) -> None:
        """Join a window's words to its speaker's utterance and code it if it is the counsellor's."""
        with self._lock:
            self._talk[role] += window.duration_s
            self._track_run(window, role, words)
            if not words:
                return
            text = " ".join(w.text for w in words)
            start, end = round(words[0].start, 2), round(max(w.end for w in words), 2)
            j = self._continues(role, start)
            if j is None:  # a new utterance, in order of start (stereo voices may overlap)
                j = bisect.bisect_right([c.utterance.start or 0.0 for c in self._coded], start)
                self._coded.insert(j, CodedUtterance(Utterance(role, text, start, end)))
            else:  # it keeps its code until coded again below, so the panel's counts never dip meanwhile
                u = self._coded[j].utterance
                grown = replace(u, text=f"{u.text} {text}", end=max(u.end or end, end))
                self._coded[j] = replace(self._coded[j], utterance=grown)
            if role is Role.COUNSELLOR:
                targets = [j]
            else:  # the client's answer is context the offline coder also reads: code again with it
                targets = [i for i in _answered_by(self._coded, j) if self._coded[i].code is not None]
            contexts = [(i, *_context(self._coded, i)) for i in targets]
        for i, lo, utterances in contexts:  # only this worker thread changes the utterances
            code = _code_in(self.coder, utterances, i - lo)
            with self._lock:
                self._coded[i] = code
                if role is Role.COUNSELLOR:  # a first code, or a new one as it grew; not a re-read
                    self.events.append(CodedEvent(code.utterance.end or window.end, self.heard_s))

    def _continues(self, role: Role, start: float) -> int | None:
        """Index of the role's utterance that this speech continues, if any.

        As in trainer.utterances: a turn goes on over a pause shorter than MAX_PAUSE_S
        when the other side said nothing in between but listening noises.
        """
        for j in range(len(self._coded) - 1, -1, -1):
            c = self._coded[j]
            if c.speaker is role:
                return j if start - (c.utterance.end or start) < MAX_PAUSE_S else None
            if not all(is_backchannel(Word(0, 0, t)) for t in c.text.split()):
                return None
        return None

    def _track_run(self, window: SpeechWindow, role: Role, words: tuple[Word, ...]) -> None:
        """Follow the counsellor's current stretch of talk, for the long-turn nudge."""
        if role is Role.COUNSELLOR:
            if self._run_start is None or window.start - self._last_end[Role.COUNSELLOR] >= MAX_PAUSE_S:
                self._run_start = window.start
        elif words and not all(is_backchannel(w) for w in words):
            self._run_start = None
        self._last_end[role] = max(self._last_end[role], window.end)


def _answered_by(coded: list[CodedUtterance], j: int) -> list[int]:
    """Counsellor utterances whose next client turn is the one at `j`."""
    found = []
    for i in range(j - 1, -1, -1):
        if coded[i].speaker is Role.CLIENT:
            break
        found.append(i)
    return found


def _context(coded: list[CodedUtterance], i: int) -> tuple[int, list[Utterance]]:
    """The stretch around utterance `i` that the coder reads for it, and where it starts.

    The coder looks at the other side's previous and next turn and the speaker's own
    previous turn (`links_of`), so the stretch runs from that own turn to the next turn of
    the other side, as far as they have been heard.
    """
    prev_other, next_other, prev_own = links_of([c.speaker for c in coded], i)
    lo = min(k for k in (prev_own, prev_other, i) if k != NO_NEIGHBOUR)
    hi = i if next_other == NO_NEIGHBOUR else next_other
    return lo, [c.utterance for c in coded[lo : hi + 1]]


def _code_in(coder: Coder, utterances: list[Utterance], at: int) -> CodedUtterance:
    """Code utterance `at` of a stretch in its context, on one torch thread.

    Two threads ran this small model several times slower on a busy 2-core machine (the
    same finding as trainer.diarize's encoder), and Whisper needs the cores meanwhile.
    """
    with torch_threads(1):
        return coder.code(utterances)[at]


class _Resampler:
    """Blocks at any rate to (channels, n) float32 at SAMPLE_RATE, filter state kept between blocks."""

    def __init__(self, samplerate: int, channels: int) -> None:
        import av

        self.channels = channels
        self.layout = "stereo" if channels == 2 else "mono"
        self.rate = samplerate
        self._av = av
        self._resampler = None
        if samplerate != SAMPLE_RATE:
            self._resampler = av.AudioResampler(format="flt", layout=self.layout, rate=SAMPLE_RATE)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        block = np.ascontiguousarray(block, dtype=np.float32).reshape(-1, self.channels)
        if self._resampler is None:
            return block.T
        frame = self._av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout=self.layout)
        frame.sample_rate = self.rate
        out = [f.to_ndarray().reshape(-1, self.channels) for f in self._resampler.resample(frame)]
        return np.concatenate(out).T if out else np.zeros((self.channels, 0), dtype=np.float32)
