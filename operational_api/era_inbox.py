"""Where uploaded 835 files wait and are kept: an inbox the Dagster sensor watches, and an archive by hash.

A file's identity is the SHA-256 of its bytes: the same remittance uploaded twice, from the page or
dropped in the inbox, is one file and one Dagster partition.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from operational_api.settings import var_dir

MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    file_hash: str
    path: Path
    file_name: str
    is_new: bool


def inbox_dir() -> Path:
    path = Path(os.environ.get("MENTALSPACE_ERA_INBOX") or var_dir() / "era" / "inbox")
    path.mkdir(parents=True, exist_ok=True)
    return path


def archive_dir() -> Path:
    path = var_dir() / "era" / "files"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archived_path(digest: str) -> Path:
    return archive_dir() / f"{digest}.835"


def original_name(digest: str) -> str:
    sidecar = archive_dir() / f"{digest}.json"
    return json.loads(sidecar.read_text())["file_name"] if sidecar.exists() else f"{digest[:12]}.835"


def archive(data: bytes, file_name: str) -> StoredFile:
    """Keep the bytes under their hash (once) with the name they were uploaded as."""
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(
            f"{file_name}: {len(data) / 1e6:.0f} MB is larger than the {MAX_FILE_BYTES // 2**20} MB limit"
        )
    digest = file_hash(data)
    path = archived_path(digest)
    is_new = not path.exists()
    if is_new:
        temporary = path.with_suffix(".part")
        temporary.write_bytes(data)
        temporary.replace(path)  # atomic: a half-written file is never seen under its hash
        (archive_dir() / f"{digest}.json").write_text(
            json.dumps(
                {
                    "file_name": Path(file_name).name,
                    "archived_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "size_bytes": len(data),
                }
            )
        )
    return StoredFile(digest, path, Path(file_name).name, is_new)


def submit(data: bytes, file_name: str) -> StoredFile:
    """Put an upload where the sensor will find it (archived first, so nothing is lost)."""
    stored = archive(data, file_name)
    marker = inbox_dir() / f"{stored.file_hash}.835"
    if not marker.exists():
        shutil.copyfile(stored.path, marker.with_suffix(".part"))
        marker.with_suffix(".part").replace(marker)
    return stored


def drain_inbox() -> list[StoredFile]:
    """Archive every file waiting in the inbox and empty it; returns what was found, oldest first."""
    found = []
    for path in sorted(inbox_dir().iterdir(), key=lambda p: p.stat().st_mtime):
        if not path.is_file() or path.suffix == ".part" or path.name.startswith("."):
            continue
        data = path.read_bytes()
        name = original_name(file_hash(data)) if path.stem == file_hash(data) else path.name
        found.append(archive(data, name))
        path.unlink()
    return found
