"""Video ids, checked wherever they enter: import names, file stems, ground truth and labels.

An id names an HDF5 group (``/videos/<id>``) and files beside outputs (``timeline_<id>.png``),
so it must be one plain path component: not empty, no ``/``, not ``.`` or ``..``, no control
characters. A bad id is refused at the door with the file it came from, never half-written.
"""
from __future__ import annotations

from collections.abc import Iterable

from actionhas.core.errors import ActionhasError
from actionhas.formats.ground_truth import canonical_video_id


class VideoIdError(ActionhasError):
    """A video id that cannot name a video in a store or a file."""


def id_problem(video_id: object) -> str | None:
    """Why ``video_id`` cannot be a video id, or None when it can."""
    if not isinstance(video_id, str):
        return f"is a {type(video_id).__name__}, not text"
    if not video_id.strip():
        return "is empty"
    if video_id in (".", ".."):
        return "is a path component ('.' or '..'), not a name"
    if "/" in video_id:
        return "contains '/'"
    if any(ord(c) < 32 or ord(c) == 127 for c in video_id):
        return "contains a control character"
    return None


def check_video_id(video_id: object, where: str | object) -> str:
    """``video_id`` itself when it is a valid id; otherwise an error naming it and ``where`` it came from."""
    problem = id_problem(video_id)
    if problem is not None:
        raise VideoIdError(f"{where}: video id {video_id!r} {problem}")
    return video_id  # type: ignore[return-value]


def check_video_ids(video_ids: Iterable[object], where: str | object) -> None:
    """Every id valid, and no video named both with and without ActivityNet's ``v_`` prefix."""
    seen: dict[str, str] = {}
    for vid in video_ids:
        check_video_id(vid, where)
        canonical = canonical_video_id(vid)
        if canonical in seen and seen[canonical] != vid:
            raise VideoIdError(f"{where}: names video {canonical!r} twice, as {seen[canonical]!r} and {vid!r} "
                               "('v_' ids match the ids without it)")
        seen[canonical] = vid
