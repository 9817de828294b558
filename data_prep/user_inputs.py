"""People's own inputs, as they have them, turned into what a zoo model takes.

- Image files in any format Pillow reads, of any size, grey or colour; a folder of them
  (unreadable files are skipped and counted, never fatal).
- Digits are made to look like the training data: MNIST and USPS digits are light ink on
  black, filling a box in the middle of the frame, so a photo or drawing of dark ink on
  light paper (its border brighter than mid-grey) is inverted, cropped to its ink, scaled
  so its longer side fills ``box`` pixels and centred on its centre of mass, as MNIST's
  publishers prepared theirs.
- CSV tables of houses with the publisher's (``Gr Liv Area``) or Kaggle's (``GrLivArea``)
  column names; CSV or ``.npy`` arrays of numbers.
- In memory, as a server has them: an :class:`Upload` (a file's bytes and the name errors give
  it, "the photo"), and houses as dicts of their features (:func:`read_house_records`), read
  without pandas or a temporary file and checked as a CSV's rows are.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from data_prep.errors import ZooError

TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}
# Images are refused above this many pixels, read from the header before any decoding: a
# 12000 x 12000 PNG of 168 KB decoded to 2 GB in the demo server. 50 megapixels holds the
# largest phone photos (48 MP, 8000 x 6000).
MAX_IMAGE_PIXELS = 50_000_000


class Upload(NamedTuple):
    """An image file's contents in memory (an HTTP request's body), read as the file would be; errors
    name it ``name`` ("the photo"). Houses in memory are dicts of their features instead."""

    name: str
    data: bytes
    suffix = ".img"  # what callers of expand() sort files by: an image, not a table

    def __str__(self):
        return self.name

    def open(self):
        import io

        return io.BytesIO(self.data)


def check_image_size(image: Image.Image, name) -> None:
    """A :class:`ZooError` for an image over :data:`MAX_IMAGE_PIXELS` (its size from the header)."""
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ZooError(f"{name} is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); the zoo reads "
                       f"images up to {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels: resize it first")


def read_image(path) -> Image.Image:
    """An RGB image, or a :class:`ZooError` naming the file (one over :data:`MAX_IMAGE_PIXELS`
    is refused from its header, before it is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is lower
            with Image.open(path.open() if isinstance(path, Upload) else path) as image:
                check_image_size(image, path)
                image.load()
                return ImageOps.exif_transpose(image).convert("RGB")
    except Image.DecompressionBombError as err:  # Pillow's own limit, met in the header: say ours
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(pixels[1]) / 1e6:.0f} megapixels" if pixels else "too many pixels"
        raise ZooError(f"{path} is {size}; the zoo reads images up to {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels: "
                       "resize it first") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ZooError(f"{path} is not an image Pillow can read ({type(err).__name__}: {err})") from None


def expand(inputs) -> tuple[list[Path], int]:
    """Files named and the files inside folders named (sorted), and how many files inside those
    folders were skipped because Pillow cannot read them. A missing path is an error."""
    files, skipped = [], 0
    for item in inputs:
        if isinstance(item, Upload):
            files.append(item)
            continue
        item = Path(item)
        if item.is_dir():
            for path in sorted(p for p in item.rglob("*") if p.is_file() and not p.name.startswith(".")):
                if path.suffix.lower() in TABLE_SUFFIXES | {".npy"} or _readable(path):
                    files.append(path)
                else:
                    skipped += 1
        elif item.is_file():
            files.append(item)
        else:
            raise ZooError(f"input {str(item)!r} does not exist; name image files, folders, .csv or .npy files")
    if not files:
        raise ZooError(f"no readable input in {', '.join(map(str, inputs))} ({skipped} unreadable file(s) skipped)")
    return files, skipped


