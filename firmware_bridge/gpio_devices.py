"""GPIO devices of a window without a keypad and of kiosks, over gpiozero.

One class per device family (`WiredCallButton`, `HelpButton`, `StatusLed`, `Buzzer`); the
backend is a gpiozero pin factory chosen by argument (`make_pin_factory("lgpio")`, or
`"mock"` in tests and in `yichuang sim`). Every device takes its factory explicitly:
gpiozero's own default would consult `GPIOZERO_PIN_FACTORY` and quietly fall back
through the backends, and a bridge that silently drives mock pins in a hall is a window
whose button does nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import gpiozero
from gpiozero.pins import Factory

__all__ = [
    "PIN_FACTORY_KINDS",
    "Buzzer",
    "GpioError",
    "HelpButton",
    "PinBackendUnavailable",
    "StatusLed",
    "WiredCallButton",
    "make_pin_factory",
]

log = logging.getLogger(__name__)

PIN_FACTORY_KINDS = ("mock", "native", "lgpio", "rpigpio")

# The revision MockFactory pretends to be (a Pi 3B): passed explicitly because MockFactory
# otherwise reads it from the environment.
_MOCK_REVISION = "a02082"


class GpioError(Exception):
    """Base of the GPIO errors of the bridge."""


class PinBackendUnavailable(GpioError, RuntimeError):
    """The requested real GPIO backend cannot be used on this machine (no silent fallback)."""


def make_pin_factory(kind: str) -> Factory:
    """The gpiozero pin factory for `kind`: `mock`, `native`, `lgpio` or `rpigpio`.

    Raises ValueError for an unknown kind and PinBackendUnavailable when a real backend
    cannot be loaded here (library missing, not a Raspberry Pi, no /dev/gpiochip access).
    """
    if kind == "mock":
        from gpiozero.pins.mock import MockFactory, MockPin

        return MockFactory(revision=_MOCK_REVISION, pin_class=MockPin)
    try:
        if kind == "native":
            from gpiozero.pins.native import NativeFactory

            return NativeFactory()
        if kind == "lgpio":
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory()
        if kind == "rpigpio":
            from gpiozero.pins.rpigpio import RPiGPIOFactory

            return RPiGPIOFactory()
    except Exception as exc:  # ImportError, PinUnknownPi, OSError on /dev/gpiochip …
        raise PinBackendUnavailable(
            f"GPIO backend {kind!r} is not available on this machine: {type(exc).__name__}: {exc}"
            " (install its library, run on the Raspberry Pi, or choose 'mock' explicitly for a simulation)"
        ) from exc
    raise ValueError(f"unknown GPIO backend {kind!r}; expected one of {', '.join(PIN_FACTORY_KINDS)}")


class _GpioDevice:
    """What every device here shares: an owned gpiozero device, closed with the device."""

    _device: gpiozero.Device

    def close(self) -> None:
        """Release the pin (outputs go low: buzzer silent, LED off)."""
        self._device.close()

    @property
    def closed(self) -> bool:
        return bool(self._device.closed)

    def __enter__(self) -> _GpioDevice:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _PressButton(_GpioDevice):
    """A push button to ground (internal pull-up) that calls `on_press` once per press."""

    def __init__(
        self,
        pin: int,
        on_press: Callable[[], None],
        *,
        pin_factory: Factory,
        bounce_time: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pin = pin
        self.on_press = on_press
        self.bounce_time = bounce_time
        self.presses = 0  # accepted presses, for telemetry
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()
        self._device = gpiozero.Button(pin, pull_up=True, bounce_time=bounce_time, pin_factory=pin_factory)
        self._button: gpiozero.Button = self._device
        self._button.when_pressed = self._pressed

    @property
    def is_pressed(self) -> bool:
        return bool(self._button.is_pressed)

    def _accept(self, now: float) -> bool:
        # Debounce in software as well: the mock backend ignores bounce_time and RPi.GPIO's
        # edge debounce is known to let bursts through on long cables to a counter.
        if self._last is not None and now - self._last < self.bounce_time:
            return False
        self._last = now
        return True

    def _pressed(self) -> None:
        with self._lock:
            if not self._accept(self._clock()):
                return
            self.presses += 1
        log.info("event=gpio_press pin=%d device=%s", self.pin, type(self).__name__)
        try:
            self.on_press()
        except Exception:
            # Runs in gpiozero's event thread: an exception there would end event delivery.
            log.exception("event=gpio_press_handler_failed pin=%d", self.pin)


class WiredCallButton(_PressButton):
    """The single "next citizen" button of a window without a keypad (CALL_NEXT).

    One button is the whole workflow on a simple caller: `call_next` finishes the current
    ticket and calls the next (CONTRACT §3.2).
    """


class HelpButton(_PressButton):
    """A kiosk's help button: one press asks staff for help (`cmd/help/request`).

    Citizens press it again and again while waiting; presses within `cooldown_s` of the
    last accepted one are ignored so one wait makes one request.
    """

    def __init__(
        self,
        pin: int,
        on_press: Callable[[], None],
        *,
        pin_factory: Factory,
        bounce_time: float = 0.05,
        cooldown_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(pin, on_press, pin_factory=pin_factory, bounce_time=bounce_time, clock=clock)
        self.cooldown_s = cooldown_s

    def _accept(self, now: float) -> bool:
        if self._last is not None and now - self._last < max(self.bounce_time, self.cooldown_s):
            return False
        self._last = now
        return True


class StatusLed(_GpioDevice):
    """The lamp over a window: on while open, blinking for `blink_s` after a call, off when closed/paused.

    `show()` takes the retained `state/window/{window}` payload. A call is "new" when the
    ticket or its recall count changes, so a republished retained state (after a broker
    restart) does not blink again.
    """

    def __init__(
        self,
        pin: int,
        *,
        pin_factory: Factory,
        blink_s: float = 5.0,
        on_time: float = 0.25,
        off_time: float = 0.25,
    ) -> None:
        self.pin = pin
        self.blink_s = blink_s
        self.on_time = on_time
        self.off_time = off_time
        self._device = gpiozero.LED(pin, pin_factory=pin_factory)
        self._led: gpiozero.LED = self._device
        self._lock = threading.Lock()
        self._mode = "off"
        self._last_call: tuple[Any, Any] | None = None
        self._generation = 0
        self._timer: threading.Timer | None = None

    @property
    def mode(self) -> str:
        """`on`, `blink` or `off`."""
        return self._mode

    @property
    def is_lit(self) -> bool:
        return bool(self._led.is_lit)

    def show(self, state: Mapping[str, Any] | None) -> str:
        """Follow the window's state; returns the new mode."""
        status = state.get("status") if state else None
        with self._lock:
            if status == "calling":
                call = (state.get("ticket"), state.get("recall_count")) if state else None
                if call != self._last_call:
                    self._last_call = call
                    self._set("blink")
                elif self._mode == "off":
                    self._set("on")
            elif status == "serving":
                if self._mode != "blink":  # a call blinks its full time even if service starts at once
                    self._set("on")
            elif status == "idle":
                self._last_call = None
                self._set("on")
            else:
                self._last_call = None
                self._set("off")
            return self._mode

    def close(self) -> None:
        with self._lock:
            self._cancel_timer()
            self._generation += 1
        super().close()

    def _set(self, mode: str) -> None:
        if mode == self._mode and mode != "blink":
            return
        self._cancel_timer()
        self._generation += 1
        self._mode = mode
        if mode == "on":
            self._led.on()
        elif mode == "off":
            self._led.off()
        else:
            self._led.blink(on_time=self.on_time, off_time=self.off_time, n=None, background=True)
            generation = self._generation
            self._timer = threading.Timer(self.blink_s, self._settle, args=(generation,))
            self._timer.daemon = True
            self._timer.start()

    def _settle(self, generation: int) -> None:
        with self._lock:
            # A newer show() may have changed the mode since this timer was set.
            if generation == self._generation and self._mode == "blink" and not self.closed:
                self._mode = "on"
                self._timer = None
                self._led.on()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Buzzer(_GpioDevice):
    """An active buzzer: `beep(n)` sounds it n times (e.g. 1 = accepted, 3 = refused)."""

    def __init__(self, pin: int, *, pin_factory: Factory) -> None:
        self.pin = pin
        self._device = gpiozero.Buzzer(pin, pin_factory=pin_factory)
        self._buzzer: gpiozero.Buzzer = self._device

    @property
    def is_active(self) -> bool:
        return bool(self._buzzer.is_active)

    def beep(self, n: int = 1, on_time: float = 0.1, off_time: float = 0.1, wait: bool = False) -> None:
        """Sound `n` beeps; in the background unless `wait` (a new beep cuts the previous one)."""
        if n < 1:
            return
        self._buzzer.beep(on_time=on_time, off_time=off_time, n=n, background=not wait)
