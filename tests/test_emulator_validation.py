"""Bad input gets a 400 that names the field, and never changes stored state."""

from __future__ import annotations

from typing import Any

import pytest

from mistral_jobs_async.emulator import Emulator

from .conftest import GOOD_JSONL, Api

pytestmark = pytest.mark.anyio

FT = "/v1/fine_tuning/jobs"
FORGE = "/forge/training/jobs"


def _ft(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "open-mistral-7b", "training_files": [{"file_id": "FILE"}]}
    body.update(over)
    return body


def _forge(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_type": "supervised_fine_tuning",
        "model_config": {"base_model": "mistral-small-latest"},
    }
    body.update(over)
    return body


FT_CASES = [
    ("suffix over 18", _ft(suffix="x" * 19), "suffix"),
    ("negative learning_rate", _ft(hyperparameters={"learning_rate": -0.1}), "learning_rate"),
    ("warmup_fraction > 1", _ft(hyperparameters={"warmup_fraction": 1.5}), "warmup_fraction"),
    ("warmup_fraction < 0", _ft(hyperparameters={"warmup_fraction": -0.5}), "warmup_fraction"),
    ("training_steps 0", _ft(hyperparameters={"training_steps": 0}), "training_steps"),
    ("training_steps string", _ft(hyperparameters={"training_steps": "10"}), "training_steps"),
    ("missing model", {"training_files": [{"file_id": "FILE"}]}, "model"),
    ("missing training_files", {"model": "open-mistral-7b"}, "training_files"),
    ("training_files not a list", _ft(training_files="FILE"), "training_files"),
    ("training file as bare id", _ft(training_files=["FILE"]), "training_files"),
    ("empty training_files", _ft(training_files=[]), "training_files"),
    (
        "unknown file",
        _ft(training_files=[{"file_id": "0b9f8c1e-0000-4000-8000-000000000000"}]),
        "training_files[0].file_id",
    ),
    (
        "unknown validation file",
        _ft(validation_files=["0b9f8c1e-0000-4000-8000-000000000000"]),
        "validation_files[0]",
    ),
    ("auto_start not bool", _ft(auto_start="yes"), "auto_start"),
    ("unknown job_type", _ft(job_type="regression"), "job_type"),
    ("unknown integration", _ft(integrations=[{"type": "mlflow"}]), "integrations"),
    ("model wrong type", _ft(model=7), "model"),
]

FORGE_CASES = [
    ("unknown job_type", _forge(job_type="distillation"), "job_type"),
    ("missing job_type", {"model_config": {"base_model": "m"}}, "job_type"),
    ("missing model_config", {"job_type": "dpo"}, "model_config"),
    ("base_model required", _forge(job_type="dpo", model_config={}), "base_model"),
    (
        "active > num experts",
        _forge(
            model_config={
                "base_model": "m",
                "architecture": "mixture_of_experts",
                "num_experts": 4,
                "active_experts": 8,
            }
        ),
        "active_experts",
    ),
    (
        "experts on dense",
        _forge(model_config={"base_model": "m", "architecture": "dense", "num_experts": 4}),
        "num_experts",
    ),
    (
        "experts below 1",
        _forge(
            model_config={"base_model": "m", "architecture": "mixture_of_experts", "num_experts": 0}
        ),
        "num_experts",
    ),
    (
        "unknown architecture",
        _forge(model_config={"base_model": "m", "architecture": "sparse"}),
        "architecture",
    ),
    ("negative learning_rate", _forge(hyperparameters={"learning_rate": -1}), "learning_rate"),
    ("batch_size 0", _forge(hyperparameters={"batch_size": 0}), "batch_size"),
    ("negative warmup_steps", _forge(hyperparameters={"warmup_steps": -1}), "warmup_steps"),
    ("dataset id not a uuid", _forge(dataset_ids=["not-a-uuid"]), "dataset_ids[0]"),
]


async def _totals(api: Api) -> tuple[int, int, int]:
    totals = []
    for path in (FT, FORGE, "/v1/files"):
        _, body = await api.call("GET", path)
        totals.append(body["total"])
    return totals[0], totals[1], totals[2]


