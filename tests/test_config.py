"""The hall config as a technician meets it: the shipped example loads, and every mistake
is reported on the line to edit, all of them at once."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from yichuang.config import ConfigError, ConfigIssue, check_config, load_config, parse_config
from yichuang.config_model import Flow, QueuePolicy, WindowKind
from yichuang.errors import YichuangError

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "hall.example.toml"

# A small but complete hall; tests break one thing in it at a time.
HALL = """\
[hall]
id = "qingpu"
name = "青浦区政务服务中心"
name_en = "Qingpu District Government Service Center"
timezone = "Asia/Shanghai"
opening_hours = [["mon-fri", "09:00", "17:00"], ["sat", "09:00", "12:00"]]

[[service]]
id = "realestate"
prefix = "A"
name = "不动产登记"
name_en = "Real Estate Registration"
flow = "accept_on_spot"
minutes = 20
time_limit_days = 5
legal_limit_days = 30

[[service.materials]]
name = "不动产登记申请书"
name_en = "Application form"
key = true

[[service.materials]]
name = "婚姻状况证明"
name_en = "Marital status certificate"
key = false

[[service]]
id = "mortgage"
prefix = "B"
name = "不动产抵押登记"
name_en = "Mortgage Registration"
flow = "accept_on_spot"
minutes = 15
time_limit_days = 3

[[service]]
id = "ss_card"
prefix = "L"
name = "社会保障卡补换"
name_en = "Social Security Card Replacement"
flow = "finish_on_spot"
minutes = 5
time_limit_days = 0
instant = true
materials = [
    { name = "居民身份证", name_en = "ID card", key = true },
    { name = "原社会保障卡", name_en = "Old card", key = false },
]

[[window]]
id = "w01"
label = "1号窗口"
label_en = "Window 1"
kind = "comprehensive"
services = ["realestate", "mortgage"]
ratios = { realestate = 2, mortgage = 1 }

[[window]]
id = "w08"
label = "8号窗口"
label_en = "Window 8"
kind = "instant"
services = ["ss_card"]

[[kiosk]]
id = "kiosk-01"

[[locker]]
id = "locker-01"
doors = [
    { door = 1, size = "S" },
    { door = 2, size = "M" },
]

[[device]]
id = "caller-w01"
kind = "caller"
port = "/dev/ttyUSB0"
address = 1
window = "w01"

[[device]]
id = "helpbutton-01"
kind = "gpio_button"
pins = { button = 17, led = 27 }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(tmp_path: Path, text: str) -> list[ConfigIssue]:
    return check_config(write(tmp_path, text))


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line holding the `occurrence`-th appearance of `fragment`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return hits[occurrence - 1]


def only_issue(tmp_path: Path, text: str) -> ConfigIssue:
    issues = issues_of(tmp_path, text)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]


def broken(old: str, new: str, occurrence: int = 1) -> str:
    """HALL with the `occurrence`-th `old` replaced by `new`."""
    assert HALL.count(old) >= occurrence, old
    head, *rest = HALL.split(old)
    return old.join([head, *rest[: occurrence - 1]]) + new + old.join(rest[occurrence - 1 :])


# --- the shipped example -------------------------------------------------------------------


def test_example_hall_loads_without_issues():
    assert check_config(EXAMPLE) == []
    config = load_config(EXAMPLE)
    assert config.hall.id == "qingpu"
    assert config.hall.timezone == "Asia/Shanghai"
    weekdays, saturday = config.hall.opening_hours.rules
    assert weekdays.days == frozenset(range(5)) and (weekdays.start, weekdays.end) == (time(9), time(17))
    assert saturday.days == frozenset({5}) and saturday.end == time(12)
    assert config.database.url == "sqlite:////var/lib/yichuang/hall.db"
    assert (config.http.host, config.http.port) == ("0.0.0.0", 8080)
    assert (config.broker.host, config.broker.port) == ("127.0.0.1", 1883)


