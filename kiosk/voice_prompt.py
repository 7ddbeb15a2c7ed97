"""Spoken prompts for elderly mode (适老化): what the screen asks, read aloud.

Prompts are short and only the newest matters: a citizen who taps on before a prompt is
read hears the prompt of the screen they are on, not a backlog of old ones.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from abc import ABC, abstractmethod

__all__ = ["EspeakPrompter", "Prompter", "RecordingPrompter", "speech_of"]

log = logging.getLogger(__name__)

# Debian's `cmn` voice misreads common characters (请, 号); its pinyin voice, fed
# tone-numbered pinyin, says them right.
VOICES = {"zh": "cmn-latn-pinyin", "en": "en"}


def speech_of(text: str, language: str) -> str:
    """What espeak-ng is given: tone-numbered pinyin for Chinese, the text itself otherwise."""
    if language != "zh":
        return text
    from pypinyin import Style, lazy_pinyin

    return " ".join(p for p in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True) if p.strip())


class Prompter(ABC):
    """Reads a sentence aloud, replacing any prompt not yet started."""

    @abstractmethod
    def say(self, text: str, language: str) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional for backends that hold nothing
        """Release the audio device."""


class RecordingPrompter(Prompter):
    """Keeps what it was asked to say: for tests, and for kiosks with the sound switched off."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    def say(self, text: str, language: str) -> None:
        self.said.append((text, language))


class EspeakPrompter(Prompter):
    """espeak-ng renders the sentence to WAV; pygame.mixer plays it."""

    def __init__(self, espeak: str = "espeak-ng", rate: int = 140) -> None:
        path = shutil.which(espeak)
        if path is None:
            raise FileNotFoundError(f"{espeak} not found: install espeak-ng for spoken prompts")
        self.espeak = path
        self.rate = rate
        self._wanted: tuple[str, str] | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="prompts", daemon=True)
        self._thread.start()

    def say(self, text: str, language: str) -> None:
        with self._cond:
            self._wanted = (text, language)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=2)

    def render(self, text: str, language: str) -> bytes:
        """The WAV bytes of `text` spoken in `language`."""
        voice = VOICES.get(language, VOICES["zh"])
        done = subprocess.run(
            [self.espeak, "-v", voice, "-s", str(self.rate), "--stdout", speech_of(text, language)],
            capture_output=True,
            timeout=10,
            check=True,
        )
        return done.stdout

    def _run(self) -> None:
        import io

        import pygame

        while True:
            with self._cond:
                while self._wanted is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                text, language = self._wanted  # type: ignore[misc]
                self._wanted = None
            try:
                wav = self.render(text, language)
                if not pygame.mixer.get_init():
                    pygame.mixer.init()
                pygame.mixer.stop()
                pygame.mixer.Sound(file=io.BytesIO(wav)).play()
            except (OSError, subprocess.SubprocessError, pygame.error) as exc:
                log.warning("prompt not spoken: %s", exc)
