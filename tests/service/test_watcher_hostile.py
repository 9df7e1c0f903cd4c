"""Hostile input, as an attacker or an unlucky producer drops it: the real watcher against the
real broker. Whatever the file, the watcher stays alive and ready, the file is quarantined
with its reason, files outside the inbox stay byte for byte as they were, and an ordinary
file dropped right after it is sent."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.support.helpers import ServiceProcess, wait_for
from tests.support.watcher_rig import WatcherRig, watcher_rig

pytestmark = pytest.mark.kafka

ORDINARY = "Council approves new bus lanes\n\nThe plan passed by nine votes to four on Monday.\n"
# Root reads anything; without these capabilities the watcher obeys file permissions as the
# unprivileged user of a real deployment does.
AS_ORDINARY_USER = (
    ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
)
WATCHER_MEMORY_LIMIT = 512 * 1024 * 1024  # the Kubernetes limit of the watcher's container


@pytest.fixture
def rig(tmp_path, new_topic, kafka_settings) -> WatcherRig:
    return watcher_rig(tmp_path, new_topic, kafka_settings)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the inbox, as the watcher's parent folder holds others."""
    folder = tmp_path / "outside"
    (folder / "secrets").mkdir(parents=True)
    (folder / "secrets" / "payroll.txt").write_text("Payroll\n\nEvery salary of the company.\n")
    (folder / "notes.txt").write_text("Private notes\n\nNot for the pipeline.\n")
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under `folder` with a hash of its bytes (or its link target)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path)] = "link to " + os.readlink(path)
        elif path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[str(path)] = "folder"
    return found


def ordinary_file_goes_through(rig: WatcherRig, service: ServiceProcess, name: str) -> None:
    """The watcher is ready, and an ordinary file dropped now is sent within 30 s."""
    assert service.ready()
    (rig.inbox / name).write_text(ORDINARY)
    wait_for(
        lambda: any(p.name == name for p in rig.processed_files()), 30, f"{name} in processed/"
    )
    assert service.ready()


def letters_with(rig: WatcherRig, reason: str) -> list[dict]:
    """The dead letters with `reason`, once at least one came, and a few seconds more (so that
    a repeated one would show too)."""
    found: list[dict] = []

    def arrived() -> bool:
        found[:] = [letter for letter in rig.dead_letters(1) if letter["reason"] == reason]
        return bool(found)

    wait_for(arrived, 60, f"a dead letter for {reason}")
    time.sleep(3)
    return [letter for letter in rig.dead_letters(1) if letter["reason"] == reason]


# --- reaching outside the inbox ----------------------------------------------------------------


def test_polling_never_follows_a_link_to_a_folder_outside(rig, outside):
    rig.env["NEWSFLOW_WATCHER_FORCE_POLLING"] = "true"
    before = snapshot(outside)
    service = rig.service().start()
    try:
        (rig.inbox / "shared").symlink_to(outside, target_is_directory=True)
        [letter] = letters_with(rig, "symlink")
        ordinary_file_goes_through(rig, service, "after-link.txt")
        time.sleep(3)  # a few polls: nothing under the link is ever read
    finally:
        service.stop()
    assert letter["input"]["path"] == "shared"
    assert snapshot(outside) == before
    assert (rig.failed / "shared").is_symlink()
    sent = [p.name for p in rig.processed_files()]
    assert sent == ["after-link.txt"]


def test_a_folder_swapped_for_a_link_before_the_read_is_not_followed(rig, outside):
    rig.env["NEWSFLOW_WATCHER_SETTLE_SECONDS"] = "3"
    rig.env["NEWSFLOW_WATCHER_RESCAN_SECONDS"] = "1"
    (outside / "wire").mkdir()
    (outside / "wire" / "story.txt").write_text("Outside story\n\nMust stay where it is.\n")
    before = snapshot(outside)
    service = rig.service().start()
    try:
        (rig.inbox / "wire").mkdir()
        with (rig.inbox / "wire" / "story.txt").open("w") as writing:
            writing.write(ORDINARY)
            writing.flush()
            time.sleep(1)  # noticed, not yet complete: its writer still has it open
            (rig.inbox / "wire").rename(rig.inbox / ".wire-away")
            (rig.inbox / "wire").symlink_to(outside / "wire", target_is_directory=True)
        wait_for(lambda: (rig.failed / "wire").is_symlink(), 30, "the link quarantined")
        ordinary_file_goes_through(rig, service, "after-swap.txt")
    finally:
        service.stop()
    assert snapshot(outside) == before
    assert [p.name for p in rig.processed_files()] == ["after-swap.txt"]


