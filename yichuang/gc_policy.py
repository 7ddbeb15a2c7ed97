"""Garbage-collector settings for long-running processes that answer within milliseconds.

A hall keeps the day's tickets in memory; a full collection walks every one of them and
held every reply behind it for 40-50 ms a few times a minute. Objects that have survived
are moved out of the collector's reach (`gc.freeze`) at start and then every few seconds,
so each collection only walks what is new; the first generation is made larger so that
collections are rarer. Cyclic garbage made before a freeze is never collected: the
processes make almost none (plain dataclasses and dicts).
"""

from __future__ import annotations

import gc

REFREEZE_S = 5.0


def settle() -> None:
    """At start, once everything is loaded."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def refreeze() -> None:
    """Every few seconds: what survived until now is long-lived."""
    gc.freeze()