def test_example_hall_offers_real_services_with_materials():
    config = load_config(EXAMPLE)
    assert len(config.services) >= 10
    assert len({s.prefix for s in config.services}) == len(config.services)
    for service in config.services:
        assert 3 <= len(service.materials) <= 8, service.id
        assert any(m.key for m in service.materials), service.id
        assert service.name and service.name_en and service.place
    # 容缺受理 needs something to be missing: some materials are not key.
    realestate = config.service("realestate")
    assert realestate is not None and realestate.flow is Flow.ACCEPT_ON_SPOT
    assert {m.name for m in realestate.materials if not m.key} >= {"婚姻状况证明"}


def test_example_hall_windows_cover_every_kind():
    config = load_config(EXAMPLE)
    kinds = [w.kind for w in config.windows]
    assert kinds.count(WindowKind.COMPREHENSIVE) >= 6
    assert kinds.count(WindowKind.INSTANT) == 2
    assert {WindowKind.HELP, WindowKind.COMPLAINT, WindowKind.ISSUING} <= set(kinds)
    w01 = config.window("w01")
    assert w01 is not None and w01.label == "1号窗口" and w01.label_en == "Window 1"
    assert w01.ratios == (("realestate", 2), ("mortgage", 1))
    for window in config.windows:
        if window.kind is WindowKind.INSTANT:
            assert all(config.service(s).instant for s in window.services)  # type: ignore[union-attr]


def test_example_hall_locker_and_devices():
    config = load_config(EXAMPLE)
    (locker,) = config.lockers
    assert [d.door for d in locker.doors] == list(range(1, 17))
    assert {d.size for d in locker.doors} == {"S", "M", "L"}
    assert len(config.kiosks) == 2 and len(config.displays) == 1
    panels = {d.window for d in config.devices if d.kind == "led_panel"}
    assert panels == {w.id for w in config.windows}
    callers = [d for d in config.devices if d.kind == "caller"]
    assert callers and all(d.port == "/dev/ttyUSB0" and d.address for d in callers)
    button = next(d for d in config.devices if d.kind == "gpio_button")
    assert dict(button.pins) == {"button": 17, "led": 27}
    board = next(d for d in config.devices if d.kind == "lock_board")
    assert board.locker == "locker-01"


# --- defaults ------------------------------------------------------------------------------


def test_small_hall_gets_the_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, HALL))
    assert config.broker.url == "mqtt://127.0.0.1:1883"
    assert config.database.url == "sqlite:////var/lib/yichuang/hall.db"
    assert (config.http.host, config.http.port, config.http.public_url) == ("127.0.0.1", 8080, "")
    assert config.hall.queue == QueuePolicy()
    mortgage = config.service("mortgage")
    assert mortgage is not None
    assert (mortgage.fee, mortgage.fee_en, mortgage.legal_limit_days, mortgage.instant) == (
        "不收费",
        "Free",
        0,
        False,
    )
    assert mortgage.materials == ()
    material = config.services[0].materials[0]
    assert (material.copies, material.form, material.note) == (1, "original", "")
    assert config.displays == ()


def test_hall_that_never_closes(tmp_path):
    text = broken('[["mon-fri", "09:00", "17:00"], ["sat", "09:00", "12:00"]]', '"always"')
    hours = load_config(write(tmp_path, text)).hall.opening_hours
    assert hours.always and hours.rules == ()


def test_lunch_break_is_two_rules_on_the_same_days(tmp_path):
    text = broken(
        '[["mon-fri", "09:00", "17:00"], ["sat", "09:00", "12:00"]]',
        '[["mon,wed,fri", "08:30", "12:00"], ["mon,wed,fri", "13:30", "17:00"],\n'
        ' ["sat-sun", "09:00", "12:00"]]',
    )
    rules = load_config(write(tmp_path, text)).hall.opening_hours.rules
    assert rules[0].days == frozenset({0, 2, 4}) and rules[0].start == time(8, 30)
    assert rules[1].start == time(13, 30)
    assert rules[2].days == frozenset({5, 6})


