"""`newsflow eval stance`: runs a model over FNC-1-format files and scores it the official
way: FNC score (as a percentage of the maximum), macro-F1, F1 per class, the confusion
matrix, and speed in headline-body pairs per second on one core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from newsflow.stance.calibration import expected_calibration_error

from .fnc import LABELS, Dataset, FncScore, f1_per_class, fnc_score, index_pairs, write_stances


class PairModel(Protocol):
    version: str

    def probabilities(self, claims, bodies, pairs) -> np.ndarray: ...

    def labels(self, probabilities: np.ndarray) -> list[str]: ...


@dataclass(frozen=True)
class EvalReport:
    model: str
    version: str
    pairs: int
    predictions: list[str]
    score: FncScore | None  # None when the stances file has no gold labels
    calibration_error: float | None  # top-label ECE of the four probabilities (10 bins)
    cpu_seconds: float
    wall_seconds: float

    @property
    def per_class_f1(self) -> dict[str, float] | None:
        return f1_per_class(self.score.confusion) if self.score else None

    @property
    def macro_f1(self) -> float | None:
        scores = self.per_class_f1
        return sum(scores.values()) / len(scores) if scores else None

    @property
    def pairs_per_second(self) -> float:
        # By CPU time with one thread: what one core does, whatever else runs beside it.
        return self.pairs / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        """The `--json` object; outside scorers read these keys, so they only ever grow."""
        f1 = self.per_class_f1
        return {
            "fnc_score": round(self.score.percentage, 4) if self.score else None,
            "macro_f1": round(self.macro_f1, 4) if f1 else None,
            "per_class_f1": {label: round(v, 4) for label, v in f1.items()} if f1 else None,
            "confusion": self.score.confusion if self.score else None,
            "calibration_error": (
                round(self.calibration_error, 4) if self.calibration_error is not None else None
            ),
            "pairs_per_second": round(self.pairs_per_second, 1),
        }


def evaluate(model: PairModel, name: str, data: Dataset) -> EvalReport:
    """Predict every pair (on one thread) and score it when the data has gold labels."""
    claims, bodies, pairs = index_pairs(data)
    with threadpool_limits(1):
        started, started_cpu = time.perf_counter(), time.process_time()
        probabilities = model.probabilities(claims, bodies, pairs)
        predictions = model.labels(probabilities)
        cpu_seconds = time.process_time() - started_cpu
        wall_seconds = time.perf_counter() - started
    score = calibration_error = None
    if data.labelled:
        gold = [pair.stance for pair in data.pairs]
        score = fnc_score(gold, predictions)
        calibration_error = expected_calibration_error(
            np.asarray(probabilities), np.array([LABELS.index(label) for label in gold])
        )
    return EvalReport(
        name,
        model.version,
        len(pairs),
        predictions,
        score,
        calibration_error,
        cpu_seconds,
        wall_seconds,
    )


def write_predictions(report: EvalReport, data: Dataset, path: Path) -> None:
    """`Headline,Body ID,Stance` in the input's order, as the official scorer expects."""
    write_stances(data.pairs, report.predictions, path)


def format_report(report: EvalReport) -> str:
    lines = [f"model        {report.model} ({report.version})", f"pairs        {report.pairs}"]
    if report.score is not None:
        score = report.score
        lines.append(
            f"FNC score    {score.percentage:.2f}%  ({score.score:.2f} of {score.maximum:.2f}; "
            f"all unrelated would score {score.null_score:.2f})"
        )
        lines.append(f"macro-F1     {report.macro_f1:.4f}")
        lines.append(f"calibration  {report.calibration_error:.4f} expected calibration error")
        lines.append(
            "F1           "
            + "  ".join(f"{label} {value:.4f}" for label, value in report.per_class_f1.items())
        )
        width = max(len(label) for label in LABELS) + 2
        lines.append("confusion    rows gold, columns predicted")
        lines.append(" " * 13 + " " * width + "".join(f"{label:>{width}}" for label in LABELS))
        for label, row in zip(LABELS, score.confusion, strict=True):
            lines.append(
                " " * 13 + f"{label:<{width}}" + "".join(f"{count:>{width}}" for count in row)
            )
    else:
        lines.append("scores       none: the stances file has no Stance column")
    lines.append(
        f"speed        {report.pairs_per_second:.0f} pairs/s on one core "
        f"({report.cpu_seconds:.2f} s of CPU, {report.wall_seconds:.2f} s of wall time)"
    )
    return "\n".join(lines)
