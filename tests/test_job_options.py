"""Fine-tuning job options: repositories, classifier jobs, and invalid samples the service
may skip; checked by the client before sending, and by the emulator as the service would."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from mistral_jobs_async import AsyncClient, InvalidRequestError
from mistral_jobs_async.emulator import Emulator
from mistral_jobs_async.models import ClassifierTarget, GithubRepository

from .conftest import GOOD_JSONL, Api

pytestmark = pytest.mark.anyio

REPO = GithubRepository(owner="acme", name="docs", token="ghp-secret-token")
CLASSIFIER_JSONL = b"".join(
    json.dumps({"text": f"message {i}", "labels": {"mood": "happy" if i % 2 else "sad"}}).encode()
    + b"\n"
    for i in range(10)
)


async def _upload(client: AsyncClient, content: bytes) -> str:
    return (await client.files.upload(io.BytesIO(content), filename="f.jsonl")).id


async def test_a_job_may_train_from_a_repository_alone(emu: Emulator, client: AsyncClient) -> None:
    """Repositories stand in for training files; the job answers them with ref and commit,
    never the token; neither files nor repositories is refused before sending."""
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", repositories=[REPO], auto_start=True
    )
    assert job.training_files == []
    assert job.repositories is not None
    (repo,) = job.repositories
    assert (repo.owner, repo.name, repo.ref, repo.token) == ("acme", "docs", "main", None)
    assert repo.commit_id
    assert len(repo.commit_id) == 40
    assert "ghp-secret-token" not in repr(REPO)
    emu.advance(600)
    assert (await client.fine_tuning.jobs.get(job.id)).status == "SUCCESS"
    with pytest.raises(InvalidRequestError, match="training file or repository") as caught:
        await client.fine_tuning.jobs.create(model="open-mistral-7b")
    assert caught.value.field == "training_files"
    with pytest.raises(InvalidRequestError, match="token"):
        await client.fine_tuning.jobs.create(
            model="open-mistral-7b", repositories=[{"owner": "a", "name": "b"}]
        )


async def test_the_emulator_refuses_a_job_with_nothing_to_train_on(api: Api) -> None:
    """Without the client's check, the service answers 400 with its reason."""
    status, body = await api.call(
        "POST", "/v1/fine_tuning/jobs", json={"model": "open-mistral-7b", "training_files": []}
    )
    assert status == 400
    assert "at least one training file or repository" in body["message"]


async def test_a_classifier_job_trains_on_classifier_data(
    emu: Emulator, client: AsyncClient
) -> None:
    """job_type classifier with targets and a text+labels file succeeds; its model card can
    classify; targets come back with their loss function. Each job type refuses the other's
    files in validation, naming the file."""
    classifier_file = await _upload(client, CLASSIFIER_JSONL)
    target = ClassifierTarget(name="mood", labels=["happy", "sad"])
    job = await client.fine_tuning.jobs.create(
        model="ministral-3b-latest", training_files=[classifier_file], job_type="classifier",
        classifier_targets=[target], auto_start=True,
    )  # fmt: skip
    assert job.job_type == "classifier"
    assert job.classifier_targets is not None
    assert [(t.name, t.labels, t.loss_function) for t in job.classifier_targets] == [
        ("mood", ["happy", "sad"], "single_class")
    ]
    emu.advance(600)
    done = await client.fine_tuning.jobs.get(job.id)
    assert done.status == "SUCCESS"
    card = await client.models.get(done.fine_tuned_model or "")
    assert card.capabilities.classification
    chat_file = await _upload(client, GOOD_JSONL)
    wrong = await client.fine_tuning.jobs.create(
        model="ministral-3b-latest", training_files=[chat_file], job_type="classifier",
        classifier_targets=[target],
    )  # fmt: skip
    other_way = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[classifier_file]
    )
    emu.advance(120)
    for job_id, words in ((wrong.id, "instruct samples"), (other_way.id, "classifier samples")):
        failed = await client.fine_tuning.jobs.get(job_id)
        assert failed.status == "FAILED_VALIDATION"
        errors = [e.data.get("error", "") for e in failed.events or [] if e.data]
        assert any(words in e for e in errors), errors


async def test_classifier_options_are_checked_before_sending(client: AsyncClient) -> None:
    """A classifier job needs targets; targets need a classifier job; a loss function is one
    of two; labels are not empty."""
    target: dict[str, Any] = {"name": "mood", "labels": ["a"]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"job_type": "classifier"}, "classifier_targets"),
        ({"classifier_targets": [target]}, "classifier_targets"),
        ({"job_type": "classifier", "classifier_targets": [target | {"loss_function": "x"}]},
         "classifier_targets[0].loss_function"),
        ({"job_type": "classifier", "classifier_targets": [{"name": "m", "labels": []}]},
         "classifier_targets[0].labels"),
        ({"invalid_sample_skip_percentage": 101}, "invalid_sample_skip_percentage"),
    ]  # fmt: skip
    for options, field in cases:
        with pytest.raises(InvalidRequestError) as caught:
            await client.fine_tuning.jobs.create(
                model="open-mistral-7b", training_files=["f"], **options
            )
        assert caught.value.field == field, options


@pytest.mark.parametrize(("skip", "status"), [(0, "FAILED_VALIDATION"), (2, "FAILED_VALIDATION"),
                                              (10, "SUCCESS")])  # fmt: skip
async def test_invalid_samples_are_skipped_up_to_the_percentage(
    emu: Emulator, client: AsyncClient, skip: float, status: str
) -> None:
    """One invalid sample in twenty (5%) fails validation unless the job may skip 5% or more;
    the failure says how many were invalid against what the job allowed."""
    lines = [*GOOD_JSONL.splitlines(keepends=True)[:19], b'{"messages": []}\n']
    file_id = await _upload(client, b"".join(lines))
    job = await client.fine_tuning.jobs.create(
        model="open-mistral-7b", training_files=[file_id], auto_start=True,
        invalid_sample_skip_percentage=skip,
    )  # fmt: skip
    assert job.invalid_sample_skip_percentage in (skip, None)
    emu.advance(600)
    done = await client.fine_tuning.jobs.get(job.id)
    assert done.status == status
    if status == "FAILED_VALIDATION" and skip:
        errors = [e.data.get("error", "") for e in done.events or [] if e.data]
        assert any("1 of 20 samples invalid, 5.0%: more than the 2% the job may skip" in e
                   for e in errors), errors  # fmt: skip