def test_nothing_is_written_through_a_link_planted_in_failed(rig, outside):
    rig.failed.mkdir()
    target = outside / "notes.txt"
    (rig.failed / "empty.txt.error.json").symlink_to(target)
    (rig.failed / "sub").symlink_to(outside / "secrets", target_is_directory=True)
    before = snapshot(outside)
    service = rig.service().start()
    try:
        (rig.inbox / "empty.txt").write_bytes(b"")
        (rig.inbox / "sub").mkdir()
        (rig.inbox / "sub" / "blank.txt").write_text("   \n")
        wait_for(lambda: len(rig.failed_files()) >= 4, 30, "both files in failed/")
        ordinary_file_goes_through(rig, service, "after-plant.txt")
    finally:
        service.stop()
    assert snapshot(outside) == before
    assert (rig.failed / "empty.txt").read_bytes() == b""
    reports = sorted(p.name for p in rig.failed.glob("empty*.json") if not p.is_symlink())
    assert len(reports) == 1 and json.loads((rig.failed / reports[0]).read_text())["reason"]
    [moved] = [p for p in rig.failed.rglob("blank.txt")]
    assert moved.parent.name == "sub-1" and not moved.parent.is_symlink()


# --- folders the watcher cannot read or walk ---------------------------------------------------


def test_an_unreadable_folder_is_reported_once_and_the_watcher_goes_on(rig):
    locked = rig.inbox / "locked"
    locked.mkdir()
    (locked / "inside.txt").write_text(ORDINARY)
    locked.chmod(0)
    rig.env["NEWSFLOW_WATCHER_RESCAN_SECONDS"] = "1"
    service = rig.service(command_prefix=AS_ORDINARY_USER).start()
    try:
        time.sleep(5)  # several rescans
        ordinary_file_goes_through(rig, service, "beside-locked.txt")
        letters = letters_with(rig, "unreadable")
    finally:
        service.stop()
        locked.chmod(0o755)
    assert len(letters) == 1
    assert letters[0]["input"]["path"] == "locked" and "Permission denied" in letters[0]["message"]
    assert (locked / "inside.txt").exists()  # left where it is, for its owner to fix


def test_a_folder_made_unreadable_before_its_file_settled_does_not_stop_the_watcher(rig):
    rig.env["NEWSFLOW_WATCHER_SETTLE_SECONDS"] = "3"
    rig.env["NEWSFLOW_WATCHER_RESCAN_SECONDS"] = "1"
    service = rig.service(command_prefix=AS_ORDINARY_USER).start()
    folder = rig.inbox / "closing"
    try:
        folder.mkdir()
        (folder / "inside.txt").write_text(ORDINARY)
        time.sleep(1)
        folder.chmod(0)
        [letter] = letters_with(rig, "unreadable")
        ordinary_file_goes_through(rig, service, "after-closing.txt")
    finally:
        service.stop()
        folder.chmod(0o755)
    assert letter["input"]["path"] == "closing"


def remove_deep_tree(folder: Path) -> None:
    """Remove a tree deeper than a path may be long (and than shutil.rmtree's recursion
    goes), one level at a time from inside."""
    here = os.getcwd()
    os.chdir(folder)
    names: list[str] = []
    try:
        while True:
            with os.scandir(".") as listed:
                entries = list(listed)
            sub = next((e.name for e in entries if e.is_dir(follow_symlinks=False)), None)
            if sub is not None:
                os.chdir(sub)
                names.append(sub)
                continue
            for entry in entries:
                os.unlink(entry.name)
            if not names:
                break
            os.chdir("..")
            os.rmdir(names.pop())
    finally:
        os.chdir(here)


@pytest.fixture
def deep_tree(rig):
    yield
    for folder in (rig.inbox, rig.failed):
        if folder.exists():
            remove_deep_tree(folder)


def test_folders_nested_too_deep_are_quarantined_whole(rig, deep_tree):
    # Made from inside, one level at a time: the whole path is longer than a path may be.
    here = os.getcwd()
    os.chdir(rig.inbox)
    try:
        for _ in range(1100):
            os.mkdir("d")
            os.chdir("d")
        Path("bottom.txt").write_text(ORDINARY)
    finally:
        os.chdir(here)
    service = rig.service().start()
    try:
        [letter] = letters_with(rig, "too_deep")
        ordinary_file_goes_through(rig, service, "shallow.txt")
        assert service.http("/healthz")[0] == 200
    finally:
        service.stop()
    assert letter["input"]["path"] == "/".join(["d"] * 32)
    assert not (rig.inbox / "d").exists() or len(list((rig.inbox / "d").rglob("*"))) < 40
    assert (rig.failed / "/".join(["d"] * 32)).is_dir()


# --- one file never stops the watcher ----------------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_sent_and_moved(rig):
    service = rig.service().start()
    try:
        name = os.fsencode(rig.inbox) + b"/caf\xe9.txt"
        with open(name, "w") as handle:
            handle.write(ORDINARY)
        [article] = rig.articles(1)
        ordinary_file_goes_through(rig, service, "after-latin1.txt")
    finally:
        service.stop()
    assert article["origin"]["path"] == "caf\\xe9.txt"
    assert b"caf\xe9.txt" in [os.fsencode(p.name) for p in rig.processed_files()]


