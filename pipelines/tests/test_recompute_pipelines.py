from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from builds.testing import make_build, make_pipeline
from pipelines.models import Pipeline
from runs.models import RunStatus


@pytest.mark.django_db
def test_it_repairs_read_models_and_reports_what_changed() -> None:
    # given two pipelines, one with a damaged read model
    good = make_build(make_pipeline("good"), status=RunStatus.SUCCEEDED)
    damaged = make_build(make_pipeline("damaged"), status=RunStatus.FAILED)
    Pipeline.objects.filter(pk=damaged.pipeline_id).update(build_status="", latest_build=None, build_count=0, labels=[])
    out, err = StringIO(), StringIO()

    # when
    call_command("recompute_pipelines", stdout=out, stderr=err)

    # then
    repaired = Pipeline.objects.get(pk=damaged.pipeline_id)
    assert (repaired.latest_build_id, repaired.build_status, repaired.build_count) == (damaged.pk, "failed", 1)
    assert repaired.labels == damaged.labels
    assert Pipeline.objects.get(pk=good.pipeline_id).latest_build_id == good.pk
    assert out.getvalue().startswith("recomputed 2 pipelines (1 changed) in ")
    assert "recomputing pipelines [" in err.getvalue()


@pytest.mark.django_db
def test_it_recomputes_only_the_pipelines_named() -> None:
    make_build(make_pipeline("api"))
    out = StringIO()
    call_command("recompute_pipelines", "github.com/acme/api", stdout=out, stderr=StringIO())
    assert out.getvalue().startswith("recomputed 1 pipelines (0 changed)")
    with pytest.raises(CommandError, match=r"no pipeline github\.com/acme/nope"):
        call_command("recompute_pipelines", "github.com/acme/nope")
    with pytest.raises(CommandError, match="name pipelines as source/owner/name"):
        call_command("recompute_pipelines", "api")
