"""The voice: what is said for a call, in which order, and the audio that real espeak-ng renders."""

from __future__ import annotations

import itertools
import os
import threading
import time
from datetime import datetime
from datetime import time as clock
from pathlib import Path

import numpy as np
import pytest
from helpers.halls import TZ, small_hall

from displays.clips import generate_clips, missing_clips
from displays.view_model import Call
from displays.voice import SAMPLE_RATE, ClipsBackend, EspeakBackend, Voice, chime, render_announcement
from displays.voice_queue import AnnouncementQueue, is_quiet_time
from displays.voice_text import announcement, english_tokens, mandarin_tokens
from yichuang.config_model import OpeningRule


def call(ticket: str, window: str = "w03", recall: bool = False) -> Call:
    n = int(window[1:])
    return Call(ticket, window, f"{n}号窗口", f"Window {n}", recall=recall)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


# -- what is said ------------------------------------------------------------------------


def test_ticket_digits_are_read_one_by_one_and_the_window_number_as_a_number():
    zh = mandarin_tokens("A012", "3号窗口")
    assert [t.text for t in zh] == ["请", "A", "0", "1", "2", "号", "到", "3", "号窗口", "办理"]
    assert " ".join(t.speech for t in zh) == "qing3 A ling2 yi1 er4 hao4 dao4 san1 hao4 chuang1 kou3 ban4 li3"
    assert [t.speech for t in mandarin_tokens("B105", "12号窗口")][7:9] == ["shi2", "er4"]  # 十二号窗口
    assert [t.speech for t in mandarin_tokens("B105", "20号窗口")][7:9] == ["er4", "shi2"]
    en = " ".join(t.speech for t in english_tokens("A012", "Window 12"))
    assert en == "Number A zero one two , please go to Window twelve"


def test_an_announcement_is_a_chime_then_mandarin_then_english_when_configured():
    parts = announcement("A012", "3号窗口", "Window 3")
    assert [p.lang for p in parts] == ["chime", "zh", "en"]
    assert parts[1].text == "请A012号到3号窗口办理"
    assert [p.lang for p in announcement("A012", "3号窗口", "Window 3", english=False, chime=False)] == ["zh"]


# -- in which order ----------------------------------------------------------------------


def test_a_burst_of_calls_is_read_in_the_order_called():
    q = AnnouncementQueue()
    for n in range(20):
        q.offer(call(f"A{n:03d}"), now=0.0, event_id=f"e{n}")
    assert [q.take(1.0).call.ticket for _ in range(20)] == [f"A{n:03d}" for n in range(20)]
    assert q.take(1.0) is None


def test_a_call_superseded_by_a_recall_of_the_same_ticket_is_read_once():
    q = AnnouncementQueue()
    q.offer(call("A001"), 0.0, "e1")
    q.offer(call("A002"), 0.0, "e2")
    q.offer(call("A001", recall=True), 0.5, "e3")
    q.offer(call("A002"), 0.6, "e2")  # the same event delivered twice (QoS 1)
    taken = [q.take(1.0) for _ in range(2)]
    assert [(p.call.ticket, p.call.recall) for p in taken] == [("A001", True), ("A002", False)]
    assert q.take(1.0) is None


def test_a_call_that_waited_too_long_is_not_read():
    q = AnnouncementQueue(max_wait_s=60)
    q.offer(call("A001"), 0.0)
    q.offer(call("A002"), 50.0)
    assert q.take(70.0).call.ticket == "A002"


def test_quiet_times_follow_the_days_and_hours_in_config():
    lunch = (OpeningRule(frozenset(range(5)), clock(12, 0), clock(13, 30)),)
    monday = datetime(2026, 11, 23, 12, 15, tzinfo=TZ)
    assert is_quiet_time(lunch, monday)
    assert not is_quiet_time(lunch, monday.replace(hour=13, minute=30))
    assert not is_quiet_time(lunch, datetime(2026, 11, 28, 12, 15, tzinfo=TZ))  # Saturday


