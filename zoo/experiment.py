"""Studies that retrain variants over several seeds: ``python -m zoo.experiment STUDY``.

Each study is a module of :mod:`zoo.studies`. It trains what it needs with
:func:`zoo.training.fit` (one folder per run under ``OUT/STUDY/models/``), so an
interrupted study resumes: finished runs, whose cards exist, are read back rather than
redone. It writes ``OUT/STUDY/results.md`` (mean +- std over the seeds, next to the
seed's figure) and its plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zoo import artifacts
from zoo.cli import positive_int, run
from zoo.studies import common, get_study, list_studies


def main(argv=None) -> int:
    studies = "\n".join(f"  {name:24} {get_study(name).summary}" for name in list_studies())
    p = argparse.ArgumentParser(prog="python -m zoo.experiment", description=__doc__.splitlines()[0],
                                epilog=f"studies:\n{studies}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", choices=list_studies(), metavar="STUDY", help="one of the studies listed below")
    p.add_argument("--rounds", type=positive_int, help="seeds per variant (default: the study's)")
    p.add_argument("--out", default="reports", help="output folder (default reports/)")
    p.add_argument("--data-dir", help="folder holding the data (default: $ZOO_DATA_DIR, then ~/.keras/datasets)")
    p.add_argument("--epochs", type=positive_int, help="epochs of every fit (default: each recipe's)")
    args = p.parse_args(argv)
    common.EPOCHS = args.epochs
    out = Path(args.out) / args.study
    text = get_study(args.study)(args.rounds, out, args.data_dir)
    with artifacts.atomic_path(out / "results.md") as tmp:
        tmp.write_text(text)
    print(text)
    print(f"written {out / 'results.md'}")
    return 0


if __name__ == "__main__":
    run(main)
