"""The pytest plugin, as a user's test suite would use it (run by pytester)."""

from __future__ import annotations

import pytest


def test_fixtures_serve_sync_and_async_tests(pytester: pytest.Pytester) -> None:
    """The fixtures work in sync and anyio tests; the marker and mistral_env apply."""
    pytester.makepyfile(
        """
        import json, os, urllib.request
        import aiohttp
        import pytest

        def get(url):
            req = urllib.request.Request(url, headers={"Authorization": "Bearer k"})
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.loads(r.read())

        def test_sync(mistral_emulator):
            assert get(mistral_emulator.url + "/v1/fine_tuning/jobs")["total"] == 0

        @pytest.mark.mistral_emulator(speed=0, seed=5)
        def test_marker(mistral_emulator):
            assert mistral_emulator.speed == 0

        @pytest.mark.anyio
        @pytest.mark.parametrize("anyio_backend", ["asyncio"])
        async def test_async(mistral_emulator, anyio_backend):
            async with aiohttp.ClientSession() as s:
                async with s.get(mistral_emulator.url + "/forge/training/jobs",
                                 headers={"Authorization": "Bearer k"}) as r:
                    assert r.status == 200

        def test_env(mistral_env):
            assert os.environ["MISTRAL_BASE_URL"] == mistral_env.url
            assert os.environ["MISTRAL_API_KEY"]

        def test_factory(mistral_emulator_factory):
            a = mistral_emulator_factory(rate_limit=1)
            b = mistral_emulator_factory()
            assert a.url != b.url
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=5)