class GatedPlayer:
    """A loudspeaker that records when each sound plays, holding the first until released."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.spans: list[tuple[float, float]] = []

    def play(self, samples: np.ndarray) -> None:
        start = time.monotonic()
        if not self.spans:
            self.gate.wait(5)
        time.sleep(0.005)
        self.spans.append((start, time.monotonic()))

    def stop(self) -> None:
        self.gate.set()


def test_voice_reads_one_call_at_a_time_and_a_waiting_call_superseded_by_a_recall_once():
    spoken: list[str] = []
    player = GatedPlayer()
    voice = Voice(
        EspeakBackend(), player, on_spoken=lambda s: spoken.append(s.call.ticket + "r" * s.call.recall)
    )
    voice.start()
    try:
        voice.offer(call("A001"), "e1")
        deadline = time.monotonic() + 5
        while voice.idle() and time.monotonic() < deadline:
            time.sleep(0.005)  # A001 is playing (held at the gate)
        voice.offer(call("A002"), "e2")
        voice.offer(call("A003"), "e3")
        voice.offer(call("A002", recall=True), "e4")
        player.gate.set()
        assert voice.wait_idle(15)
    finally:
        voice.stop()
    assert spoken == ["A001", "A002r", "A003"]
    assert all(a[1] <= b[0] for a, b in zip(player.spans, player.spans[1:], strict=False))


# -- the audio ---------------------------------------------------------------------------


def test_the_announcement_of_A012_to_window_3_is_audible_in_order_and_of_plausible_length():
    espeak = EspeakBackend()
    parts = announcement("A012", "3号窗口", "Window 3")
    audio = render_announcement(espeak, parts)
    pieces = [espeak.render(p) for p in parts]
    seconds = [len(p) / SAMPLE_RATE for p in pieces]
    assert 0.9 < seconds[0] < 1.5  # the chime
    assert 2.0 < seconds[1] < 7.0  # 请 A 零 一 二 号 到 三 号窗口 办理: 13 syllables
    assert 2.0 < seconds[2] < 7.0
    assert all(rms(p) > 1000 for p in pieces), [rms(p) for p in pieces]
    # in order: chime, pause, Mandarin, pause, English, exactly
    gap = round(0.25 * SAMPLE_RATE)
    at = 0
    for piece in pieces:
        assert np.array_equal(audio[at : at + len(piece)], piece)
        at += len(piece) + gap
    assert len(audio) == at - gap
    # the chime's first note is G5
    spectrum = np.abs(np.fft.rfft(pieces[0][: SAMPLE_RATE // 4].astype(np.float64)))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / (SAMPLE_RATE // 4) - 784) < 10


def test_a_clips_folder_is_generated_once_and_read_clip_by_clip(tmp_path):
    windows = small_hall().windows
    assert generate_clips(tmp_path, windows) > 50
    assert missing_clips(tmp_path, windows) == []
    (tmp_path / "zh" / "请.wav").write_bytes(
        (tmp_path / "zh" / "到.wav").read_bytes()
    )  # a hall's own recording
    assert generate_clips(tmp_path, windows) == 0  # kept, not overwritten
    clips = ClipsBackend(tmp_path)
    zh = announcement("A012", "3号窗口", "Window 3")[1]
    audio = clips.render(zh)
    expected = [clips.clip(t.key) for t in zh.tokens]
    assert all(rms(c) > 500 for c in expected)
    gap = round(0.03 * SAMPLE_RATE)
    assert len(audio) == sum(len(c) for c in expected) + gap * (len(expected) - 1)
    at = 0
    for clip in expected:
        assert np.array_equal(audio[at : at + len(clip)], clip)
        at += len(clip) + gap
    assert np.array_equal(clips.clip("chime"), chime())


def test_no_overlap_under_a_burst_of_20_calls_through_the_real_mixer(tmp_path):
    # SDL's disk audio driver: the real mixer and channel, writing the sound to a file as fast as it can
    import pygame

    pygame.mixer.quit()
    os.environ.update(
        SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=str(tmp_path / "out.raw"), SDL_DISKAUDIODELAY="0"
    )
    try:
        from displays.voice import MixerPlayer

        player = MixerPlayer()
        spoken = []
        voice = Voice(EspeakBackend(), player, english=False, on_spoken=spoken.append)
        voice.start()
        for n in range(20):
            voice.offer(call(f"A{n:03d}", f"w0{1 + n % 3}"), f"e{n}")
        assert voice.wait_idle(30)
        voice.stop()
    finally:
        pygame.mixer.quit()
        for key in ("SDL_AUDIODRIVER", "SDL_DISKAUDIOFILE", "SDL_DISKAUDIODELAY"):
            os.environ.pop(key, None)
    assert [s.call.ticket for s in spoken] == [f"A{n:03d}" for n in range(20)]
    assert all(a.ended <= b.started for a, b in itertools.pairwise(spoken))
    # the device received at least every announcement end to end
    written = Path(tmp_path / "out.raw").stat().st_size
    assert written >= sum(s.samples for s in spoken) * 2


@pytest.mark.parametrize("ticket", ["A1000", "C007"])
def test_long_and_short_numbers_render(ticket):
    audio = render_announcement(EspeakBackend(), announcement(ticket, "9号窗口", "Window 9"))
    assert rms(audio) > 1000