def _readable(path: Path) -> bool:
    """Whether a file in a folder is an image the zoo reads (one too large counts as unreadable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                check_image_size(image, path)
                image.verify()
        return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, ZooError, Image.DecompressionBombError):
        return False


def digit_image(image: Image.Image, side: int, box: int) -> tuple[np.ndarray, np.ndarray]:
    """(ink, colour): ``side`` x ``side`` float32 arrays in [0, 1], the ink intensity and the
    RGB colour under it, of a digit drawn or photographed in any way (see the module's doc).
    An image of exactly ``side`` x ``side`` pixels is taken to be in the data set's own form
    already (light on black, centred) and kept as it is."""
    rgb = np.asarray(image.convert("RGB"), dtype="float32") / 255.0
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype="float32")
    if grey.shape == (side, side):
        return grey, rgb
    border = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    ink, paper = (1.0 - grey, 1.0 - border) if border > 0.5 else (grey, border)  # dark ink on light paper: invert
    ink = np.clip((ink - paper) / max(float(ink.max()) - paper, 1e-6), 0, 1)  # the paper black, the ink's peak 1
    rows, cols = np.nonzero(ink > 0.2)
    if len(rows) == 0:  # a blank image: nothing to centre
        return np.zeros((side, side), "float32"), np.zeros((side, side, 3), "float32")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    ink, rgb = ink[top:bottom, left:right], rgb[top:bottom, left:right]
    scale = box / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    ink = np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.LANCZOS), dtype="float32").clip(0, 1)
    rgb = np.asarray(Image.fromarray((rgb * 255).astype("uint8")).resize(size, Image.Resampling.LANCZOS),
                     dtype="float32") / 255.0
    # Centre of mass to the middle of the frame, as MNIST's digits are.
    ys, xs = np.indices(ink.shape)
    mass = max(float(ink.sum()), 1e-6)
    top = int(np.clip(round(side / 2 - (ys * ink).sum() / mass), 0, side - ink.shape[0]))
    left = int(np.clip(round(side / 2 - (xs * ink).sum() / mass), 0, side - ink.shape[1]))
    canvas, colour = np.zeros((side, side), "float32"), np.zeros((side, side, 3), "float32")
    canvas[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    colour[top:top + ink.shape[0], left:left + ink.shape[1]] = rgb
    return canvas, colour


def read_houses(path, features: list[str]) -> tuple[list[str], dict]:
    """(row names, {feature: (N, 1) float32}) from a CSV of houses in either column dialect."""
    from data_prep.house_prices import numeric_column, read_table

    frame = read_table(path)
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ZooError(f"{path} lacks column(s) {', '.join(missing)}; the model needs {', '.join(features)} "
                       "(Kaggle names, or De Cock's with spaces)")
    if frame.empty:
        raise ZooError(f"{path} has no rows of houses, only its header")
    columns = {f: numeric_column(frame[f], f, str(path)).to_numpy("float64") for f in features}
    ids = next((frame[c].astype(str).tolist() for c in ("Id", "Order", "PID") if c in frame.columns),
               [f"row {i + 1}" for i in range(len(frame))])
    return ids, checked_houses(columns, lambda row: f"{path}, data row {row + 1}")


def read_house_records(records: list[dict], features: list[str], source: str = "the house") -> tuple[list[str], dict]:
    """:func:`read_houses` for houses as dicts of their features (a request's JSON), without pandas:
    a missing or empty (``None``, ``""``) feature is an empty cell, a value that is not a finite
    number (text, a bool, a list) an error naming ``source`` (and the house's place among several)
    and the feature."""
    def where(row):
        return source if len(records) == 1 else f"{source}, house {row + 1}"

    if not records:
        raise ZooError(f"{source} has no houses")
    columns = {f: np.empty(len(records)) for f in features}
    for row, record in enumerate(records):
        for feature in features:
            value = record.get(feature)
            if value is None or value == "":  # an empty cell: checked_houses names it
                columns[feature][row] = np.nan
                continue
            try:
                number = float(value) if isinstance(value, (numbers.Real, str)) and not isinstance(value, bool) else None
            except (ValueError, OverflowError):  # text, or an integer beyond any float
                number = None
            if number is None or not math.isfinite(number):
                raise ZooError(f"{where(row)}: {feature} {json.dumps(value, default=str)[:40]} is not a finite number; give a number")
            columns[feature][row] = number
    return [f"row {i + 1}" for i in range(len(records))], checked_houses(columns, where)


def checked_houses(columns: dict, where) -> dict:
    """{feature: (N, 1) float32} from float64 columns, or a :class:`ZooError` naming the first empty
    cell or impossible value (a negative area); ``where(row)`` names a row in it."""
    from data_prep.house_prices import impossible_value

    for feature, column in columns.items():
        if np.isnan(column).any():
            row = int(np.flatnonzero(np.isnan(column))[0])
            raise ZooError(f"{where(row)}: column {feature!r} is empty; every house needs "
                           f"{', '.join(columns)}")
    impossible = impossible_value(columns)
    if impossible:
        feature, row, value, what = impossible
        raise ZooError(f"{where(row)}: {feature} {value:g} is impossible ({what}); correct it")
    return {f: column.astype("float32").reshape(-1, 1) for f, column in columns.items()}


def read_numbers(path, width: int) -> np.ndarray:
    """(N, width) float32 from a ``.npy`` array or a CSV of numbers (a header line is allowed)."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            import pandas as pd

            with open(path, encoding="utf-8", errors="replace") as file:
                sep = "\t" if "\t" in file.readline() else ","
            frame = pd.read_csv(path, sep=sep, header=None)
            if not pd.api.types.is_numeric_dtype(frame.dtypes.iloc[0]):  # a header line
                frame = pd.read_csv(path, sep=sep)
            array = frame.apply(pd.to_numeric, errors="raise").to_numpy()
    except Exception as err:  # numpy and pandas raise many types for a file that is not numbers
        raise ZooError(f"{path} could not be read as numbers ({type(err).__name__}: {err})") from None
    array = np.asarray(array, dtype="float32")
    if array.ndim == 1 and width == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2 or array.shape[1] != width or not np.isfinite(array).all():
        raise ZooError(f"{path}: expected finite numbers, {width} a row; found an array of shape {array.shape}")
    return array
