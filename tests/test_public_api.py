"""The public surface: sorted ``__all__`` whose names all import."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "module", ["mistral_jobs_async", "mistral_jobs_async.emulator", "mistral_jobs_async.models"]
)
def test_all_is_sorted_and_importable(module: str) -> None:
    """Every public module lists its names, sorted, and each exists."""
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        assert hasattr(mod, name), name


def test_one_root_exception() -> None:
    """Every exception class the package exports derives from MistralJobsError."""
    import mistral_jobs_async as pkg

    for name in pkg.__all__:
        value = getattr(pkg, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, pkg.MistralJobsError), name


def test_emulator_repr_has_no_secret() -> None:
    """The emulator's repr shows neither keys nor the control token."""
    from mistral_jobs_async.emulator import Emulator

    emu = Emulator(api_keys=["very-secret"], control_token="tok-secret")
    assert "secret" not in repr(emu)