@pytest.mark.parametrize(("case", "body", "field"), FT_CASES, ids=[c[0] for c in FT_CASES])
async def test_fine_tuning_create_rejects(
    api: Api, case: str, body: dict[str, Any], field: str
) -> None:
    """Each malformed fine-tuning create is a 400 naming the field; nothing is stored."""
    uploaded = await api.upload(GOOD_JSONL)
    if body.get("training_files") and isinstance(body["training_files"], list):
        body["training_files"] = [
            {**f, "file_id": uploaded["id"]}
            if isinstance(f, dict) and f.get("file_id") == "FILE"
            else f
            for f in body["training_files"]
        ]
    before = await _totals(api)
    status, answer = await api.call("POST", FT, json=body)
    assert status == 400, answer
    assert answer["type"] == "invalid_request_error"
    assert field in answer["message"], answer["message"]
    assert await _totals(api) == before


@pytest.mark.parametrize(("case", "body", "field"), FORGE_CASES, ids=[c[0] for c in FORGE_CASES])
async def test_forge_create_rejects(api: Api, case: str, body: dict[str, Any], field: str) -> None:
    """Each malformed Forge create is a 400 naming the field; nothing is stored."""
    before = await _totals(api)
    status, answer = await api.call("POST", FORGE, json=body)
    assert status == 400, answer
    assert field in answer["message"], answer["message"]
    assert await _totals(api) == before


@pytest.mark.parametrize("path", [FT, FORGE])
@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]", b"null", b'"text"', b"\xff\xfe"])
async def test_malformed_json_is_400(api: Api, path: str, raw: bytes) -> None:
    """Malformed or non-object JSON bodies are a 400, never a 500."""
    status, answer = await api.call(
        "POST", path, data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert answer["code"] == 400


async def test_pre_training_needs_no_base_model(api: Api) -> None:
    """Forge pre_training is the one job type without base_model; MoE bounds are inclusive."""
    job = await api.create_forge(
        job_type="pre_training",
        model_config={"architecture": "mixture_of_experts", "num_experts": 8, "active_experts": 8},
    )
    assert job["model_config"] == {
        "architecture": "mixture_of_experts",
        "num_experts": 8,
        "active_experts": 8,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=ten", "page_size"),
        ("page=-1", "page"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2024-13-01T00:00:00Z", "created_before"),
        ("created_by_me=maybe", "created_by_me"),
    ],
)
async def test_list_rejects_bad_query(api: Api, query: str, field: str) -> None:
    """Out-of-bounds or unparsable list parameters are a 400 naming the parameter."""
    status, answer = await api.call("GET", f"{FT}?{query}")
    assert status == 400
    assert field in answer["message"]


@pytest.mark.parametrize("path", [FORGE, "/v1/files"])
async def test_other_lists_bound_page_size(api: Api, path: str) -> None:
    """page_size outside 1..100 is refused on every list."""
    status, answer = await api.call("GET", f"{path}?page_size=1000")
    assert status == 400
    assert "page_size" in answer["message"]


@pytest.mark.parametrize("job_id", ["0b9f8c1e-0000-4000-8000-000000000000", "not-a-uuid"])
async def test_unknown_job_is_404(api: Api, job_id: str) -> None:
    """Unknown job ids are 404 on get, cancel and start, in both APIs."""
    for method, path in (
        ("GET", f"{FT}/{job_id}"),
        ("POST", f"{FT}/{job_id}/cancel"),
        ("POST", f"{FT}/{job_id}/start"),
        ("GET", f"{FORGE}/{job_id}"),
        ("POST", f"{FORGE}/{job_id}/cancel"),
    ):
        status, answer = await api.call(method, path)
        assert status == 404, path
        assert job_id in answer["message"]


async def test_wrong_method_is_json_405(api: Api) -> None:
    """A method a route does not serve is 405 with the Error body."""
    status, answer = await api.call("DELETE", FT)
    assert status == 405
    assert answer["code"] == 405


async def test_unknown_fields_are_ignored(api: Api, emu: Emulator) -> None:
    """Fields the emulator does not know are ignored, as the real service does."""
    uploaded = await api.upload(GOOD_JSONL)
    job = await api.create_ft(
        uploaded["id"], some_future_field={"x": 1}, hyperparameters={"epochs": 2, "new": 1}
    )
    assert job["status"] == "QUEUED"
    assert job["hyperparameters"]["epochs"] == 2