def test_a_file_that_takes_too_long_to_parse_is_stopped_and_the_rest_flow(rig):
    rig.env["NEWSFLOW_WATCHER_PARSE_SECONDS_PER_FILE"] = "0.25"
    service = rig.service().start()
    try:
        # Nine megabytes of accented sentences: legitimate, but far past a quarter-second
        # budget (ASCII text of that size now parses within it).
        slow = "Slow\n\n" + "Le conseil s'est r\u00e9uni: il vote. " * 270_000
        (rig.inbox / "slow.txt").write_text(slow, encoding="utf-8")
        [letter] = letters_with(rig, "too_slow")
        ordinary_file_goes_through(rig, service, "after-slow.txt")
        assert service.metric("newsflow_watcher_parser_restarts_total") >= 1
    finally:
        service.stop()
    assert "slow.txt" in letter["message"]
    assert (rig.failed / "slow.txt").exists()


def test_json_that_breaks_the_loader_or_the_encoder_is_rejected_or_cleaned(rig):
    service = rig.service().start()
    try:
        (rig.inbox / "long-number.json").write_text('{"body": "Text", "n": ' + "9" * 5000 + "}")
        (rig.inbox / "surrogate.json").write_text(
            '{"title": "Bad \\ud800 title", "body": "Body \\udfff text.", "\\ud800": 1}'
        )
        [article] = rig.articles(1)
        [letter] = letters_with(rig, "invalid_json")
        ordinary_file_goes_through(rig, service, "after-json.txt")
    finally:
        service.stop()
    assert article["title"] == "Bad \ufffd title" and article["body"] == "Body \ufffd text."
    assert letter["input"]["path"] == "long-number.json"
    assert (rig.failed / "long-number.json").exists()


# --- memory is bounded by the size limit, not the file's shape ---------------------------------


def peak_memory(pid: int, samples: list[int], stop: threading.Event) -> None:
    """Resident memory of the watcher and its parser processes together, sampled."""
    while not stop.wait(0.05):
        total = 0
        for status in [Path(f"/proc/{pid}/status"), *Path(f"/proc/{pid}/task").glob("*/children")]:
            pids = [pid] if status.name == "status" else status.read_text().split()
            for one in pids:
                try:
                    for line in Path(f"/proc/{one}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
                except OSError:
                    pass
        samples.append(total)


def test_a_jsonl_of_a_million_lines_is_rejected_within_the_memory_limit(rig):
    service = rig.service().start()
    samples: list[int] = []
    stop = threading.Event()
    sampler = threading.Thread(target=peak_memory, args=(service.process.pid, samples, stop))
    sampler.start()
    try:
        lines = b'{"body":"a"}\n' * 750_000  # 9.75 MB: within the size limit
        (rig.inbox / "many.jsonl").write_bytes(lines)
        (rig.inbox / "braces.jsonl").write_bytes(b"{\n" * 2_000_000)
        wait_for(lambda: len(rig.failed_files()) == 2, 60, "both files in failed/")
        ordinary_file_goes_through(rig, service, "after-lines.txt")
    finally:
        stop.set()
        sampler.join()
        service.stop()
    letters = rig.dead_letters(200, settle=3)
    assert max(samples) < WATCHER_MEMORY_LIMIT, f"peak {max(samples) / 2**20:.0f} MiB"
    assert len(letters) < 200  # bounded, not one per line
    reasons = {letter["input"]["path"]: letter["reason"] for letter in letters}
    assert reasons["many.jsonl"] == "too_large"
    assert reasons["braces.jsonl"] == "invalid_json"


# --- never lose text ---------------------------------------------------------------------------


def test_a_paragraph_that_opens_like_furniture_is_kept_and_a_reprint_notice_is_not_the_title(
    rig,
):
    paragraph = (
        "Copyright holders argued that the ruling would let platforms profit from their work "
        "without paying for it, and the court agreed to hear the appeal next spring."
    )
    service = rig.service().start()
    try:
        (rig.inbox / "ruling.txt").write_text(f"Court to hear appeal\n\n{paragraph}\n")
        (rig.inbox / "wire.txt").write_text(
            "Subscribe to our newsletter\n\n"
            "This article was originally published by Harbour Daily and is reprinted with "
            "permission.\n\nThe harbour reopened on Tuesday after the storm damage was cleared.\n"
        )
        found = {a["origin"]["path"]: a for a in rig.articles(2)}
    finally:
        service.stop()
    assert found["ruling.txt"]["body"] == paragraph
    wire = found["wire.txt"]
    assert wire["title"].startswith("The harbour reopened on Tuesday")
    assert "originally published" not in wire["body"]
    assert wire["publisher"] == "Harbour Daily"


def test_a_writer_that_pauses_longer_than_the_settle_period_loses_nothing(rig):
    service = rig.service().start()  # settle period 0.5 s
    try:
        with (rig.inbox / "slow-writer.txt").open("w") as handle:
            handle.write("Harbour reopens after storm\n\nThe first half of the report.\n")
            handle.flush()
            time.sleep(3)
            handle.write("The second half, written after a pause.\n")
        [article] = rig.articles(1, settle=2)
    finally:
        service.stop()
    assert article["body"].endswith("The second half, written after a pause.")
    [moved] = rig.processed_files()
    assert moved.read_text().endswith("written after a pause.\n")
