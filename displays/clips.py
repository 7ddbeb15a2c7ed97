"""A folder of voice clips for `ClipsBackend`, generated once from espeak-ng.

Halls often replace these with an announcer's recordings: same names, any 16-bit WAV.
`generate_clips` writes only the clips that are missing, so recordings put there are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from displays.voice import EspeakBackend, chime, write_wav
from displays.voice_text import CHIME, clip_keys
from yichuang.config_model import WindowConfig

__all__ = ["generate_clips", "missing_clips"]

log = logging.getLogger(__name__)


def _needed(windows: Iterable[WindowConfig]) -> dict[str, object]:
    return dict(clip_keys((w.label, w.label_en) for w in windows))


def missing_clips(folder: Path, windows: Iterable[WindowConfig]) -> list[str]:
    """Keys of the clips the folder lacks for these windows' announcements."""
    return sorted(key for key in _needed(windows) if not (Path(folder) / f"{key}.wav").is_file())


def generate_clips(folder: Path, windows: Iterable[WindowConfig], espeak: EspeakBackend | None = None) -> int:
    """Write every missing clip for these windows from espeak-ng; returns how many were written."""
    folder = Path(folder)
    tokens = clip_keys((w.label, w.label_en) for w in windows)
    engine = espeak or EspeakBackend()
    written = 0
    for key, token in sorted(tokens.items()):
        path = folder / f"{key}.wav"
        if path.is_file():
            continue
        lang = key.split("/", 1)[0]
        samples = chime() if token == CHIME else engine.speak(lang, token.speech)
        write_wav(path, samples)
        written += 1
    if written:
        log.info("event=voice_clips_generated folder=%s count=%d", folder, written)
    return written
