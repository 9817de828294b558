"""Where data files are found, and how they are downloaded when they are not.

Search order for every file: ``--data-dir`` > ``$ZOO_DATA_DIR`` > Keras' cache
(``~/.keras/datasets``). Inside each root a file is looked for both as
``ROOT/DATASET/NAME`` and as ``ROOT/NAME``. When no copy exists and the file has a
public origin, it is downloaded with ``keras.utils.get_file`` (hash-checked where we
have pinned one) into the Keras cache; offline, the user gets one message listing
the files expected and where to put them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from data_prep.errors import ZooError


@dataclass(frozen=True)
class RemoteFile:
    """A file as its publisher distributes it."""

    name: str
    origin: str | None = None  # public URL; None where a login is needed (Kaggle)
    file_hash: str | None = None  # sha256 or md5 (keras.utils.get_file detects which)


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def search_roots(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched, most specific first."""
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        if root.is_file():
            raise ZooError(f"--data-dir {str(root)!r} is a file; pass the folder that holds the data set's folder")
        if not root.is_dir():
            raise ZooError(
                f"data directory {str(root)!r} does not exist; pass an existing folder "
                "to --data-dir (or leave it out to use $ZOO_DATA_DIR / ~/.keras/datasets)"
            )
        return [root]
    roots = []
    if os.environ.get("ZOO_DATA_DIR"):
        env_root = Path(os.environ["ZOO_DATA_DIR"]).expanduser()
        if not env_root.is_dir():
            raise ZooError(
                f"$ZOO_DATA_DIR points to {str(env_root)!r}, which does not exist; "
                "fix or unset it"
            )
        roots.append(env_root)
    roots.append(keras_cache_dir())
    return roots


def candidates(dataset: str, name: str, data_dir=None) -> list[Path]:
    return [p for root in search_roots(data_dir) for p in (root / dataset / name, root / name)]


def find_local(dataset: str, name: str, data_dir=None) -> Path | None:
    """The first existing copy of ``name``, or None."""
    for path in candidates(dataset, name, data_dir):
        if path.exists():
            return path
    return None


def download(dataset: str, remote: RemoteFile) -> Path | None:
    """Fetch ``remote`` into the Keras cache; None when offline or the origin fails."""
    if remote.origin is None or os.environ.get("ZOO_OFFLINE"):
        return None
    import keras

    try:
        path = keras.utils.get_file(
            fname=remote.name,
            origin=remote.origin,
            file_hash=remote.file_hash,
            cache_subdir=str(Path("datasets") / dataset),
        )
    except Exception as err:  # network errors come in many types; the caller explains
        print(f"could not download {remote.origin} ({type(err).__name__}); set ZOO_OFFLINE=1 to skip downloads")
        return None
    return Path(path)


def find_file(dataset: str, alternatives: list[list[RemoteFile]], data_dir=None) -> list[Path]:
    """Locate one complete set of files among ``alternatives`` (each a list of files
    that together make up the data set in one format), downloading if needed.

    Returns the paths of the first set that is complete locally; else the first set
    that can be downloaded; else raises a :class:`ZooError` naming every file.
    """
    for files in alternatives:
        found = [find_local(dataset, f.name, data_dir) for f in files]
        if all(found):
            return found
    if data_dir is None:  # an explicit --data-dir means "use these files", not "download"
        for files in alternatives:
            if not all(f.origin for f in files):
                continue
            got = []
            for remote in files:
                got.append(find_local(dataset, remote.name) or download(dataset, remote))
                if got[-1] is None:
                    break
            if got[-1] is None:
                break  # offline, or the origin failed: trying other origins would only repeat it
            return got
    formats = " or ".join("{" + ", ".join(f.name for f in files) + "}" for files in alternatives)
    where = ", ".join(str(r / dataset) for r in search_roots(data_dir))
    partial = "".join(
        f" (found {', '.join(f.name for f in files if find_local(dataset, f.name, data_dir))}; missing "
        f"{', '.join(f.name for f in files if not find_local(dataset, f.name, data_dir))})"
        for files in alternatives if 0 < sum(bool(find_local(dataset, f.name, data_dir)) for f in files) < len(files))
    raise ZooError(
        f"{dataset} data not found: expected {formats} in one of: {where}{partial}. "
        f"Put the files there, or point --data-dir / $ZOO_DATA_DIR at a folder holding "
        f"{dataset}/ (no download was possible)"
    )


def sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()
