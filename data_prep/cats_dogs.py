"""Cats vs dogs photographs, in the two layouts users have.

- Kaggle's Dogs-vs-Cats flat layout: ``train/cat.123.jpg``, ``train/dog.45.jpg`` (the
  label is the file name's prefix).
- Microsoft's PetImages layout (``kagglecatsanddogs_*.zip``): ``PetImages/Cat/123.jpg``,
  ``PetImages/Dog/45.jpg``. It ships corrupt files (zero bytes, truncated, not a JPEG):
  each file is screened with Pillow and the bad ones are skipped and counted.

Photos may be spread over several folders (``cats_dogs/`` and ``cats_dogs_more*/`` beside it, as
``../shared/data`` has them) or all in one; a photo is known by its class and number
(``cat.123``), so a photo found twice counts once.

The split is recorded (``cats_dogs_split.json`` beside this file): the 1,000 test and 1,000
validation photos are named there, and every other photo trains. More photos arriving later
join the training split, and the test split stays the one the shipped card was measured on.
A collection where the record finds under half of its test photos (a small folder of one's
own) is split seeded and stratified instead, 80 / 10 / 10.

Images keep their own size here; resizing happens inside the model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from data_prep.errors import ZooError
from data_prep.locate import RemoteFile, search_roots
from data_prep.pipelines import without_autotune
from data_prep.splits import Splits, split_three

CLASSES = ("cat", "dog")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
DECODABLE_FORMATS = {"JPEG", "PNG", "BMP", "GIF"}  # what tf.io.decode_image reads
PETIMAGES = RemoteFile(
    "kagglecatsanddogs_5340.zip",
    "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip",
)


@dataclass
class ImageList:
    paths: list[Path]
    labels: np.ndarray
    layout: str
    skipped: list[Path] = field(default_factory=list)


def is_readable_image(path: Path) -> bool:
    """True when Pillow identifies the file as a decodable format and its data verify."""
    try:
        with Image.open(path) as image:
            if image.format not in DECODABLE_FORMATS:
                return False
            image.verify()
        return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def _label_flat(path: Path):
    prefix = path.name.split(".")[0].lower()
    return CLASSES.index(prefix) if prefix in CLASSES else None


def list_images(root: str | os.PathLike, screen: bool = True) -> ImageList:
    """All labelled images below ``root`` in either layout, bad files skipped.

    ``root`` may be the folder holding the images (``train/`` or ``PetImages/``) or
    a folder above it.
    """
    root = Path(root)
    if not root.is_dir():
        raise ZooError(f"image folder {str(root)!r} does not exist")
    class_dirs = _find_class_dirs(root)
    if class_dirs:
        layout = "petimages"
        found = [(p, label) for label, d in enumerate(class_dirs) for p in sorted(d.iterdir())]
    else:
        layout = "flat"
        flat_dir = root / "train" if (root / "train").is_dir() else root
        found = [(p, _label_flat(p)) for p in sorted(flat_dir.iterdir())]
        found = [(p, y) for p, y in found if y is not None]
    kept, skipped = [], []
    for path, label in found:
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES and (not screen or is_readable_image(path)):
            kept.append((path, label))
        else:  # e.g. PetImages' Thumbs.db, zero-byte and truncated JPEGs
            skipped.append(path)
    if not kept:
        raise ZooError(
            f"no cat/dog images found under {root}: expected cat.N.jpg / dog.N.jpg files "
            f"(Kaggle) or Cat/ and Dog/ folders (Microsoft PetImages)"
        )
    if skipped:
        print(f"cats_dogs: skipped {len(skipped)} unreadable or non-image file(s) under {root}")
    paths, labels = zip(*kept)
    return ImageList(list(paths), np.array(labels, dtype="int64"), layout, skipped)


def _find_class_dirs(root: Path):
    for base in (root, root / "PetImages"):
        dirs = {d.name.lower(): d for d in base.iterdir() if d.is_dir()} if base.is_dir() else {}
        if all(c in dirs for c in CLASSES):
            return [dirs[c] for c in CLASSES]
    return None


def locate_image_root(data_dir=None) -> Path:
    return locate_image_roots(data_dir)[0]


def locate_image_roots(data_dir=None) -> list[Path]:
    """The folders holding the photos, in the first search root that has any: ``cats_dogs/`` (or
    ``PetImages/``) and every ``cats_dogs_more*/`` beside it."""
    for root in search_roots(data_dir):
        for candidate in (root / "cats_dogs", root / "PetImages", root / "cats_dogs" / "PetImages"):
            if candidate.is_dir():
                return [candidate, *sorted(d for d in root.glob("cats_dogs_more*") if d.is_dir())]
    where = ", ".join(str(r / "cats_dogs") for r in search_roots(data_dir))
    raise ZooError(
        f"cats_dogs images not found: expected a folder cats_dogs/ holding train/cat.N.jpg and "
        f"train/dog.N.jpg (Kaggle) or PetImages/Cat/ and PetImages/Dog/ (Microsoft, "
        f"{PETIMAGES.origin}) in one of: {where}"
    )


def photo_name(path: Path, label: int) -> str:
    """A photo's identity across layouts and folders: ``cat.123`` for train/cat.123.jpg or Cat/123.jpg."""
    number = path.stem.split(".")[-1]
    return f"{CLASSES[label]}.{number}"


