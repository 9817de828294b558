"""Writing results so that a kill at any moment leaves the old file or the new one.

Every output (model, card, history, plot) is written under a temporary name in the
same folder and moved into place with ``os.replace``, which is atomic on POSIX.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from data_prep.errors import ZooError


@contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside ``target`` (same suffixes, e.g. ``.weights.h5``, which
    Keras checks); on success move it there. Leftovers of a writer killed earlier go."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes[-2:])
    for stale in target.parent.glob(f".{target.name}.*.tmp{suffix}"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # writers such as model.save want to create the file themselves
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(target, data: dict) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")


def save_model(model, target) -> None:
    with atomic_path(target) as tmp:
        model.save(tmp)


def save_figure(fig, target) -> None:
    # A figure laid out by its own engine (constrained layout) already fits its canvas; cropping it
    # to a "tight" box would draw it twice.
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches=None if fig.get_layout_engine() else "tight")


def _jsonable(obj):
    if hasattr(obj, "tolist"):  # NumPy scalars and arrays
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def check_writable_folder(folder, flag: str = "--out") -> Path:
    """``folder`` as a Path, or a :class:`ZooError` before any work when it cannot hold outputs:
    a file stands there or above it, or its nearest existing parent refuses a file (a probe
    file is created and removed at once; nothing else is written)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ZooError(f"{flag} {str(folder)!r} is a file, not a folder: name a folder (it is created when missing)")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ZooError(f"{flag} {str(folder)!r} cannot be created: {str(existing)!r} is a file; name another folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise ZooError(f"{flag} {str(folder)!r} is not writable ({err.strerror} in {str(existing)!r}): "
                       "choose a folder you can write to") from None
    return folder


def output_paths(out_dir, task: str, variant: str, default_variant: str) -> dict[str, Path]:
    """``OUT/TASK.keras`` for a task's default variant, ``OUT/TASK-VARIANT.keras`` otherwise."""
    stem = task if variant == default_variant else f"{task}-{variant}"
    out = Path(out_dir)
    return {
        "model": out / f"{stem}.keras",
        "card": out / f"{stem}.json",
        "history": out / f"{stem}.history.csv",
        "curves": out / f"{stem}.curves.png",
        "work": out / ".work" / stem,  # checkpoints of an unfinished fit
    }


def card_path(model_path) -> Path:
    return Path(model_path).with_suffix(".json")


class FolderLock:
    """An exclusive OS lock (``fcntl.flock``) on ``path`` for one run writing into a folder: a second
    run is refused at once, naming the holder's process and command. The kernel releases the lock
    when its process dies, SIGKILL included, so nothing stale blocks the next run; the file itself is
    removed by :meth:`release`, and a leftover of a killed run is simply locked again."""

    def __init__(self, path, what: str, where: str, command: str | None = None):
        import fcntl

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            self.file = open(self.path, "a+")
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.file.seek(0)
                holder = self.file.read().strip() or "another process"
                self.file.close()
                raise ZooError(f"{what} is already running into {where} ({holder}); wait for it to finish, or "
                               "write elsewhere with --out / --directory") from None
            try:  # the holder may have removed the file between our open and lock: lock the new one
                if os.stat(self.path).st_ino == os.fstat(self.file.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            self.file.close()
        self.file.truncate(0)
        self.file.write(f"process {os.getpid()}: {command or ' '.join(sys.argv)}")
        self.file.flush()

    def release(self) -> None:
        if self.file.closed:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        self.file.close()
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()  # the checkpoints folder, when nothing else is in it
