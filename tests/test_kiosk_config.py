"""`[[kiosk]] locker`: a kiosk standing by a file locker, checked against the hall's lockers."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import HALL, line_of, only_issue, write

from yichuang.config import load_config

KIOSK = '[[kiosk]]\nid = "kiosk-01"\n'


def with_locker(value: str) -> str:
    assert KIOSK in HALL
    return HALL.replace(KIOSK, f"{KIOSK}locker = {value}\n", 1)


def test_a_kiosk_names_the_locker_it_stands_by(tmp_path: Path) -> None:
    (kiosk,) = load_config(write(tmp_path, with_locker('"locker-01"'))).kiosks
    assert kiosk.locker == "locker-01"


@pytest.mark.parametrize("text", [HALL, with_locker('""')])
def test_a_kiosk_without_a_locker_offers_no_pickup(tmp_path: Path, text: str) -> None:
    (kiosk,) = load_config(write(tmp_path, text)).kiosks
    assert kiosk.locker == ""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"locker-1"', "unknown locker \"locker-1\" (did you mean 'locker-01'?)"),
        ('"cabinet"', 'unknown locker "cabinet"'),
        ("1", "must be a string, got integer 1"),
    ],
)
def test_a_kiosk_locker_must_exist_and_is_reported_on_its_line(
    tmp_path: Path, value: str, message: str
) -> None:
    text = with_locker(value)
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line, issue.message) == ("kiosk[0].locker", line_of(text, "locker = "), message)


def test_a_kiosk_locker_in_a_hall_without_lockers(tmp_path: Path) -> None:
    start = HALL.index("[[locker]]")
    end = HALL.index("[[device]]")
    text = (HALL[:start] + HALL[end:]).replace(KIOSK, f'{KIOSK}locker = "locker-01"\n', 1)
    issue = only_issue(tmp_path, text)
    assert issue.path == "kiosk[0].locker"
    assert issue.message == 'unknown locker "locker-01" (the config has no [[locker]])'
