"""What every ``loadcert collect <source>`` shares: its one error class, and the stage
windows of the bundle being filled (each collector asks its source about those windows).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest_loadcert.cliopts as cliopts
from pytest_loadcert.config.profile import STAGE_NAME_RE, Profile
from pytest_loadcert.errors import EvidenceError
from pytest_loadcert.evidence.bundle import Bundle
from pytest_loadcert.evidence.layout import STAGE_JSON, STAGES, stage_dir
from pytest_loadcert.evidence.stage import StageRun


class CollectError(cliopts.CommandError):
    """A collection cannot start or did not get a full answer: one line, and its exit status
    (4: a usage error; 1, the default: bad evidence in the bundle, or the source failed)."""

    default_status = cliopts.EXIT_FAILED


def stage_windows(evidence_dir: Path, profile: Profile) -> list[StageRun]:
    """Every stage directory holding a ``stage.json``, in the profile's ramp order.

    Directories the profile does not name come last, by name. Raises :class:`CollectError`
    for a stage.json that is unreadable or has no usable window.
    """
    stages_dir = evidence_dir / STAGES
    if not evidence_dir.is_dir():
        raise CollectError(
            f"--evidence-dir {evidence_dir}: not a directory", exit_status=cliopts.EXIT_USAGE
        )
    names: list[str] = []
    if stages_dir.is_dir() and not stages_dir.is_symlink():
        for entry in os.scandir(stages_dir):
            # Never follow a link: it could point at another run's evidence.
            if entry.is_dir(follow_symlinks=False) and os.path.lexists(
                Path(entry.path) / STAGE_JSON
            ):
                names.append(entry.name)
    if not names:
        raise CollectError(
            f"{evidence_dir}: no stages/<stage>/stage.json to collect for; "
            "run `loadcert run-stage` first",
            exit_status=cliopts.EXIT_USAGE,
        )
    order = {name: index for index, name in enumerate(profile.stage_names)}
    names.sort(key=lambda name: (order.get(name, len(order)), name))
    bundle = Bundle(evidence_dir)
    return [_read_window(bundle, name) for name in names]


def _read_window(bundle: Bundle, stage: str) -> StageRun:
    if not STAGE_NAME_RE.fullmatch(stage):
        raise CollectError(f"{stage_dir(stage)}: not a valid stage name")
    try:
        run = bundle.stage_run(stage)
    except EvidenceError as exc:
        raise CollectError(str(exc)) from None
    if run.end <= run.start:
        raise CollectError(
            f"{run.rel}: end_time {run.end_text} is not after start_time {run.start_text}"
        )
    return run
