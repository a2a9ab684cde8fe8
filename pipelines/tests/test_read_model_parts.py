"""The read model's parts: registered by the apps that compute them, each writing only read-model fields."""

from __future__ import annotations

import pytest

from builds.testing import make_pipeline
from pipelines.read_model import ReadModelPart, read_model_parts, register_read_model_part
from pipelines.services import pipeline_update_read_model


def test_the_kinds_register_their_parts_in_the_order_they_need_them() -> None:
    assert [part.name for part in read_model_parts()] == ["builds", "releases", "triggers"]


class _Orphan(ReadModelPart):
    name = "orphan"
    needs = ("nothing-registered",)


def test_a_part_is_refused_before_the_parts_it_needs() -> None:
    with pytest.raises(ValueError, match="needs nothing-registered registered before it"):
        register_read_model_part(_Orphan())
    assert "orphan" not in [part.name for part in read_model_parts()]


@pytest.mark.django_db
def test_a_part_cannot_write_what_is_not_the_read_model() -> None:
    pipeline = make_pipeline()
    with pytest.raises(ValueError, match="archived"):
        pipeline_update_read_model(pipeline=pipeline, part="builds", values={"archived": True})
    pipeline.refresh_from_db()
    assert pipeline.archived is False
