"""File-system access confined to one folder: a path is walked down from the folder's
descriptor one name at a time and nothing on the way is followed through a symbolic link,
so a link planted in the inbox, or swapped in for a folder between a look and a read,
cannot make the watcher read, move or write anything outside the folders it was given.

The given folders themselves (the inbox, processed/, failed/) are opened as configured: an
operator may well point them through a link.
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path, PurePath
from typing import BinaryIO

_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in for a file must not block the reader forever; the opened
# descriptor's type is then checked, so nothing but a regular file is ever read.
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NOT_A_REAL_FOLDER = (errno.ELOOP, errno.ENOTDIR)


class LinkOnPath(Exception):
    """A folder on the path is a symbolic link (or not a folder): the path leads outside."""


class NotRegularFile(Exception):
    """The name is a FIFO, a device, a socket or a folder, not a file that can be read."""


@contextmanager
def folder(root: Path, parts: Sequence[str]) -> Iterator[int]:
    """A descriptor of `root/parts…`; LinkOnPath if any part is not a real folder."""
    descriptor, _ = _walk(root, parts, create=False)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


@contextmanager
def made_folder(root: Path, parts: Sequence[str]) -> Iterator[tuple[int, Path]]:
    """A descriptor of `root/parts…` and its path, missing folders made; a name taken by a
    link or a file is passed over for `name-1`, `name-2`…: something newsflow writes never
    lands behind a link."""
    descriptor, used = _walk(root, parts, create=True)
    try:
        yield descriptor, root.joinpath(*used)
    finally:
        os.close(descriptor)


def _walk(root: Path, parts: Sequence[str], create: bool) -> tuple[int, list[str]]:
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    used = []
    try:
        for part in parts:
            child, name = _enter(descriptor, part, create)
            os.close(descriptor)
            descriptor = child
            used.append(name)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, used


def _enter(parent: int, name: str, create: bool) -> tuple[int, str]:
    names = itertools.chain([name], (f"{name}-{n}" for n in itertools.count(1)))
    for candidate in names:
        if create:
            with suppress(FileExistsError):
                os.mkdir(candidate, dir_fd=parent)
        try:
            return os.open(candidate, _OPEN_FOLDER, dir_fd=parent), candidate
        except OSError as error:
            if error.errno not in _NOT_A_REAL_FOLDER:
                raise
            if not create:
                raise LinkOnPath(name) from None
    raise AssertionError("unreachable")


def open_file(parent: int, name: str) -> tuple[int, os.stat_result]:
    """An open descriptor of a regular file and its status. Raises OSError(ELOOP) for a link,
    NotRegularFile for anything else that is not a regular file."""
    descriptor = os.open(name, _OPEN_FILE, dir_fd=parent)
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise NotRegularFile(name)
    os.set_blocking(descriptor, True)
    return descriptor, info


def status(parent: int, name: str) -> os.stat_result:
    return os.stat(name, dir_fd=parent, follow_symlinks=False)


def create_file(parent: int, name: str, data: bytes | BinaryIO) -> str:
    """Write a new file, never over another: a name already taken, a link included, is passed
    over for `stem-1.suffix`… The name used is returned."""
    for candidate in _free_names(name):
        try:
            descriptor = os.open(candidate, _CREATE_FILE, 0o644, dir_fd=parent)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                shutil.copyfileobj(data, handle)
        return candidate
    raise AssertionError("unreachable")


def move(source: int, name: str, destination: int, wanted: str) -> str:
    """Move `name` (a file, a link or a folder, never followed) out of the `source` folder to
    a free name like `wanted` in `destination`; the name used is returned."""
    for candidate in _free_names(wanted):
        try:
            # A hard link and an unlink rather than a rename: a link fails on a name that
            # is taken, where a rename would silently replace what is there.
            os.link(name, candidate, src_dir_fd=source, dst_dir_fd=destination,
                    follow_symlinks=False)  # fmt: skip
        except FileExistsError:
            continue
        except OSError as error:
            if error.errno == errno.EXDEV:
                candidate = _copy(source, name, destination, wanted)
            elif error.errno in (errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                # A folder, or a file system without hard links: a rename, to a name checked
                # free right before.
                if _exists(destination, candidate):
                    continue
                os.rename(name, candidate, src_dir_fd=source, dst_dir_fd=destination)
                return candidate
            else:
                raise
        os.unlink(name, dir_fd=source)
        return candidate
    raise AssertionError("unreachable")


def _copy(source: int, name: str, destination: int, wanted: str) -> str:
    """Across file systems: a link is made again as a link, a file copied; never followed."""
    if stat.S_ISLNK(status(source, name).st_mode):
        target = os.readlink(name, dir_fd=source)
        for candidate in _free_names(wanted):
            try:
                os.symlink(target, candidate, dir_fd=destination)
            except FileExistsError:
                continue
            return candidate
    descriptor, _ = open_file(source, name)
    with os.fdopen(descriptor, "rb") as handle:
        return create_file(destination, wanted, handle)


def _exists(parent: int, name: str) -> bool:
    try:
        status(parent, name)
    except FileNotFoundError:
        return False
    return True


def _free_names(wanted: str) -> Iterator[str]:
    yield wanted
    path = PurePath(wanted)
    for number in itertools.count(1):
        yield f"{path.stem}-{number}{path.suffix}"
