"""How a job's losses follow from its hyperparameters: a seeded landscape a sweep can search.

The emulator's own model, documented in ``docs/emulator.md`` and ``docs/sweeps.md``. A job's
training loss after ``step`` steps is

    floor + (START - floor) * exp(-speed * step / 100) + noise

where the learning rate's distance from the best one, ``d = log10(lr / best)``, raises the
floor (``FLOOR + 0.5 * d**2``) and slows learning (``speed = exp(-d**2)``); for Forge, a batch
size away from 32 raises the floor too (``0.05 * log2(batch / 32)**2``). So more steps always
help, with diminishing returns, a learning rate a decade or more off shows a flat curve from
the first checkpoints (early enough to prune), and the best configuration is known: the best
learning rate (and batch size) at the most steps. The noise is seeded by the job's id and the
checkpoint (standard deviation ``NOISE``); the validation loss is ``train * 1.04 + 0.02``.
"""

from __future__ import annotations

import math
import random

from mistral_jobs_async.emulator._schemas import FineTuningJobIn, TrainingJobIn

__all__ = [
    "BEST_BATCH_SIZE",
    "BEST_LEARNING_RATE",
    "FLOOR",
    "NOISE",
    "START",
    "losses",
    "valid_loss",
]

#: The learning rate with the lowest curve, per API: also each API's default (``_render``),
#: as is Forge's batch size.
BEST_LEARNING_RATE = {"fine_tuning": 1e-4, "forge": 3e-4}
BEST_BATCH_SIZE = 32
START = 2.5
FLOOR = 0.6
NOISE = 0.01


def _shape(request: FineTuningJobIn | TrainingJobIn) -> tuple[float, float]:
    """The curve's floor and speed for a job's hyperparameters (defaults: the best ones)."""
    forge = isinstance(request, TrainingJobIn)
    best = BEST_LEARNING_RATE["forge" if forge else "fine_tuning"]
    hyper = request.hyperparameters
    rate = hyper.learning_rate if hyper is not None and hyper.learning_rate else best
    distance = math.log10(rate / best)
    floor = FLOOR + 0.5 * distance**2
    if isinstance(request, TrainingJobIn) and request.hyperparameters is not None:
        batch = request.hyperparameters.batch_size or BEST_BATCH_SIZE
        floor += 0.05 * math.log2(batch / BEST_BATCH_SIZE) ** 2
    return floor, math.exp(-(distance**2))


def valid_loss(train: float) -> float:
    """The validation loss that goes with a training loss."""
    return train * 1.04 + 0.02


def losses(request: FineTuningJobIn | TrainingJobIn, step: int, seed: str) -> tuple[float, float]:
    """The training and validation loss after ``step`` steps (noise seeded by ``seed``)."""
    floor, speed = _shape(request)
    noise = random.Random(seed).gauss(0.0, NOISE)
    train = max(0.01, floor + (START - floor) * math.exp(-speed * step / 100) + noise)
    return train, valid_loss(train)
