"""The bounds request fields carry (the spec's, and the service's where the notes say them).

The public request models use these types, so they are what the client validates with
before it sends anything (``models.requests``). Answers decode with the same models: every
answer of the service is within these bounds.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

__all__ = [
    "Fraction",
    "NonEmpty",
    "NonNegative",
    "NonNegativeInt",
    "Percentage",
    "Positive",
    "Suffix",
    "TrainingSteps",
]

NonEmpty = Annotated[str, Meta(min_length=1)]
NonNegative = Annotated[float, Meta(ge=0.0)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0.0, le=1.0)]
Positive = Annotated[int, Meta(ge=1)]
#: The spec sets no maximum (the emulator refuses more than a million: its own choice).
TrainingSteps = Annotated[int, Meta(ge=1)]
Suffix = Annotated[str, Meta(max_length=18)]
#: ``invalid_sample_skip_percentage``: a percentage, 0 to 100.
Percentage = Annotated[float, Meta(ge=0.0, le=100.0)]
