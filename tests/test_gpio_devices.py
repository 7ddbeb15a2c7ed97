"""GPIO buttons, lamps and buzzers on gpiozero's MockFactory: pins driven, states asserted."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from firmware_bridge.gpio_devices import (
    Buzzer,
    HelpButton,
    PinBackendUnavailable,
    StatusLed,
    WiredCallButton,
    make_pin_factory,
)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pin_factory = make_pin_factory("mock")
    assert isinstance(pin_factory, MockFactory)
    try:
        yield pin_factory
    finally:
        pin_factory.reset()


class HandClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def press(pin) -> None:
    pin.drive_low()  # buttons pull up; pressing connects the pin to ground
    pin.drive_high()


def test_wired_call_button_calls_next_once_per_press(factory):
    clock = HandClock()
    presses: list[str] = []
    button = WiredCallButton(17, lambda: presses.append("call_next"), pin_factory=factory, clock=clock)
    pin = factory.pin(17)
    press(pin)
    clock.now += 1
    press(pin)
    assert presses == ["call_next", "call_next"] and button.presses == 2
    button.close()


def test_contact_bounce_within_50_ms_is_one_press(factory):
    clock = HandClock()
    presses: list[int] = []
    button = WiredCallButton(17, lambda: presses.append(1), pin_factory=factory, clock=clock)
    assert button.bounce_time == 0.05
    pin = factory.pin(17)
    for _ in range(4):  # a bouncing contact: several edges inside 30 ms
        press(pin)
        clock.now += 0.01
    assert presses == [1]
    clock.now += 0.05
    press(pin)
    assert presses == [1, 1]
    button.close()


def test_a_failing_press_handler_does_not_stop_later_presses(factory):
    clock = HandClock()
    calls: list[int] = []

    def handler() -> None:
        calls.append(1)
        raise RuntimeError("broker gone")

    button = WiredCallButton(17, handler, pin_factory=factory, clock=clock)
    pin = factory.pin(17)
    press(pin)
    clock.now += 1
    press(pin)
    assert calls == [1, 1]
    button.close()


def test_help_button_makes_one_request_per_wait(factory):
    clock = HandClock()
    requests: list[int] = []
    button = HelpButton(27, lambda: requests.append(1), pin_factory=factory, cooldown_s=10, clock=clock)
    pin = factory.pin(27)
    for _ in range(5):  # an impatient citizen
        press(pin)
        clock.now += 1
    assert requests == [1]
    clock.now += 10
    press(pin)
    assert requests == [1, 1]
    button.close()


def test_status_led_follows_the_window(factory):
    led = StatusLed(22, pin_factory=factory)
    pin = factory.pin(22)
    assert led.show({"status": "idle", "ticket": None}) == "on" and pin.state
    assert led.show({"status": "paused", "ticket": None}) == "off" and not pin.state
    assert led.show({"status": "idle", "ticket": None}) == "on"
    assert led.show({"status": "closed", "ticket": None}) == "off" and not pin.state
    assert led.show(None) == "off"
    pin.assert_states([False, True, False, True, False])
    led.close()


def test_status_led_blinks_after_a_call_then_stays_on(factory):
    led = StatusLed(22, pin_factory=factory, blink_s=0.3, on_time=0.05, off_time=0.05)
    pin = factory.pin(22)
    assert led.show({"status": "calling", "ticket": "A001", "recall_count": 0}) == "blink"
    wait_until(lambda: led.mode == "on")
    assert pin.state
    toggles = [s.state for s in pin.states]
    assert toggles[:4] == [False, True, False, True]  # it really blinked before settling
    # the same state again (a broker restart republishes it) does not blink again
    pin.clear_states()
    assert led.show({"status": "calling", "ticket": "A001", "recall_count": 0}) == "on"
    assert [s.state for s in pin.states] == [True]
    # a recall is a new call
    assert led.show({"status": "calling", "ticket": "A001", "recall_count": 1}) == "blink"
    led.close()


def test_pausing_during_the_blink_turns_the_lamp_off_for_good(factory):
    led = StatusLed(22, pin_factory=factory, blink_s=0.1, on_time=0.02, off_time=0.02)
    pin = factory.pin(22)
    led.show({"status": "calling", "ticket": "A001", "recall_count": 0})
    assert led.show({"status": "paused", "ticket": None}) == "off"
    time.sleep(0.15)  # past the blink time: the stale timer must not relight the lamp
    assert led.mode == "off" and not pin.state
    led.close()


def test_buzzer_beeps_n_times(factory):
    buzzer = Buzzer(5, pin_factory=factory)
    pin = factory.pin(5)
    buzzer.beep(3, on_time=0.01, off_time=0.01, wait=True)
    pin.assert_states([False, True, False, True, False, True, False])
    assert not buzzer.is_active
    buzzer.close()


def test_mock_factory_only_when_asked_for():
    with pytest.raises(ValueError, match="unknown GPIO backend"):
        make_pin_factory("simulated")


@pytest.mark.parametrize("kind", ["native", "lgpio", "rpigpio"])
def test_a_missing_real_backend_is_an_error_not_a_mock(kind):
    try:
        factory = make_pin_factory(kind)
    except PinBackendUnavailable as exc:
        assert kind in str(exc) and "mock" in str(exc)
    else:  # running on a real Raspberry Pi with the library installed
        assert not isinstance(factory, MockFactory)
        factory.close()
