"""Auth and tenancy of the emulator."""

from __future__ import annotations

import pytest

from mistral_jobs_async.emulator import Emulator

from .conftest import GOOD_JSONL, KEY_A, Api, MakeApi

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "path", ["/v1/fine_tuning/jobs", "/forge/training/jobs", "/v1/files", "/v1/unknown"]
)
async def test_missing_key_is_401_with_error_body(make_api: MakeApi, path: str) -> None:
    """A request without a key gets 401 and the spec's Error body, on every route."""
    status, body = await make_api(None).call("GET", path)
    assert status == 401
    assert body["code"] == 401
    assert body["type"] == "unauthorized"
    assert "API key" in body["message"]


async def test_non_bearer_scheme_is_401(api: Api) -> None:
    """Only the Bearer scheme is accepted."""
    async with api.session.get(
        api.base + "/v1/fine_tuning/jobs", headers={"Authorization": f"Basic {KEY_A}"}
    ) as response:
        assert response.status == 401


@pytest.mark.mistral_emulator(api_keys=["good-key"])
async def test_only_configured_keys_are_accepted(make_api: MakeApi) -> None:
    """With api_keys set, other keys get 401 and the configured one works."""
    status, body = await make_api("bad-key").call("GET", "/v1/fine_tuning/jobs")
    assert (status, body["message"]) == (401, "Invalid API key")
    status, body = await make_api("good-key").call("GET", "/v1/fine_tuning/jobs")
    assert status == 200
    assert body == {"object": "list", "data": [], "total": 0}


async def test_each_key_is_its_own_organisation(api: Api, api_b: Api) -> None:
    """Jobs and files of one key are 404 (and invisible in lists) for another key."""
    uploaded = await api.upload(GOOD_JSONL)
    job = await api.create_ft(uploaded["id"])
    forge = await api.create_forge()
    for path in (
        f"/v1/fine_tuning/jobs/{job['id']}",
        f"/forge/training/jobs/{forge['id']}",
        f"/v1/files/{uploaded['id']}",
    ):
        status, body = await api_b.call("GET", path)
        assert status == 404, path
        assert body["code"] == 404
    for path in (
        f"/v1/fine_tuning/jobs/{job['id']}/cancel",
        f"/v1/fine_tuning/jobs/{job['id']}/start",
    ):
        status, _ = await api_b.call("POST", path)
        assert status == 404
    status, _ = await api_b.call("DELETE", f"/v1/files/{uploaded['id']}")
    assert status == 404
    for path in ("/v1/fine_tuning/jobs", "/forge/training/jobs", "/v1/files"):
        _, listing = await api_b.call("GET", path)
        assert listing["total"] == 0
    # A file of key A cannot be used by key B either.
    status, body = await api_b.call(
        "POST",
        "/v1/fine_tuning/jobs",
        json={"model": "open-mistral-7b", "training_files": [{"file_id": uploaded["id"]}]},
    )
    assert status == 400
    assert "training_files[0].file_id" in body["message"]


async def test_key_never_appears_in_request_log(emu: Emulator, api: Api) -> None:
    """The request log names a key only by a fingerprint."""
    await api.call("GET", "/v1/fine_tuning/jobs")
    record = emu.requests[-1]
    assert record.key is not None
    assert KEY_A not in repr(record)
    assert KEY_A not in repr(emu.requests)
