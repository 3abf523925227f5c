"""``python -m actionhas.report``: runs side by side, as a self-contained HTML page and Markdown.

    python -m actionhas.report --run Video-full=runs/full --run Video-HaS=runs/has \\
        --gt thumos14 --subset test --out report/
    python -m actionhas.report --run HaS=runs/has_s0 --run HaS=runs/has_s1 --run HaS=runs/has_s2 ...

Each ``--run NAME=DIR`` reads DIR/metrics.json, and when present DIR/predictions.json and
DIR/cams.h5 (written by ``localize --save-cams``) for the activation timelines: the class's
activation over time, the threshold the predictions were made with, the predicted instances and
the ground truth, one row per run. A NAME given several times is one setting over several
seeds: the table shows mean +- std per tIoU.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from actionhas.core import cli, defaults
from actionhas.formats import outputs
from actionhas.formats.annotations import load_ground_truth
from actionhas.reporting.report_page import load_runs, write_report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m actionhas.report", description=__doc__, formatter_class=cli.HelpFormatter)
    p.add_argument("--run", action="append", required=True,
                   help="NAME=DIR holding metrics.json (repeat per run; repeat a NAME for seeds of one setting)")
    p.add_argument("--gt", help="ground truth for the timelines ('thumos14', JSON or txt directory)")
    p.add_argument("--subset", help="ground-truth subset (e.g. test)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--timelines", type=cli.non_negative_int, default=defaults.REPORT_TIMELINES,
                   help="activation timelines to draw")
    p.add_argument("--title", default=defaults.REPORT_TITLE, help="title of the page")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an --out folder not written by report or made with other settings")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    record = {"run": [f"{name}={outputs.input_path(d)}" for name, _, d in (s.rpartition("=") for s in args.run)],
              "gt": outputs.input_path(args.gt), "subset": args.subset, "timelines": args.timelines,
              "title": args.title}
    outputs.claim(args.out, "--out", "folder", "report", outputs.folder_record("report"), record, args.overwrite)
    runs = load_runs(args.run)
    gt = load_ground_truth(args.gt, args.subset, "anet") if args.gt else None
    outputs.write_folder_record(args.out, "report", record)
    page = write_report(runs, gt, args.out, args.timelines, args.title)
    print(f"report written to {page} and {Path(args.out) / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.execute(main))
