"""Elderly mode's spoken prompts: espeak-ng really says them, in Mandarin and English."""

from __future__ import annotations

import io
import shutil
import wave

import pytest

from kiosk.texts import t
from kiosk.voice_prompt import EspeakPrompter, speech_of


def test_chinese_prompts_are_read_from_tone_numbered_pinyin() -> None:
    assert speech_of("请选择要办理的业务", "zh") == "qing3 xuan3 ze2 yao4 ban4 li3 de5 ye4 wu4"
    assert speech_of("Choose a service", "en") == "Choose a service"


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make deps)")
@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_prompt_is_rendered_to_audible_speech(language: str) -> None:
    prompter = EspeakPrompter()
    try:
        wav = prompter.render(t("choose_service", language), language)
    finally:
        prompter.close()
    with wave.open(io.BytesIO(wav)) as audio:
        # espeak-ng streams to stdout: its header's frame count is a placeholder, the data is not
        frames = audio.readframes(audio.getnframes())
        seconds = len(frames) / (audio.getsampwidth() * audio.getnchannels()) / audio.getframerate()
    assert 0.8 < seconds < 6.0
    samples = memoryview(frames).cast("h")
    assert max(abs(x) for x in samples) > 2000  # not silence