def test_locker_doors_may_be_written_as_tables(tmp_path):
    text = broken(
        'doors = [\n    { door = 1, size = "S" },\n    { door = 2, size = "M" },\n]\n',
        '\n[[locker.doors]]\ndoor = 1\nsize = "S"\n\n[[locker.doors]]\ndoor = 2\nsize = "L"\n',
    )
    (locker,) = load_config(write(tmp_path, text)).lockers
    assert [(d.door, d.size) for d in locker.doors] == [(1, "S"), (2, "L")]


# --- one mistake, the right line ----------------------------------------------------------


def test_two_letter_prefix_names_the_service_and_line(tmp_path):
    text = broken('prefix = "B"', 'prefix = "AB"')
    issue = only_issue(tmp_path, text)
    assert issue.line == line_of(text, 'prefix = "AB"')
    assert issue.path == "service[1].prefix"
    expected = 'service[1].prefix: must be one capital letter A-Z, got "AB"'
    assert str(issue) == f"{tmp_path / 'hall.toml'}:{issue.line}: {expected}"


def test_misspelled_key_suggests_the_right_one(tmp_path):
    text = broken('prefix = "L"', 'prefx = "L"')
    issues = issues_of(tmp_path, text)
    unknown = next(i for i in issues if i.path == "service[2].prefx")
    assert unknown.line == line_of(text, "prefx")
    assert unknown.message == "unknown key 'prefx' (did you mean 'prefix'?)"
    # …and the key it should have been is missing, reported at the [[service]] header.
    missing = next(i for i in issues if i.path == "service[2].prefix")
    assert missing.message == "missing required key 'prefix'"
    assert missing.line == line_of(text, "[[service]]", 3)


def test_unknown_table_is_named(tmp_path):
    text = HALL + '\n[[servce]]\nid = "x"\n'
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("servce", line_of(text, "[[servce]]"))
    assert "did you mean 'service'" in issue.message


def test_single_bracket_service_table_is_explained(tmp_path):
    text = HALL + '\n[display]\nid = "display-main"\n'
    issue = only_issue(tmp_path, text)
    assert issue.path == "display"
    assert issue.line == line_of(text, "[display]")
    assert "write [[display]]" in issue.message


def test_missing_hall_table_has_no_line(tmp_path):
    text = HALL.replace("[hall]\n", "[hal]\n")
    issues = issues_of(tmp_path, text)
    assert [(i.path, i.line) for i in issues if i.message == "missing required table [hall]"] == [
        ("hall", None)
    ]
    assert any(i.path == "hal" and i.line == 1 for i in issues)


def test_missing_timezone_points_at_the_hall_header(tmp_path):
    text = broken('timezone = "Asia/Shanghai"\n', "")
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line, issue.message) == ("hall.timezone", 1, "missing required key 'timezone'")


def test_misspelled_timezone_suggests_the_zone(tmp_path):
    text = broken('"Asia/Shanghai"', '"Asia/Shangai"')
    issue = only_issue(tmp_path, text)
    assert issue.line == line_of(text, "timezone")
    assert issue.message == "unknown time zone \"Asia/Shangai\" (did you mean 'Asia/Shanghai'?)"


@pytest.mark.parametrize("hall_id", ["QingPu", "qing/pu", "qing pu", "qing+pu", ""])
def test_hall_id_must_be_one_topic_level(tmp_path, hall_id):
    text = broken('id = "qingpu"', f'id = "{hall_id}"')
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("hall.id", 2)


@pytest.mark.parametrize(
    ("rule", "element", "message"),
    [
        ('["mon-fri", "17:00", "09:00"]', "[0]", "opening time 17:00 must be before closing time 09:00"),
        ('["mon-fry", "09:00", "17:00"]', "[0][0]", 'unknown days "mon-fry"'),
        ('["fri-mon", "09:00", "17:00"]', "[0][0]", 'day range "fri-mon" runs backwards'),
        ('["mon-fri", "9h", "17:00"]', "[0][1]", 'must be a time "HH:MM"'),
        ('["mon-fri", "09:00", "24:00"]', "[0][2]", 'must be a time "HH:MM"'),
        ('["mon-fri", "09:00"]', "[0]", 'must be [days, "HH:MM", "HH:MM"]'),
    ],
)
def test_bad_opening_hours(tmp_path, rule, element, message):
    text = broken('["mon-fri", "09:00", "17:00"]', rule)
    issue = only_issue(tmp_path, text)
    assert issue.path == f"hall.opening_hours{element}"
    assert issue.line == line_of(text, "opening_hours")
    assert message in issue.message


