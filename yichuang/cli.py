"""`yichuang …`: the one entry point of every Yichuang process (CONTRACT §1).

This is the only module that reads the environment (NOTIFY_SOCKET, WATCHDOG_USEC) and
installs signal handlers; everything else gets what it needs as arguments.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from yichuang import gc_policy
from yichuang.sdnotify import Notifier


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        logging.getLogger("yichuang").info("event=signal signal=%s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _notifier() -> Notifier:
    return Notifier(os.environ.get("NOTIFY_SOCKET"), os.environ.get("WATCHDOG_USEC"))


def cmd_check_config(args: argparse.Namespace) -> int:
    from yichuang.config import check_config

    issues = check_config(args.path)
    if not issues:
        print(f"{args.path}: OK")
        return 0
    for issue in issues:
        print(_format_issue(args.path, issue), file=sys.stderr)
    return 1


def _format_issue(path: str, issue: object) -> str:
    line = getattr(issue, "line", None)
    where = getattr(issue, "path", "")
    message = getattr(issue, "message", str(issue))
    prefix = f"{path}:{line}" if line else path
    return f"{prefix}: {where}: {message}" if where else f"{prefix}: {message}"


def _load(path: str) -> object:
    from yichuang.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(1) from None
    except FileNotFoundError:
        print(f"{path}: no such file", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_server(args: argparse.Namespace) -> int:
    from queue_server.app import Server
    from queue_server.store.repository import StoreError
    from yichuang.config_model import Config

    config = _load(args.config)
    assert isinstance(config, Config)
    # the worker and the MQTT thread hand the interpreter back and forth for every command;
    # the default 5 ms switch interval would add up to that much to every reply
    sys.setswitchinterval(0.0005)
    stop = _stop_on_signals()
    server = Server(config)
    try:
        server.run(stop, _notifier(), on_started=gc_policy.settle, every_few_seconds=gc_policy.refreeze)
    except (StoreError, ConnectionError) as exc:
        logging.getLogger("yichuang").error("event=server_failed error=%s", exc)
        return 1
    return 0


def cmd_bridge(args: argparse.Namespace) -> int:
    from firmware_bridge.bridge import Bridge
    from firmware_bridge.gpio_devices import GpioError
    from firmware_bridge.press_queue import PressQueueLocked
    from yichuang.config_model import Config

    config = _load(args.config)
    assert isinstance(config, Config)
    state_dir = Path(args.state_dir or f"/var/lib/yichuang/{args.id}")
    stop = _stop_on_signals()
    notifier = _notifier()
    try:
        bridge = Bridge(config, args.id, state_dir, gpio=args.gpio, max_age_s=args.max_age)
        bridge.start()
    except (ConnectionError, PressQueueLocked, GpioError, OSError) as exc:
        logging.getLogger("yichuang").error("event=bridge_failed error=%s", exc)
        return 1
    notifier.ready()
    try:
        while not stop.wait(5.0):
            notifier.watchdog()
    finally:
        notifier.stopping()
        bridge.stop()
    return 0


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT (1920x1080), got {text!r}") from None
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is out of range")
    return w, h


def cmd_kiosk(args: argparse.Namespace) -> int:
    from yichuang.config_model import Config

    config = _load(args.config)
    assert isinstance(config, Config)
    if args.headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from kiosk.camera import open_camera
    from kiosk.printer import open_printer
    from kiosk.voice_prompt import EspeakPrompter, Prompter

    log = logging.getLogger("yichuang")
    kiosk = next((k for k in config.kiosks if k.id == args.id), None)
    if kiosk is None:
        known = ", ".join(k.id for k in config.kiosks) or "none"
        print(f"{args.config}: no [[kiosk]] with id {args.id!r} (known: {known})", file=sys.stderr)
        return 1
    printer_url = kiosk.printer if args.printer is None else args.printer
    camera_url = kiosk.camera if args.camera is None else args.camera
    try:
        printer = open_printer(printer_url) if printer_url else None
        camera = open_camera(camera_url) if camera_url else None
    except ValueError as exc:
        print(f"{args.config}: kiosk {args.id}: {exc}", file=sys.stderr)
        return 1
    prompter: Prompter | None = None
    if not args.mute:
        try:
            prompter = EspeakPrompter()
        except FileNotFoundError as exc:
            log.warning("event=prompts_off reason=%s", exc)
    from kiosk.app import KioskApp

    stop = _stop_on_signals()
    notifier = _notifier()
    app = KioskApp(config, args.id, printer=printer, camera=camera, prompter=prompter, size=args.size,
                   fullscreen=args.fullscreen)
    app.start()
    notifier.ready()
    last = [0.0]

    def on_frame() -> None:
        # the watchdog is fed from the frame loop: a frozen screen is a dead kiosk
        import time

        if time.monotonic() - last[0] > 5.0:
            last[0] = time.monotonic()
            notifier.watchdog()

    try:
        app.run(stop, on_frame)
    finally:
        notifier.stopping()
        app.stop()
        if prompter is not None:
            prompter.close()
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from hw_sim.hall_sim import run_sim

    stop = _stop_on_signals()
    notifier = _notifier()

    def ready(_sim: object) -> None:
        notifier.ready()

    try:
        return run_sim(
            args.config,
            stop,
            transport=args.transport,
            write_config=Path(args.write_config) if args.write_config else None,
            on_ready=ready,
        )
    finally:
        notifier.stopping()


def cmd_display(args: argparse.Namespace) -> int:
    from yichuang.config_model import Config

    config = _load(args.config)
    assert isinstance(config, Config)
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from displays.app import DisplayApp, UnknownDisplay

    stop = _stop_on_signals()
    try:
        app = DisplayApp(config, args.id, windowed=args.windowed, size=args.size, mute=args.mute)
        app.run(stop, _notifier())
    except UnknownDisplay as exc:
        print(exc.args[0], file=sys.stderr)
        return 1
    except ConnectionError as exc:
        logging.getLogger("yichuang").error("event=display_failed error=%s", exc)
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    # windows only where there is a screen to show them on
    headless = args.headless or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from yichuang.demo import run_demo

    stop = _stop_on_signals()
    return run_demo(Path(args.config), stop, duration_s=args.duration, speed=args.speed, headless=headless)


def cmd_scan(args: argparse.Namespace) -> int:
    """`yichuang scan IMAGE [--out FILE]`: one JSON line on stdout; exit 0 when the image
    was scanned (page found or not), 2 when it cannot be read or FILE cannot be written."""
    import json

    import cv2

    writers = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".pdf": "pdf"}
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in writers:
        print(f"{out}: unsupported output type (use .jpg, .jpeg, .png or .pdf)", file=sys.stderr)
        return 2
    # imread answers None for a missing, unreadable or non-image file alike; say which.
    image = cv2.imread(args.image, cv2.IMREAD_COLOR) if Path(args.image).is_file() else None
    if image is None:
        why = "not an image OpenCV can decode" if Path(args.image).is_file() else "no such file"
        print(f"{args.image}: cannot read image ({why})", file=sys.stderr)
        return 2
    from docscan.output import to_jpeg, to_pdf, to_png
    from docscan.pipeline import scan_image

    result = scan_image(image)
    print(json.dumps(result.summary(), ensure_ascii=False), flush=True)
    if out is None:
        return 0
    if result.page is None:
        print(f"{args.image}: no page found, {out} not written", file=sys.stderr)
        return 0
    kind = writers[out.suffix.lower()]
    if kind == "pdf":
        data = to_pdf([result.page], dpi=result.dpi)
    elif kind == "png":
        data = to_png(result.page, dpi=result.dpi)
    else:
        data = to_jpeg(result.page, dpi=result.dpi)
    try:
        out.write_bytes(data)
    except OSError as exc:
        print(f"{out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yichuang", description="Yichuang (一窗) service hall system")
    parser.add_argument(
        "--log-level", default=None, help="debug, info, warning, error (default: info; error for the demo)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check-config", help="validate a hall config; exit 1 with line-precise errors")
    check.add_argument("path")
    check.set_defaults(func=cmd_check_config)

    server = sub.add_parser("server", help="the queue server (MQTT + HTTP)")
    server.add_argument("-c", "--config", required=True)
    server.set_defaults(func=cmd_server)

    bridge = sub.add_parser("bridge", help="the firmware bridge for the devices that config gives it")
    bridge.add_argument("-c", "--config", required=True)
    bridge.add_argument("--id", required=True, help="the bridge id devices name in `bridge = ...`")
    bridge.add_argument(
        "--state-dir", help="where presses wait while the broker is away (default /var/lib/yichuang/ID)"
    )
    bridge.add_argument(
        "--gpio",
        default="native",
        choices=["native", "lgpio", "rpigpio", "mock"],
        help="GPIO backend for wired buttons, LEDs, buzzers (mock: gpiozero's MockFactory)",
    )
    bridge.add_argument(
        "--max-age",
        type=float,
        default=120.0,
        help="seconds a key press may wait for the broker before it is dropped with an alarm",
    )
    bridge.set_defaults(func=cmd_bridge)

    kiosk = sub.add_parser("kiosk", help="a touchscreen kiosk (take a ticket, check in, guide, help)")
    kiosk.add_argument("-c", "--config", required=True)
    kiosk.add_argument("--id", required=True, help="the [[kiosk]] id, e.g. kiosk-01")
    kiosk.add_argument("--size", type=_size, default=(1920, 1080), help="screen size WIDTHxHEIGHT")
    kiosk.add_argument("--fullscreen", action="store_true", help="take the whole screen, hide the pointer")
    kiosk.add_argument("--headless", action="store_true", help="no screen at all (SDL dummy driver)")
    kiosk.add_argument("--printer", help="printer URL overriding the config's (empty: none)")
    kiosk.add_argument("--camera", help="camera URL overriding the config's (empty: none)")
    kiosk.add_argument("--mute", action="store_true", help="no spoken prompts in elderly mode")
    kiosk.set_defaults(func=cmd_kiosk)

    sim = sub.add_parser("sim", help="the simulated devices of a config (pty serial lines or socket://)")
    sim.add_argument("-c", "--config", required=True)
    sim.add_argument("--transport", default="pty", choices=["pty", "tcp"])
    sim.add_argument("--write-config", help="write the config with the simulated ports here, for the bridge")
    sim.set_defaults(func=cmd_sim)

    display = sub.add_parser("display", help="the hall display: calls on screen, and the voice reading them")
    display.add_argument("-c", "--config", required=True)
    display.add_argument("--id", required=True, help="the [[display]] id in the config")
    display.add_argument("--windowed", action="store_true", help="a window instead of the whole screen")
    display.add_argument("--size", type=_size, help="WIDTHxHEIGHT (default: the screen; 1280x720 windowed)")
    display.add_argument("--mute", action="store_true", help="no voice announcements")
    display.set_defaults(func=cmd_display)

    demo = sub.add_parser("demo", help="a whole simulated hall on loopback, until Ctrl-C")
    demo.add_argument(
        "-c", "--config", default=str(Path(__file__).resolve().parent.parent / "config" / "hall.example.toml")
    )
    demo.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (0: run until Ctrl-C)"
    )
    demo.add_argument("--speed", type=float, default=1.0, help="how fast simulated citizens and clerks act")
    demo.add_argument("--headless", action="store_true", help="no kiosk or display windows even on a desktop")
    demo.set_defaults(func=cmd_demo)

    scan = sub.add_parser("scan", help="the document pipeline on one photo: a JSON line, the page to --out")
    scan.add_argument("image", metavar="IMAGE", help="a photo (JPEG, PNG, ...) of a page on a desk")
    scan.add_argument("--out", metavar="FILE", help="write the corrected page here (.jpg, .jpeg, .png, .pdf)")
    scan.set_defaults(func=cmd_scan)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # the demo's output is its narration of the hall; logs would drown it
    _setup_logging(args.log_level or ("error" if args.command == "demo" else "info"))
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
