"""Inputs given as URLs: ``s3://``, ``gs://``, ``file://`` and any other fsspec protocol.

An object is copied into a temporary file of the same name and read by the local readers
(io/readers.py), so every format, check and message is the local one; the message names the
URL, and the Volume's path is the URL. A folder URL is listed (its objects). Per-structure mask
folders (``--masks``, TotalSegmentator's ``case/segmentations/``) are read from local folders
only: a case stored so under a URL is an error saying so, never a case silently left out.
A NIfTI header's label table (TotalSegmentator) is read from a URL as from a file. Credentials and endpoints come from ``storage_options`` (the CLI's
``--storage-option key=value``), passed to ``fsspec.url_to_fs``; they are never recorded in
the output.

fsspec and the protocol's package (s3fs for s3://, gcsfs for gs://) are optional (``pip
install 'segloss[cloud]'``) and imported only when a URL is read: a local run never pays
their import time.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from ..errors import InputError, SeglossError, UsageError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: Any) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) rather than a local path."""
    return isinstance(path, str) and bool(_URL.match(path))


def as_local_or_url(path: Any) -> Any:
    """A URL as the string it is (``Path`` would fold its ``//``), anything else as a Path."""
    return path if is_url(path) else Path(path)


MASKS_LOCAL_ONLY = (
    "per-structure mask folders are read from local folders only, not from URLs; copy them to a local "
    "folder first (e.g. aws s3 sync, gsutil rsync) or store each case as one label-map file"
)


def _options(storage_options: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    return dict(storage_options or {})


def filesystem(url: str, storage_options: Optional[Mapping[str, Any]] = None) -> tuple[Any, str]:
    """(fsspec file system, path inside it) of ``url``; UsageError naming the missing package."""
    try:
        import fsspec
    except ImportError:
        raise UsageError(
            f"{url}: reading URLs needs fsspec: pip install 'segloss[cloud]' (s3fs for s3://, gcsfs for gs://)"
        ) from None
    try:
        return fsspec.url_to_fs(url, **_options(storage_options))
    except ImportError as exc:
        raise UsageError(f"{url}: {exc}; pip install 'segloss[cloud]' or the package it names") from None
    except ValueError as exc:
        if "protocol" in str(exc).lower():
            raise UsageError(f"{url}: unknown URL protocol; {exc}") from None
        raise UsageError(f"{url}: {exc}") from None
    except TypeError as exc:  # a storage option the file system does not take
        raise UsageError(f"{url}: @storage_options not accepted by this file system ({exc})") from None


def _join(url: str, name: str) -> str:
    return url.rstrip("/") + "/" + name


def _read_error(exc: BaseException, url: str) -> InputError:
    """The local reader's message for the same failure (readers._check_file, _read_head)."""
    if isinstance(exc, FileNotFoundError):
        return InputError("file not found; check the path", url)
    if isinstance(exc, PermissionError):
        return InputError("permission denied; check the credentials (--storage-option) and the object's access", url)
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return InputError(f"cannot read the file ({reason}); check the URL and the storage options", url)


def is_dir(url: str, storage_options: Optional[Mapping[str, Any]] = None) -> bool:
    """Whether ``url`` names a folder (a prefix with objects under it)."""
    fs, path = filesystem(url, storage_options)
    try:
        return bool(fs.isdir(path))
    except (OSError, ValueError):
        return False


class RemoteEntry:
    """An object of a listed folder, with what folder._index asks of a local entry."""

    def __init__(self, url: str, name: str):
        self.url = url
        self.name = name

    def is_dir(self) -> bool:
        return False

    def is_file(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.url

    def __lt__(self, other: RemoteEntry) -> bool:
        return self.name < other.name


def list_files(url: str, role: str, storage_options: Optional[Mapping[str, Any]] = None) -> list[RemoteEntry]:
    """The objects directly in the folder ``url``, sorted by name (sub-folders left out)."""
    fs, path = filesystem(url, storage_options)
    try:
        if not fs.isdir(path):
            raise InputError(f"{role} folder not found; check the path", url)
        infos = fs.ls(path, detail=True)
    except PermissionError:
        raise InputError(f"cannot list the {role} folder (permission denied)", url) from None
    except FileNotFoundError:
        raise InputError(f"{role} folder not found; check the path", url) from None
    except OSError as exc:
        raise InputError(f"cannot list the {role} folder ({exc.strerror or exc})", url) from None
    out = []
    for info in infos:
        name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
        if info.get("type") == "directory" and not name.startswith("."):
            _refuse_mask_folder(fs, str(info["name"]), _join(url, name))
        if info.get("type") != "file":
            continue
        out.append(RemoteEntry(_join(url, name), name))
    return sorted(out)


def _refuse_mask_folder(fs: Any, path: str, url: str) -> None:
    """InputError when the sub-folder ``url`` holds a case of per-structure masks (image files,
    directly or in ``segmentations/``), which a local folder would score and a URL cannot."""
    from .readers import file_kind

    for where in (path, path.rstrip("/") + "/segmentations"):
        try:
            names = [str(n).rstrip("/").rsplit("/", 1)[-1] for n in fs.ls(where, detail=False)]
        except (OSError, ValueError):
            continue
        if any(file_kind(n) is not None for n in names if not n.startswith(".")):
            raise InputError(f"is a case of per-structure masks; {MASKS_LOCAL_ONLY}", url)


def read_volume_url(url: str, storage_options: Optional[Mapping[str, Any]] = None, **read_options: Any):
    """The Volume of the object ``url``, read by the local readers from a temporary copy.

    Errors are the local ones with the URL as the path; the Volume's path is the URL. The
    temporary copy is removed at once (a memory-mapped .npy keeps its pages until released)."""
    from .readers import read_volume

    fs, path = filesystem(url, storage_options)
    name = path.rstrip("/").rsplit("/", 1)[-1] or "object"
    folder = tempfile.mkdtemp(prefix="segloss-url-")
    local = os.path.join(folder, name)
    try:
        folder_error = InputError("is a directory, expected a file (give two folders to score a folder)", url)
        try:
            with fs.open(path, "rb") as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        except Exception as exc:  # noqa: BLE001 - every client library raises its own kinds
            if isinstance(exc, (FileNotFoundError, IsADirectoryError)) and is_dir(url, storage_options):
                raise folder_error from None
            raise _read_error(exc, url) from None
        # A prefix may read as an empty object: asked only then, one request less per object.
        if os.path.getsize(local) == 0 and is_dir(url, storage_options):
            raise folder_error
        try:
            vol = read_volume(local, **read_options)
        except SeglossError as exc:
            raise type(exc)(exc.message.replace(local, url), url if exc.path == local else exc.path) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _with_path(vol, url)


def _with_path(vol: Any, url: str) -> Any:
    from dataclasses import replace

    return replace(vol, path=url)
