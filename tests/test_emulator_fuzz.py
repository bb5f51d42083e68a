"""Property: whatever JSON a client sends, the emulator answers 200 or a 4xx, never a 500."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mistral_jobs_async.emulator import Emulator

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "model", "training_files", "validation_files", "hyperparameters", "suffix", "auto_start",
    "integrations", "job_type", "model_config", "dataset_ids", "file_id", "weight",
    "learning_rate", "training_steps", "warmup_fraction", "architecture", "base_model",
    "num_experts", "active_experts",
]  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6) | json_values


def _post(url: str, path: str, body: Any) -> int:
    raw = json.dumps(body, allow_nan=True).encode()
    request = urllib.request.Request(
        url + path,
        data=raw,
        method="POST",
        headers={"Authorization": "Bearer fuzz", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_no_body_makes_a_500() -> None:
    """Random bodies to both create routes get 200 or 400, and only a 200 adds a job."""
    with Emulator(seed=1, speed=0) as emu:

        @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=bodies, forge=st.booleans())
        def check(body: Any, forge: bool) -> None:
            before = len(emu.job_ids())
            path = "/forge/training/jobs" if forge else "/v1/fine_tuning/jobs"
            status = _post(emu.url, path, body)
            assert status in (200, 400), (status, body)
            assert len(emu.job_ids()) == before + (status == 200)

        check()