def test_overlapping_opening_hours_are_reported_on_the_later_rule(tmp_path):
    text = broken(
        'opening_hours = [["mon-fri", "09:00", "17:00"], ["sat", "09:00", "12:00"]]',
        'opening_hours = [\n  ["mon-fri", "09:00", "17:00"],\n  ["fri", "16:00", "18:00"],\n]',
    )
    issue = only_issue(tmp_path, text)
    assert issue.path == "hall.opening_hours[1]"
    assert issue.line == line_of(text, '["fri", "16:00"')
    assert issue.message == "overlaps opening_hours[0] on fri"


def test_unknown_flow_lists_the_flows(tmp_path):
    text = broken('flow = "finish_on_spot"', 'flow = "finish_on_the_spot"')
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("service[2].flow", line_of(text, "finish_on_the_spot"))
    assert "must be one of finish_on_spot, accept_on_spot, receive_only" in issue.message
    assert "did you mean 'finish_on_spot'" in issue.message


@pytest.mark.parametrize(
    ("value", "message"), [("0", "must be more than 0, got 0"), ('"15"', "must be a number")]
)
def test_handling_minutes_must_be_a_positive_number(tmp_path, value, message):
    text = broken("minutes = 15", f"minutes = {value}")
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("service[1].minutes", line_of(text, f"minutes = {value}"))
    assert message in issue.message


def test_promised_time_limit_may_not_exceed_the_legal_one(tmp_path):
    text = broken("time_limit_days = 5", "time_limit_days = 45")
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("service[0].time_limit_days", line_of(text, "time_limit_days = 45"))
    assert issue.message == "promised 45 days exceeds the legal limit of 30 days"


def test_material_without_key_flag_in_a_materials_table(tmp_path):
    text = broken("key = false\n", "")
    issue = only_issue(tmp_path, text)
    assert issue.path == "service[0].materials[1].key"
    assert issue.line == line_of(text, "[[service.materials]]", 2)
    assert issue.message == "missing required key 'key'"


def test_material_table_under_a_later_service(tmp_path):
    table = '\n[[service.materials]]\nname = "抵押合同"\nname_en = "Mortgage contract"\nkey = "yes"\n'
    text = broken("time_limit_days = 3\n", "time_limit_days = 3\n" + table)
    issue = only_issue(tmp_path, text)
    assert issue.path == "service[1].materials[0].key"
    assert issue.line == line_of(text, 'key = "yes"')


def test_material_key_flag_must_be_boolean_in_an_inline_list(tmp_path):
    text = broken('name_en = "Old card", key = false', 'name_en = "Old card", key = "no"')
    issue = only_issue(tmp_path, text)
    assert issue.path == "service[2].materials[1].key"
    assert issue.line == line_of(text, "Old card")
    assert issue.message == 'must be true or false, got string "no"'


def test_window_serving_an_unknown_service(tmp_path):
    text = broken('services = ["realestate", "mortgage"]', 'services = ["realestate", "mortgag"]')
    issues = issues_of(tmp_path, text)
    unknown = next(i for i in issues if i.path == "window[0].services[1]")
    assert unknown.line == line_of(text, '"mortgag"]')
    assert unknown.message == "unknown service \"mortgag\" (did you mean 'mortgage'?)"


