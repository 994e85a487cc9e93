"""Uploaded files for background imports: stored under MEDIA_ROOT/imports where the worker can read them."""

import uuid
from pathlib import Path

from django.conf import settings
from django.utils.text import get_valid_filename
from rest_framework.exceptions import ValidationError


def size_text(size: int) -> str:
    """1536 -> "1.5 KB": a limit people can read, whatever its size (tests set it to a few bytes)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1024
    return f"{size} GB"


def upload_check_size(*, file) -> None:
    """Refuse a file over IMPORT_MAX_BYTES before anything reads it."""
    if file.size > settings.IMPORT_MAX_BYTES:
        raise ValidationError({"file": f"The file is {size_text(file.size)}, larger than the "
                                       f"{size_text(settings.IMPORT_MAX_BYTES)} allowed."})


def upload_store(*, file, allowed_suffixes: set[str]) -> str:
    """Save an upload and return its path; refuses other file types and files over IMPORT_MAX_BYTES."""
    name = get_valid_filename(Path(file.name).name) or "upload"
    suffix = Path(name).suffix.lower()
    if suffix not in allowed_suffixes:
        raise ValidationError({"file": f"Give a {' or '.join(sorted(allowed_suffixes))} file, not {suffix or name}."})
    upload_check_size(file=file)
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}-{name}"
    with open(path, "wb") as handle:
        for chunk in file.chunks():
            handle.write(chunk)
    return str(path)
