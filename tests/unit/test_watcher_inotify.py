"""The inbox's inotify watch on a real folder: what each way of dropping a file is noticed as,
and folders that arrive, move or lie too deep."""

import contextlib
import os
import queue
import time

import pytest

from newsflow.watcher.inotify_watch import InotifyWatch


@pytest.fixture
def watched(tmp_path):
    noticed: queue.SimpleQueue = queue.SimpleQueue()
    watch = InotifyWatch(str(tmp_path / "inbox"), max_depth=3, noticed=noticed)
    (tmp_path / "inbox").mkdir()
    watch.start()
    yield tmp_path / "inbox", noticed
    watch.stop()
    watch.join(timeout=5)


def notices(noticed: queue.SimpleQueue, wanted: int, timeout: float = 5) -> list[tuple]:
    found = []
    deadline = time.monotonic() + timeout
    while len(found) < wanted and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            found.append(noticed.get(timeout=0.1))
    time.sleep(0.3)  # nothing more than wanted should follow
    while True:
        try:
            found.append(noticed.get_nowait())
        except queue.Empty:
            return found


def test_a_file_written_is_noticed_when_created_and_complete_when_closed(watched):
    inbox, noticed = watched
    with open(inbox / "a.txt", "w") as handle:
        handle.write("Title\n\nBody.\n")
    path = str(inbox / "a.txt")
    assert notices(noticed, 2) == [(path, False, False), (path, False, True)]


def test_a_file_renamed_in_is_complete_at_once(watched, tmp_path):
    inbox, noticed = watched
    (tmp_path / "staged.txt").write_text("Title\n\nBody.\n")
    os.rename(tmp_path / "staged.txt", inbox / "b.txt")
    assert notices(noticed, 1) == [(str(inbox / "b.txt"), False, True)]


def test_a_folder_moved_in_is_noticed_and_then_watched_under_any_later_name(watched, tmp_path):
    inbox, noticed = watched
    (tmp_path / "batch" / "day").mkdir(parents=True)
    os.rename(tmp_path / "batch", inbox / "batch")
    assert notices(noticed, 1) == [(str(inbox / "batch"), True, False)]

    (inbox / "batch" / "day" / "c.txt").write_text("Title\n\nBody.\n")
    assert notices(noticed, 2)[-1] == (str(inbox / "batch" / "day" / "c.txt"), False, True)

    os.rename(inbox / "batch", inbox / "renamed")
    assert notices(noticed, 1) == [(str(inbox / "renamed"), True, False)]
    (inbox / "renamed" / "day" / "d.txt").write_text("Title\n\nBody.\n")
    assert notices(noticed, 2)[-1] == (str(inbox / "renamed" / "day" / "d.txt"), False, True)


def test_dot_folders_and_folders_too_deep_are_not_watched(watched):
    inbox, noticed = watched
    (inbox / ".partial").mkdir()
    deep = inbox / "a" / "b" / "c"
    deep.mkdir(parents=True)
    notices(noticed, 3, timeout=1)  # the folders themselves, as they appear
    (inbox / ".partial" / "e.txt").write_text("x")
    (deep / "f.txt").write_text("x")
    (inbox / "a" / "b" / "g.txt").write_text("x")
    paths = {path for path, _, _ in notices(noticed, 2)}
    assert paths == {str(inbox / "a" / "b" / "g.txt")}


def test_a_link_to_a_folder_is_noticed_but_never_watched_through(watched, tmp_path):
    inbox, noticed = watched
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, inbox / "link")
    [notice] = notices(noticed, 1)
    assert notice[0] == str(inbox / "link")
    (outside / "secret.txt").write_text("x")
    assert notices(noticed, 0, timeout=0.5) == []


def test_a_root_that_cannot_be_watched_is_an_error_to_fall_back_on(tmp_path):
    watch = InotifyWatch(str(tmp_path / "missing"), max_depth=3, noticed=queue.SimpleQueue())
    with pytest.raises(OSError):
        watch.start()
