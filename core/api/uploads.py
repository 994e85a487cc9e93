"""Uploaded files for background imports: stored under MEDIA_ROOT/imports where the worker can read them."""

import uuid
from pathlib import Path

from django.conf import settings
from django.utils.text import get_valid_filename
from rest_framework.exceptions import ValidationError


def upload_store(*, file, allowed_suffixes: set[str]) -> str:
    """Save an upload and return its path; refuses other file types and files over IMPORT_MAX_BYTES."""
    name = get_valid_filename(Path(file.name).name) or "upload"
    suffix = Path(name).suffix.lower()
    if suffix not in allowed_suffixes:
        raise ValidationError({"file": f"Give a {' or '.join(sorted(allowed_suffixes))} file, not {suffix or name}."})
    if file.size > settings.IMPORT_MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB."})
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}-{name}"
    with open(path, "wb") as handle:
        for chunk in file.chunks():
            handle.write(chunk)
    return str(path)
