"""House sales of Ames, Iowa, with their price (``SalePrice``, dollars).

Formats read, one loader for both:
- Kaggle's House Prices ``train.csv`` (1460 sales, names like ``GrLivArea``);
- De Cock's ``AmesHousing.csv`` / ``AmesHousing.txt`` (2930 sales, tab- or
  comma-separated, names with spaces and slashes like ``Gr Liv Area``,
  ``Year Remod/Add``). Column names are normalized to Kaggle's by removing spaces
  and slashes, which maps every Ames column onto its Kaggle name.

Rows missing a needed value are reported and dropped; a numeric cell holding text
or an infinity is refused with its row and column (it is a mistake in the file, not a gap). Split: seeded 70 / 15 / 15
percent train / validation / test (not stratified: the target is continuous).
"""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd

from data_prep.errors import ZooError
from data_prep.locate import RemoteFile, find_file
from data_prep.splits import Splits, split_three, take

FORMATS = [
    [RemoteFile("train.csv")],  # Kaggle: login needed, never downloaded
    [RemoteFile("AmesHousing.csv")],
    [RemoteFile("AmesHousing.txt", "http://jse.amstat.org/v19n3/decock/AmesHousing.txt")],
]
# The four features of seeds 000 and 002.
SEED_FEATURES = ["OverallQual", "YearBuilt", "TotalBsmtSF", "GrLivArea"]
LATEST_YEAR = datetime.date.today().year + 5  # a house may be priced while it is being built
# Values no house has: a price for them is refused, never made (zoo.predict, the demo page).
# feature -> (lowest, highest possible; None: no bound, and what the feature is).
POSSIBLE = {
    "OverallQual": (1, 10, "an overall quality is rated from 1 to 10"),
    "YearBuilt": (1600, LATEST_YEAR, f"a year built lies between 1600 and {LATEST_YEAR}"),
    "TotalBsmtSF": (0, None, "a basement area is 0 (no basement) or more square feet"),
    "GrLivArea": (1, None, "a living area is a positive number of square feet"),
}
TARGET = "SalePrice"


def normalize_column(name: str) -> str:
    """'Gr Liv Area' -> 'GrLivArea', 'Year Remod/Add' -> 'YearRemodAdd' (Kaggle's names)."""
    return re.sub(r"[\s/]+", "", name.strip())


def read_table(path) -> pd.DataFrame:
    """A sales table in either dialect, with Kaggle's column names."""
    try:
        frame = pd.read_csv(path, sep=None, engine="python")  # sniffs ',' vs '\t'
    except Exception as err:  # pandas raises many types for a file that is not a table
        raise ZooError(f"{path} could not be read as a CSV/TSV table: {err}") from None
    return frame.rename(columns=normalize_column)


def select(frame: pd.DataFrame, features: list[str], source="table") -> tuple[pd.DataFrame, int]:
    """The feature and target columns, rows with a missing value dropped (and counted)."""
    needed = list(features) + [TARGET]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ZooError(
            f"{source} lacks column(s) {', '.join(missing)}; a house-prices table needs "
            f"{', '.join(needed)} (Kaggle names, or De Cock's with spaces)"
        )
    table = frame[needed].copy()
    for column in needed:
        if column not in MORE_CATEGORICAL:
            table[column] = numeric_column(table[column], column, source)
    complete = table.dropna()
    return complete.reset_index(drop=True), len(table) - len(complete)


def impossible_value(columns: dict) -> tuple[str, int, float, str] | None:
    """The first (feature, row, value, what the feature is) that no house can have, or ``None``."""
    for feature, column in columns.items():
        if feature not in POSSIBLE:
            continue
        low, high, what = POSSIBLE[feature]
        values = np.asarray(column, dtype="float64").ravel()
        wrong = np.flatnonzero((values < low) | (values > (np.inf if high is None else high)))
        if len(wrong):
            return feature, int(wrong[0]), float(values[wrong[0]]), what
    return None


def numeric_column(series: pd.Series, column: str, source: str) -> pd.Series:
    """``series`` as numbers; empty cells stay missing (dropped and counted, as Kaggle's data has
    them), but a cell holding text, inf or -inf is an error in the data: it names its row."""
    numbers = pd.to_numeric(series, errors="coerce")
    text = series.notna() & numbers.isna()
    bad = text | ~np.isfinite(numbers.fillna(0).to_numpy(dtype="float64"))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ZooError(
            f"{source}, data row {row + 1} (line {row + 2}), column {column!r}: {series.iloc[row]!r} is not a "
            f"finite number ({int(bad.sum())} such cell(s) in this column); correct the cells, or empty them "
            "to have their rows dropped"
        )
    return numbers


# More columns, for the ``mlp_more`` variant: numeric ones and categorical ones
# (strings, encoded inside the model by StringLookup layers).
MORE_NUMERIC = SEED_FEATURES + ["YearRemodAdd", "GarageCars", "FullBath", "Fireplaces", "LotArea", "1stFlrSF"]
MORE_CATEGORICAL = ["Neighborhood", "ExterQual", "KitchenQual", "CentralAir"]


def _column(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype="float32").reshape(-1, 1)
    return series.astype(str).to_numpy(dtype=object).reshape(-1, 1)  # Keras takes object arrays of str


def load_house_prices_more(data_dir=None) -> Splits:
    """The same sales and split with more columns, categorical ones included."""
    return load_house_prices(data_dir, MORE_NUMERIC + MORE_CATEGORICAL)


def load_house_prices(data_dir=None, features=SEED_FEATURES) -> Splits:
    (path,) = find_file("house_prices", FORMATS, data_dir)
    table, dropped = select(read_table(path), features, source=str(path))
    if dropped:
        print(f"house_prices: dropped {dropped} row(s) with a missing value in {features + [TARGET]}")
    x = {name: _column(table[name]) for name in features}
    y = table[TARGET].to_numpy(dtype="float32")
    index = np.arange(len(y))
    tr, _, va, _, te, _ = split_three(index, index, 0.15, 0.15, stratify=False,
                                      what=f"house_prices ({path}, {dropped} row(s) with a missing value dropped)")

    return Splits(
        "house_prices", take(x, tr), y[tr], take(x, va), y[va], take(x, te), y[te],
        files=[path], info={"features": list(features), "dropped_rows": dropped},
    )
