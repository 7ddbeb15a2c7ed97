"""The voice of the hall: announcements rendered to audio and played one at a time.

Two backends render an `Utterance` (`voice_text`) to 16-bit mono samples at `SAMPLE_RATE`:

- `EspeakBackend`: espeak-ng, Mandarin through its `cmn-latn-pinyin` voice (fed pinyin) and
  English through `en`; each utterance is read in one go, so its prosody is natural.
- `ClipsBackend`: a folder of recorded clips (`zh/3.wav`, `zh/号窗口.wav`, `chime.wav` …)
  concatenated, which halls often prefer (a real announcer's voice). `clips.generate_clips`
  fills such a folder from espeak-ng once, so a demo has one.

`Voice` owns the queue (`voice_queue.AnnouncementQueue`) and one thread that renders the next
call and plays it to the end before taking another, so announcements never overlap. The
`Player` is pygame.mixer on a reserved channel (`MixerPlayer`), or anything with `play(samples)`.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from displays.view_model import Call
from displays.voice_queue import AnnouncementQueue, Pending
from displays.voice_text import Utterance, announcement

__all__ = [
    "SAMPLE_RATE",
    "Audio",
    "ClipsBackend",
    "EspeakBackend",
    "MissingClip",
    "MixerPlayer",
    "Player",
    "SpeechBackend",
    "Voice",
    "VoiceError",
    "chime",
    "read_wav",
    "render_announcement",
    "write_wav",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050  # espeak-ng's own rate; clips are converted to it
Audio = npt.NDArray[np.int16]
_GAP_S = 0.25  # between chime, Mandarin and English
_TOKEN_GAP_S = 0.03  # between clips


class VoiceError(RuntimeError):
    """An announcement could not be rendered."""


class MissingClip(VoiceError, FileNotFoundError):
    """A clips folder lacks a clip an announcement needs."""


class SpeechBackend(Protocol):
    """Renders one utterance to samples."""

    def render(self, utterance: Utterance) -> Audio: ...


class Player(Protocol):
    """Plays samples to the end (blocking), or until `stop()`."""

    def play(self, samples: Audio) -> None: ...

    def stop(self) -> None: ...


def silence(seconds: float) -> Audio:
    """That many seconds of silence."""
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def chime() -> Audio:
    """A two-note ding-dong (G5, E5) with soft decay: the hall's "attention, a call" sound."""
    out = []
    for freq, seconds in ((784.0, 0.45), (659.3, 0.75)):
        t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        tone = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(2 * np.pi * 2 * freq * t)
        envelope = np.exp(-t * 4.0) * np.minimum(1.0, t / 0.01)  # 10 ms attack: no click
        out.append(tone * envelope)
    wave_ = np.concatenate(out)
    return (wave_ / np.max(np.abs(wave_)) * 0.6 * 32767).astype(np.int16)


def read_wav(data: bytes | Path) -> Audio:
    """A 16-bit PCM WAV (mono or stereo, any rate) as mono samples at SAMPLE_RATE."""
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with wave.open(source, "rb") as w:
        if w.getsampwidth() != 2:
            raise VoiceError(f"only 16-bit PCM WAV is supported, got {8 * w.getsampwidth()}-bit")
        rate, channels = w.getframerate(), w.getnchannels()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if rate != SAMPLE_RATE and len(samples):
        # linear resampling is plenty for speech clips recorded at 16-48 kHz
        n = round(len(samples) * SAMPLE_RATE / rate)
        samples = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples).astype(
            np.int16
        )
    return samples.astype(np.int16)


def write_wav(path: Path, samples: Audio) -> None:
    """Write mono samples at SAMPLE_RATE as a 16-bit WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    tmp.replace(path)  # a half-written clip must never be played


def _trim(samples: Audio, threshold: int = 200) -> Audio:
    """Cut leading and trailing silence (espeak pads each utterance generously)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if not len(loud):
        return samples[:0]
    pad = round(0.02 * SAMPLE_RATE)
    return samples[max(0, loud[0] - pad) : loud[-1] + pad]