def test_ratio_for_a_service_the_window_does_not_serve(tmp_path):
    text = broken(
        "ratios = { realestate = 2, mortgage = 1 }", "ratios = { realestate = 2, mortgage = 1, ss_card = 1 }"
    )
    issue = only_issue(tmp_path, text)
    assert issue.path == "window[0].ratios.ss_card"
    assert issue.line == line_of(text, "ratios =")
    assert issue.message == '"ss_card" is not a service this window serves'


def test_ratios_keyed_by_prefix_letter_hint_at_the_service_id(tmp_path):
    text = broken("ratios = { realestate = 2, mortgage = 1 }", "ratios = { A = 2, mortgage = 1 }")
    issues = issues_of(tmp_path, text)
    hint = next(i for i in issues if i.path == "window[0].ratios.A")
    assert 'did you mean "realestate"?' in hint.message
    assert any("missing realestate" in i.message for i in issues)


@pytest.mark.parametrize("ratio", ["0", "-1", "1.5", "true"])
def test_ratios_are_positive_integers(tmp_path, ratio):
    text = broken("mortgage = 1 }", f"mortgage = {ratio} }}")
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("window[0].ratios.mortgage", line_of(text, "ratios ="))
    assert issue.message.startswith("must be a positive integer")


def test_instant_window_refuses_a_service_that_is_not_instant(tmp_path):
    text = broken('services = ["ss_card"]', 'services = ["ss_card", "realestate"]')
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("window[1].services[1]", line_of(text, '"ss_card", "realestate"'))
    assert "instant = true" in issue.message


def test_unknown_window_kind(tmp_path):
    text = broken('kind = "comprehensive"', 'kind = "general"')
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("window[0].kind", line_of(text, 'kind = "general"'))
    assert "comprehensive, instant, help, complaint, issuing" in issue.message


def test_window_id_must_be_topic_safe(tmp_path):
    text = broken('id = "w08"', 'id = "W 08"')
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("window[1].id", line_of(text, '"W 08"'))


@pytest.mark.parametrize(
    ("old", "new", "path", "what"),
    [
        ('id = "mortgage"', 'id = "realestate"', "service[1].id", 'duplicate service id "realestate"'),
        ('prefix = "L"', 'prefix = "A"', "service[2].prefix", 'duplicate prefix "A"'),
        ('id = "w08"', 'id = "w01"', "window[1].id", 'duplicate window id "w01"'),
        ('label = "8号窗口"', 'label = "1号窗口"', "window[1].label", 'duplicate window label "1号窗口"'),
        ('id = "helpbutton-01"', 'id = "caller-w01"', "device[1].id", 'duplicate device id "caller-w01"'),
        ('id = "helpbutton-01"', 'id = "kiosk-01"', "device[1].id", 'duplicate device id "kiosk-01"'),
        ("{ door = 2,", "{ door = 1,", "locker[0].doors[1].door", "duplicate door 1"),
    ],
)
def test_duplicates_name_the_first_occurrence(tmp_path, old, new, path, what):
    text = broken(old, new)
    issue = next(i for i in issues_of(tmp_path, text) if i.path == path)
    assert issue.line == line_of(text, new, text.count(new))
    assert issue.message.startswith(what)
    assert "(first at " in issue.message and ", line " in issue.message


def test_duplicate_kiosk_ids(tmp_path):
    text = HALL + '\n[[kiosk]]\nid = "kiosk-01"\n'
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("kiosk[1].id", line_of(text, 'id = "kiosk-01"', 2))
    assert (
        issue.message
        == f'duplicate device id "kiosk-01" (first at kiosk[0].id, line {line_of(text, "kiosk-01")})'
    )


def test_two_devices_on_one_bus_address(tmp_path):
    extra = (
        '\n[[device]]\nid = "panel-w01"\nkind = "led_panel"\n'
        'port = "/dev/ttyUSB0"\naddress = 1\nwindow = "w01"\n'
    )
    issue = only_issue(tmp_path, HALL + extra)
    assert issue.path == "device[2].address"
    assert issue.message.startswith('duplicate bus address "1 on /dev/ttyUSB0"')


