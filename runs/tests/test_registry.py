"""The run-kind registry: the kinds register themselves; the engine refuses what it cannot carry."""

from __future__ import annotations

import pytest

from builds.models import Build
from estafette.lib.errors import NotFound
from runs.registry import RunKind, register_run_kind, run_kind, run_kinds


def test_every_kind_registers_itself_from_its_app() -> None:
    assert [kind.name for kind in run_kinds()] == ["build", "release", "bot"]
    assert run_kind("build").model is Build


def test_an_unknown_kind_is_not_found_naming_the_known_ones() -> None:
    with pytest.raises(NotFound, match="unknown run kind 'job'; expected one of build, release, bot"):
        run_kind("job")


class _Impostor(RunKind):
    name = "build"
    model = Build


class _Misnamed(RunKind):
    name = "builds"
    model = Build


@pytest.mark.parametrize("kind", [_Impostor(), _Misnamed()])
def test_it_refuses_a_second_kind_of_a_name_or_a_name_not_its_models(kind: RunKind) -> None:
    with pytest.raises(ValueError, match="run kind"):
        register_run_kind(kind)
    assert type(run_kind("build")).__name__ == "BuildKind"