class EspeakBackend:
    """espeak-ng rendering each utterance to WAV on stdout (about 20 ms for a call on a PC)."""

    VOICES: ClassVar[dict[str, str]] = {"zh": "cmn-latn-pinyin", "en": "en"}

    def __init__(self, executable: str | None = None, speed_wpm: int = 150) -> None:
        found = executable or shutil.which("espeak-ng")
        if not found:
            raise VoiceError("espeak-ng not found (Debian package espeak-ng)")
        self.executable = found
        self.speed_wpm = speed_wpm
        self._chime = chime()

    def speak(self, lang: str, speech: str) -> Audio:
        """`speech` read by the voice of `lang`, silence trimmed."""
        try:
            result = subprocess.run(
                [self.executable, "-v", self.VOICES[lang], "-s", str(self.speed_wpm), "--stdout", speech],
                capture_output=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise VoiceError(f"espeak-ng failed: {exc}") from exc
        return _trim(read_wav(result.stdout))

    def render(self, utterance: Utterance) -> Audio:
        """Samples for one utterance."""
        if utterance.lang == "chime":
            return self._chime
        return self.speak(utterance.lang, utterance.speech)


class ClipsBackend:
    """Recorded clips concatenated: `{folder}/{token key}.wav`, read once and kept in memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, Audio] = {}
        self._lock = threading.Lock()

    def clip(self, key: str) -> Audio:
        """One clip by key (`zh/3`), or MissingClip."""
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        path = self.folder / f"{key}.wav"
        if not path.is_file():
            raise MissingClip(f"no clip {path}")
        samples = read_wav(path)
        with self._lock:
            self._cache[key] = samples
        return samples

    def render(self, utterance: Utterance) -> Audio:
        """The utterance's clips in order, with a short breath between them."""
        gap = silence(_TOKEN_GAP_S)
        parts: list[Audio] = []
        for token in utterance.tokens:
            if parts:
                parts.append(gap)
            parts.append(self.clip(token.key))
        return np.concatenate(parts) if parts else silence(0)


def render_announcement(
    backend: SpeechBackend, utterances: Iterable[Utterance], fallback: SpeechBackend | None = None
) -> Audio:
    """The whole announcement: each utterance rendered, in order, with a pause between.

    With `fallback`, an utterance the backend cannot render (a clip missing) is rendered by it.
    """
    parts: list[Audio] = []
    for utterance in utterances:
        try:
            samples = backend.render(utterance)
        except MissingClip as exc:
            if fallback is None:
                raise
            log.warning("event=voice_clip_missing error=%s fallback=espeak", exc)
            samples = fallback.render(utterance)
        if parts:
            parts.append(silence(_GAP_S))
        parts.append(samples)
    return np.concatenate(parts) if parts else silence(0)


class MixerPlayer:
    """pygame.mixer on one reserved channel: a play waits until the previous sound has ended."""

    def __init__(self, volume: float = 1.0) -> None:
        import pygame

        self._pygame = pygame
        if not pygame.mixer.get_init():
            pygame.mixer.init(frequency=SAMPLE_RATE, size=-16, channels=1, buffer=1024)
        init = pygame.mixer.get_init()
        assert init is not None
        self.rate, _size, self.channels = init
        pygame.mixer.set_reserved(1)
        self._channel = pygame.mixer.Channel(0)
        self.volume = volume
        self._stop = threading.Event()

    def play(self, samples: Audio) -> None:
        """Play to the end; returns early on stop()."""
        data = samples
        if self.rate != SAMPLE_RATE and len(data):
            n = round(len(data) * self.rate / SAMPLE_RATE)
            data = np.interp(np.linspace(0, len(data) - 1, n), np.arange(len(data)), data).astype(np.int16)
        if self.channels > 1:
            data = np.repeat(data[:, None], self.channels, axis=1)
        sound = self._pygame.mixer.Sound(array=np.ascontiguousarray(data))
        sound.set_volume(self.volume)
        self._stop.clear()
        self._channel.play(sound)
        # the sound's own length bounds the wait, so a stuck audio device cannot hang the voice
        deadline = time.monotonic() + len(samples) / SAMPLE_RATE + 2.0
        while self._channel.get_busy() and not self._stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        self._channel.stop()

    def stop(self) -> None:
        """Cut the sound playing now."""
        self._stop.set()


@dataclass(frozen=True)
class Spoken:
    """One announcement played: what, and when it started and ended (monotonic seconds)."""

    call: Call
    text: str
    started: float
    ended: float
    samples: int


class Voice:
    """The announcement queue and the one thread that reads it aloud.

    `quiet(wall)` says whether to keep quiet at that hall time (quiet hours, zone muted,
    `--mute`); a call that arrives then is not announced, and one waiting is dropped.
    """

    def __init__(
        self,
        backend: SpeechBackend,
        player: Player,
        *,
        english: bool = True,
        chime: bool = True,
        quiet: Callable[[datetime], bool] = lambda _wall: False,
        wall_clock: Callable[[], datetime] = datetime.now,
        fallback: SpeechBackend | None = None,
        on_spoken: Callable[[Spoken], None] | None = None,
        queue: AnnouncementQueue | None = None,
    ) -> None:
        self.backend = backend
        self.player = player
        self.english = english
        self.chime = chime
        self.quiet = quiet
        self.wall_clock = wall_clock
        self.fallback = fallback
        self.on_spoken = on_spoken
        self.queue = queue or AnnouncementQueue()
        self.spoken = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the reading thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Cut the announcement playing, forget the waiting ones, and end the thread."""
        with self._cond:
            self._stopping = True
            self.queue.clear()
            self._cond.notify_all()
        self.player.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def offer(self, call: Call, event_id: str = "") -> bool:
        """Announce this call when its turn comes (unless quiet now). Returns whether it was queued."""
        if self.quiet(self.wall_clock()):
            log.info("event=voice_quiet ticket=%s window=%s", call.ticket, call.window)
            return False
        with self._cond:
            queued = self.queue.offer(call, time.monotonic(), event_id)
            self._cond.notify_all()
        return queued

    def clear(self) -> int:
        """Drop the calls waiting to be read (the one playing ends normally); returns how many."""
        with self._cond:
            return self.queue.clear()

    def idle(self) -> bool:
        """Nothing playing and nothing waiting."""
        with self._cond:
            return not self._busy and not len(self.queue)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until idle(); returns whether it became idle in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return self.idle()

    def _next(self) -> Pending | None:
        with self._cond:
            while not self._stopping:
                item = self.queue.take(time.monotonic())
                if item is not None:
                    self._busy = True
                    return item
                self._cond.wait(0.5)
        return None

    def _run(self) -> None:
        while (item := self._next()) is not None:
            try:
                self._say(item.call)
            except Exception:
                log.exception("event=voice_failed ticket=%s", item.call.ticket)
            finally:
                with self._cond:
                    self._busy = False

    def _say(self, call: Call) -> None:
        if self.quiet(self.wall_clock()):
            return
        parts = announcement(call.ticket, call.label, call.label_en, english=self.english, chime=self.chime)
        samples = render_announcement(self.backend, parts, self.fallback)
        text = " / ".join(p.text for p in parts if p.lang != "chime")
        started = time.monotonic()
        log.info("event=voice_announce ticket=%s window=%s recall=%s", call.ticket, call.window, call.recall)
        self.player.play(samples)
        self.spoken += 1
        if self.on_spoken is not None:
            self.on_spoken(Spoken(call, text, started, time.monotonic(), len(samples)))