def test_caller_needs_its_window_and_address(tmp_path):
    text = broken('address = 1\nwindow = "w01"\n', "")
    issues = issues_of(tmp_path, text)
    assert {i.path for i in issues} == {"device[0].address", "device[0].window"}
    assert all(i.line == line_of(text, "[[device]]") for i in issues)


def test_device_window_must_exist(tmp_path):
    text = broken('window = "w01"', 'window = "w1"')
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("device[0].window", line_of(text, 'window = "w1"'))


def test_gpio_pin_out_of_range(tmp_path):
    text = broken("led = 27", "led = 40")
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("device[1].pins.led", line_of(text, "led = 40"))
    assert issue.message == "must be a BCM GPIO number 0-27, got integer 40"


def test_locker_door_size(tmp_path):
    text = broken('{ door = 2, size = "M" }', '{ door = 2, size = "XL" }')
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == ("locker[0].doors[1].size", line_of(text, '"XL"'))


@pytest.mark.parametrize(
    ("section", "path", "message"),
    [
        ('[broker]\nurl = "tcp://127.0.0.1:1883"', "broker.url", 'must be "mqtt://host:port"'),
        ('[broker]\nurl = "mqtt://127.0.0.1"', "broker.url", 'must be "mqtt://host:port"'),
        ('[broker]\nurl = "mqtt://user:pw@127.0.0.1:1883"', "broker.url", 'must be "mqtt://host:port"'),
        ('[database]\nurl = "mysql://db/hall"', "database.url", 'must start with "sqlite:///"'),
        ("[http]\nport = 0", "http.port", "must be between 1 and 65535, got 0"),
        ("[http]\nport = 70000", "http.port", "must be between 1 and 65535, got 70000"),
        ('[http]\nport = "8080"', "http.port", 'must be an integer, got string "8080"'),
    ],
)
def test_infrastructure_sections(tmp_path, section, path, message):
    text = HALL + "\n" + section + "\n"
    issue = only_issue(tmp_path, text)
    assert issue.path == path
    assert issue.line == len(text.splitlines())
    assert message in issue.message


def test_secure_broker_and_postgres_are_accepted(tmp_path):
    text = (
        HALL
        + '\n[broker]\nurl = "mqtts://broker.hall.lan:8883"\nusername = "yc"\npassword = "secret"\n'
        + '\n[database]\nurl = "postgresql+psycopg://yc:pw@db/yichuang"\n'
    )
    config = load_config(write(tmp_path, text))
    assert (config.broker.host, config.broker.port, config.broker.username) == ("broker.hall.lan", 8883, "yc")
    assert config.database.url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("aging_minutes = 0", "must be at least 1, got 0"),
        ("max_recalls = -1", "must be at least 0, got -1"),
        ("max_recalls = true", "must be an integer, got boolean true"),
        ("max_recals = 3", "unknown key 'max_recals' (did you mean 'max_recalls'?)"),
    ],
)
def test_queue_policy(tmp_path, line, message):
    text = broken("\n[[service]]\n", f"\n[hall.queue]\n{line}\n\n[[service]]\n")
    issue = only_issue(tmp_path, text)
    assert issue.path == f"hall.queue.{line.split(' ')[0]}"
    assert issue.line == line_of(text, line)
    assert issue.message == message


def test_queue_policy_overrides_only_what_is_written(tmp_path):
    text = broken(
        "\n[[service]]\n", "\n[hall.queue]\nmax_recalls = 0\nstop_issuing_minutes = 20\n\n[[service]]\n"
    )
    queue = load_config(write(tmp_path, text)).hall.queue
    assert (queue.max_recalls, queue.stop_issuing_minutes, queue.aging_minutes) == (0, 20, 30)


# --- many mistakes at once -----------------------------------------------------------------


