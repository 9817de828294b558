"""What every command-line tool shares: argument types and the error contract.

User mistakes (:class:`ZooError`, bad arguments) print one line naming what is wrong
and what to do, and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys

from data_prep.errors import ZooError


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def run(main) -> None:
    """Call ``main()``; turn a :class:`ZooError` into a one-line message and exit 2."""
    try:
        status = main()
    except ZooError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume from the last finished epoch", file=sys.stderr)
        sys.exit(130)
    sys.exit(status or 0)
