"""The watcher's confined file access on a real file system: what it opens, moves and writes
never goes through a link, and nothing it opens can block it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from newsflow.watcher import confined


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "inbox" / "wire").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "story.txt").write_text("outside")
    return tmp_path


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_blocking(root):
    os.mkfifo(root / "inbox" / "pipe.txt")
    with confined.folder(root / "inbox", []) as inbox, pytest.raises(confined.NotRegularFile):
        confined.open_file(inbox, "pipe.txt")


def test_a_link_as_the_file_is_refused(root):
    (root / "inbox" / "story.txt").symlink_to(root / "outside" / "story.txt")
    with confined.folder(root / "inbox", []) as inbox, pytest.raises(OSError) as raised:
        confined.open_file(inbox, "story.txt")
    assert raised.value.errno == errno.ELOOP


def test_a_link_as_a_folder_on_the_path_is_refused(root):
    (root / "inbox" / "feed").symlink_to(root / "outside", target_is_directory=True)
    with pytest.raises(confined.LinkOnPath), confined.folder(root / "inbox", ["feed"]):
        pass


def test_a_made_folder_passes_over_a_link_of_the_same_name(root):
    (root / "failed").mkdir()
    (root / "failed" / "wire").symlink_to(root / "outside", target_is_directory=True)
    with confined.made_folder(root / "failed", ["wire"]) as (descriptor, where):
        confined.create_file(descriptor, "report.json", b"{}")
    assert where == root / "failed" / "wire-1"
    assert (root / "failed" / "wire-1" / "report.json").read_bytes() == b"{}"
    assert sorted(p.name for p in (root / "outside").iterdir()) == ["story.txt"]


def test_a_new_file_never_replaces_or_follows_a_name_taken(root):
    link = root / "inbox" / "a.error.json"
    link.symlink_to(root / "outside" / "story.txt")
    with confined.folder(root / "inbox", []) as inbox:
        name = confined.create_file(inbox, "a.error.json", b"report")
    assert name == "a.error-1.json"
    assert (root / "outside" / "story.txt").read_text() == "outside"


def test_a_move_takes_a_free_name_and_moves_a_link_as_a_link(root):
    (root / "inbox" / "wire" / "a.txt").write_text("first")
    (root / "inbox" / "wire" / "b.txt").symlink_to(root / "outside" / "story.txt")
    (root / "done").mkdir()
    (root / "done" / "a.txt").write_text("already here")
    with (
        confined.folder(root / "inbox", ["wire"]) as source,
        confined.folder(root / "done", []) as destination,
    ):
        moved = confined.move(source, "a.txt", destination, "a.txt")
        link = confined.move(source, "b.txt", destination, "b.txt")
    assert moved == "a-1.txt" and (root / "done" / "a-1.txt").read_text() == "first"
    assert (root / "done" / "a.txt").read_text() == "already here"
    assert (root / "done" / link).is_symlink()
    assert list((root / "inbox" / "wire").iterdir()) == []