def test_all_mistakes_are_reported_at_once_in_file_order(tmp_path):
    text = broken('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"')
    text = text.replace('prefix = "B"', 'prefix = "b"').replace('kind = "instant"', 'kind = "instnt"')
    text = text.replace("address = 1", "address = 999")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    issues = caught.value.issues
    assert [i.path for i in issues] == [
        "hall.timezone",
        "service[1].prefix",
        "window[1].kind",
        "device[0].address",
    ]
    assert [i.line for i in issues] == sorted(i.line for i in issues if i.line)
    lines = str(caught.value).splitlines()
    assert len(lines) == 4
    prefix_line = line_of(text, 'prefix = "b"')
    expected = (
        f'{tmp_path / "hall.toml"}:{prefix_line}: service[1].prefix: must be one capital letter A-Z, got "b"'
    )
    assert lines[1] == expected


def test_config_error_is_a_value_error_and_a_yichuang_error(tmp_path):
    with pytest.raises(ValueError) as caught:
        parse_config(broken('prefix = "A"', 'prefix = "AB"'), source="hall.toml")
    assert isinstance(caught.value, YichuangError)
    assert (
        str(caught.value)
        == f'hall.toml:{line_of(HALL, "prefix")}: service[0].prefix: must be one capital letter A-Z, got "AB"'
    )


# --- the file itself -----------------------------------------------------------------------


def test_toml_syntax_error_gives_its_line(tmp_path):
    text = broken('name_en = "Mortgage Registration"', 'name_en = "Mortgage Registration')
    issue = only_issue(tmp_path, text)
    assert issue.line == line_of(text, 'name_en = "Mortgage Registration')
    assert issue.path == ""
    assert issue.message.startswith("TOML syntax: ")
    assert "(at line" not in issue.message


def test_key_defined_twice_is_a_syntax_error_on_its_line(tmp_path):
    text = broken("minutes = 15\n", "minutes = 15\nminutes = 16\n")
    issue = only_issue(tmp_path, text)
    assert issue.line is not None and issue.line >= line_of(text, "minutes = 16")


def test_missing_file(tmp_path):
    issues = check_config(tmp_path / "nowhere.toml")
    assert len(issues) == 1 and issues[0].line is None and "cannot read" in issues[0].message
    with pytest.raises(ConfigError):
        load_config(tmp_path / "nowhere.toml")


def test_file_saved_with_a_byte_order_mark_loads(tmp_path):
    path = tmp_path / "hall.toml"
    path.write_bytes(HALL.encode("utf-8-sig"))
    assert load_config(path).hall.name == "青浦区政务服务中心"


def test_file_in_gbk_is_refused_with_the_line(tmp_path):
    path = tmp_path / "hall.toml"
    path.write_bytes(HALL.encode("gbk"))
    (issue,) = check_config(path)
    assert issue.line == line_of(HALL, "青浦区") and "UTF-8" in issue.message


# --- [[display]]: zone, windows, voice, quiet times -------------------------------------------

DISPLAY = """
[[display]]
id = "display-east"
orientation = "portrait"
zone = "east-hall"
windows = ["w01"]
voice = "clips"
clips_dir = "/var/lib/yichuang/voice-clips"
volume = 80
chime = false
mute = [["mon-fri", "12:00", "13:30"], ["sat", "11:30", "12:00"]]
"""


def test_a_display_reads_its_zone_windows_voice_and_quiet_times(tmp_path):
    config = load_config(write(tmp_path, HALL + DISPLAY))
    (display,) = config.displays
    assert (display.zone, display.windows, display.voice, display.volume, display.chime) == (
        "east-hall",
        ("w01",),
        "clips",
        80,
        False,
    )
    assert [(sorted(r.days), r.start, r.end) for r in display.mute] == [
        ([0, 1, 2, 3, 4], time(12, 0), time(13, 30)),
        ([5], time(11, 30), time(12, 0)),
    ]
    bare = load_config(write(tmp_path, HALL + '\n[[display]]\nid = "display-main"\n')).displays[0]
    assert (bare.zone, bare.windows, bare.voice, bare.mute, bare.volume) == ("", (), "espeak", (), 100)