def list_all_images(roots) -> ImageList:
    """Every labelled photo under several folders (each in either layout), a photo found twice
    (the same class and number) counted once: the first folder's copy is kept."""
    lists = [list_images(root) for root in roots]
    kept, seen, duplicates = [], set(), 0
    for images in lists:
        for path, label in zip(images.paths, images.labels):
            name = photo_name(path, int(label))
            if name in seen:
                duplicates += 1
                continue
            seen.add(name)
            kept.append((path, label))
    if duplicates:
        print(f"cats_dogs: {duplicates} photo(s) found in more than one folder, counted once")
    paths, labels = zip(*kept)
    layouts = sorted({images.layout for images in lists})
    return ImageList(list(paths), np.array(labels, dtype="int64"), "+".join(layouts),
                     [p for images in lists for p in images.skipped])


SPLIT_RECORD = Path(__file__).with_name("cats_dogs_split.json")


def recorded_split(names: np.ndarray, record_path: Path = SPLIT_RECORD):
    """Part of each photo ("train", "val", "test") by the split record, or None where the record
    finds under half of its test photos among ``names`` (then this is another collection)."""
    record = json.loads(record_path.read_text())
    test, val = set(record["test"]), set(record["val"])
    if np.isin(list(test), names).sum() < len(test) / 2:
        return None
    return np.array(["test" if n in test else "val" if n in val else "train" for n in names])


TRAINING_SIZE = 128  # the side images are decoded and resized to before they are cached


@dataclass
class ImageFiles:
    """Image files as model inputs: ``len`` and row selection like an array, and a
    ``dataset`` method that builds the input pipeline (``zoo.training.feed`` calls it).

    Pipeline: parallel read + decode (JPEG, PNG, BMP, GIF by content, whatever the
    suffix; grayscale becomes RGB) + resize to ``size`` x ``size``, then cached in
    memory as uint8 (10,000 images at 128 px: 0.5 GB), shuffled, batched, prefetched.
    A file that fails to decode is dropped with its label instead of stopping the fit.
    """

    paths: np.ndarray
    size: int = TRAINING_SIZE

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, rows) -> "ImageFiles":
        return ImageFiles(self.paths[rows], self.size)

    @property
    def shape(self):
        return (len(self.paths), None, None, 3)  # raw images: any size, RGB

    def decoded(self):
        """Decoded, resized uint8 images (unbatched, uncached), in file order."""
        import tensorflow as tf

        def decode(path):
            image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
            image = tf.image.resize(image, (self.size, self.size), antialias=True)
            return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

        return tf.data.Dataset.from_tensor_slices(self.paths).map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                                                                   deterministic=True)

    def dataset(self, labels=None, batch_size=32, shuffle=False, seed=0, cache=True):
        import tensorflow as tf

        images = self.decoded()
        data = images if labels is None else tf.data.Dataset.zip(images, tf.data.Dataset.from_tensor_slices(labels))
        data = data.ignore_errors(log_warning=True)
        if cache:
            # One pass counts what decoded (a file that fails is dropped above) and fills the cache,
            # so that Keras knows the number of steps from the first epoch (progress and ETA).
            data = data.cache()
            count = int(data.reduce(np.int64(0), lambda n, _: n + 1))
            data = data.apply(tf.data.experimental.assert_cardinality(count))
        if shuffle:
            data = data.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return without_autotune(data.batch(batch_size).prefetch(tf.data.AUTOTUNE))  # data_prep.pipelines says why


def image_files(root, size: int = TRAINING_SIZE) -> tuple[ImageFiles, np.ndarray]:
    """Every labelled image under ``root`` (either layout) as (ImageFiles, labels)."""
    images = list_images(root)
    return ImageFiles(np.array([str(p) for p in images.paths]), size), images.labels


def load_cats_dogs(data_dir=None, val_size=0.1, test_size=0.1) -> Splits:
    """Image files and labels: the recorded split where it describes the collection, otherwise
    split seeded and stratified (``val_size`` / ``test_size`` of the whole)."""
    roots = locate_image_roots(data_dir)
    images = list_all_images(roots)
    paths = np.array([str(p) for p in images.paths])
    found = {name: int(np.sum(images.labels == i)) for i, name in enumerate(CLASSES)}
    if min(found.values()) == 0:
        present = ", ".join(f"{count} {name}" for name, count in found.items() if count)
        raise ZooError(f"cats_dogs: only {present or 'no'} readable image(s) under {roots[0]} "
                       f"({len(images.skipped)} unreadable skipped): a cat-vs-dog classifier needs both cats and dogs")
    names = np.array([photo_name(p, int(y)) for p, y in zip(images.paths, images.labels)])
    part = recorded_split(names)
    if part is not None:
        split = f"recorded: the test and validation photos named in data_prep/{SPLIT_RECORD.name}; the rest train"
        x_tr, y_tr, x_va, y_va, x_te, y_te = (a[part == p] for p in ("train", "val", "test")
                                              for a in (paths, images.labels))
    else:
        split = f"seeded, stratified: {1 - val_size - test_size:.0%} / {val_size:.0%} / {test_size:.0%}"
        x_tr, y_tr, x_va, y_va, x_te, y_te = split_three(paths, images.labels, val_size, test_size, what="cats_dogs")
    return Splits(
        "cats_dogs", ImageFiles(x_tr), y_tr, ImageFiles(x_va), y_va, ImageFiles(x_te), y_te, files=[],
        info={"layout": images.layout, "skipped": len(images.skipped), "classes": list(CLASSES),
              "folders": [root.name for root in roots], "photos": len(paths), "split": split},
    )