@pytest.mark.parametrize(
    ("line", "bad", "path", "message"),
    [
        ('windows = ["w01"]', 'windows = ["w01", "w99"]', "display[0].windows[1]", 'unknown window "w99"'),
        ('voice = "clips"', 'voice = "tts"', "display[0].voice", "must be one of espeak, clips, off"),
        ("volume = 80", "volume = 120", "display[0].volume", "must be between 0 and 100, got 120"),
        ('zone = "east-hall"', 'zone = "East Hall"', "display[0].zone", "must be lowercase letters"),
        (
            'mute = [["mon-fri", "12:00", "13:30"]',
            'mute = [["mon-fri", "13:30", "12:00"]',
            "display[0].mute[0]",
            "start 13:30 must be before end 12:00",
        ),
        (
            '["sat", "11:30", "12:00"]',
            '["sat", "11:30"]',
            "display[0].mute[1]",
            'must be [days, "HH:MM", "HH:MM"]',
        ),
        (
            '["sat", "11:30", "12:00"]',
            '["sun-mon", "11:30", "12:00"]',
            "display[0].mute[1][0]",
            "runs backwards",
        ),
        ("chime = false", "chime = 0", "display[0].chime", "must be true or false"),
        ("volume = 80", "volum = 80", "display[0].volum", "did you mean 'volume'"),
    ],
)
def test_a_display_mistake_is_reported_on_its_line(tmp_path, line, bad, path, message):
    text = HALL + DISPLAY.replace(line, bad)
    issue = only_issue(tmp_path, text)
    assert issue.path == path and message in issue.message, str(issue)
    assert issue.line == line_of(text, bad)


@pytest.mark.parametrize(
    ("key", "value", "what"),
    [
        ("printer", "lpt1", "must be a URL usb://VID:PID"),
        ("printer", "http://10.0.0.5:9100", "must be a URL usb://VID:PID"),
        ("camera", "webcam", "must be /dev/videoN"),
    ],
)
def test_kiosk_printer_and_camera_urls_are_checked(tmp_path, key, value, what):
    text = HALL + f'\n[[kiosk]]\nid = "kiosk-09"\n{key} = "{value}"\n'
    issue = only_issue(tmp_path, text)
    assert issue.path == f"kiosk[1].{key}"
    assert issue.line == line_of(text, f'{key} = "{value}"')
    assert issue.message.startswith(what)


@pytest.mark.parametrize(("value", "scale"), [("2.0", 2.0), ("3", 3.0), ("1.75", 1.75)])
def test_kiosk_camera_scale_reads_a_float_or_an_integer(tmp_path, value, scale):
    text = HALL + f'\n[[kiosk]]\nid = "kiosk-09"\ncamera = "v4l2:0"\ncamera_px_per_mm = {value}\n'
    kiosk = next(k for k in load_config(write(tmp_path, text)).kiosks if k.id == "kiosk-09")
    assert kiosk.camera_px_per_mm == scale and isinstance(kiosk.camera_px_per_mm, float)


def test_kiosk_camera_scale_is_unknown_when_absent(tmp_path):
    (kiosk,) = load_config(write(tmp_path, HALL)).kiosks
    assert kiosk.camera_px_per_mm == 0.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"2.0"', 'must be a number, got string "2.0"'),
        ("true", "must be a number, got boolean true"),
        ("0", "must be more than 0, got 0"),
        ("0.0", "must be more than 0, got 0.0"),
        ("-1.5", "must be more than 0, got -1.5"),
        ("inf", "must be a finite number, got inf"),
        ("nan", "must be a finite number, got nan"),
        ("250.0", "must be at most 100, got 250.0"),
    ],
)
def test_kiosk_camera_scale_mistakes_are_reported_on_their_line(tmp_path, value, message):
    text = HALL + f'\n[[kiosk]]\nid = "kiosk-09"\ncamera_px_per_mm = {value}\n'
    issue = only_issue(tmp_path, text)
    assert (issue.path, issue.line) == (
        "kiosk[1].camera_px_per_mm",
        line_of(text, f"camera_px_per_mm = {value}"),
    )
    assert issue.message == message
