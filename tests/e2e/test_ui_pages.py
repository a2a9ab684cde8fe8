"""The pages of the web UI beyond pipelines and runs (issue 15, Deliver 5) in headless Chromium, on realistic data
put in place through the same services the API uses."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from builder.contracts import TailLogLine
from builder.secrets import open_envelope
from builds.testing import MANIFEST, make_build, make_pipeline
from estafette.lib.crypt import installation_key
from pipelines.catalog import CatalogEntityFields, catalog_entity_create
from pipelines.models import CatalogEntity
from releases.services import bot_create, bot_finish, bot_start, release_create
from runs.events import manual_event
from runs.models import RunStatus
from runs.services import log_append, log_record_create
from runs.testing import output_line

OPERATOR = "operator@example.com"


def manifest_of_type(kind: str) -> str:
    """The test manifest (semver 1.2.x, releases, a bot) labelled ``type: <kind>``."""
    return MANIFEST.replace("  team: ci\n", f"  team: ci\n  type: {kind}\n", 1)


def commit_by(email: str, message: str) -> dict[str, Any]:
    return {"message": message, "author": {"email": email, "name": email.split("@", maxsplit=1)[0], "username": ""}}


def test_the_home_page_shows_the_pipelines_i_committed_to_and_released(page: Any) -> None:
    # given: the operator committed to api and released web; someone else committed to docs
    make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED, commits=[commit_by(OPERATOR, "Add caching")])
    web = make_build(make_pipeline("web"), status=RunStatus.SUCCEEDED, commits=[commit_by("ann@example.com", "CSS")])
    release_create(
        pipeline=web.pipeline,
        name="staging",
        release_version=web.build_version,
        triggered_by_events=[manual_event(OPERATOR)],
    )
    make_build(make_pipeline("docs"), status=RunStatus.SUCCEEDED, commits=[commit_by("bob@example.com", "Typo")])
    # when the home page is opened from the header
    page.get_by_role("link", name="Estafette CI").click()
    page.wait_for_url(re.compile(r"/$"))
    # then each section lists its pipelines, and no one else's
    committed = page.get_by_role("region", name="Recently committed to")
    released = page.get_by_role("region", name="Recently released")
    expect(committed.get_by_role("link", name="acme/api", exact=True)).to_be_visible()
    expect(released.get_by_role("link", name="acme/web", exact=True)).to_be_visible()
    expect(committed.get_by_role("link", name="acme/web", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="acme/docs", exact=True)).to_have_count(0)


def test_insights_chart_the_statistics_of_the_period(page: Any) -> None:
    # given three builds of api (one failed), one of web, and a release of api
    api = make_pipeline("api")
    first = make_build(api, status=RunStatus.SUCCEEDED)
    make_build(api, status=RunStatus.SUCCEEDED)
    make_build(api, status=RunStatus.FAILED)
    make_build(make_pipeline("web"), status=RunStatus.SUCCEEDED)
    release_create(pipeline=api, name="staging", release_version=first.build_version)
    # when the insights page is opened
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Insights").click()
    # then the figures count the period's runs
    figures = page.get_by_role("table", name="Runs and their median duration in the period")
    expect(figures.get_by_role("row", name=re.compile(r"^Pipelines\s+2"))).to_be_visible()
    expect(figures.get_by_role("row", name=re.compile(r"^Builds\s+4"))).to_be_visible()
    expect(figures.get_by_role("row", name=re.compile(r"^Releases\s+1"))).to_be_visible()
    # and the ranking is drawn (a canvas with pixels) with api first, its figures one click away
    ranking = page.get_by_role("figure", name="Pipelines with the most builds")
    canvas = ranking.get_by_role("img", name="Pipelines with the most builds")
    expect(canvas).to_be_visible()
    assert canvas.evaluate("c => c.width > 0 && c.height > 0")
    assert canvas.evaluate("c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0)")
    ranking.get_by_text("Data").click()
    rows = ranking.get_by_role("row")
    expect(rows.nth(1)).to_have_text(re.compile(r"acme/api\s*3"))
    expect(rows.nth(2)).to_have_text(re.compile(r"acme/web\s*1"))
    # and the busiest pipeline's durations are charted, one point per succeeded build (as Estafette's stats count)
    durations = page.get_by_role("figure", name="Duration of the latest builds of github.com/acme/api")
    expect(durations.get_by_role("img")).to_be_visible()
    durations.get_by_text("Data").click()
    expect(durations.get_by_role("row")).to_have_count(1 + 2)
    # and switching to releases charts the releases
    page.get_by_role("button", name="Releases").click()
    expect(page.get_by_role("figure", name="Pipelines with the most releases")).to_be_visible()


def test_it_encrypts_a_secret_for_some_pipelines_and_copies_it(page: Any) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=page.base_url)
    # given the secrets page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Secrets").click()
    # when a value is encrypted for the acme pipelines only
    page.get_by_label("Value", exact=True).fill("s3cr3t-token")
    page.get_by_label("Pipelines that may use it").fill("github.com/acme/.*")
    page.get_by_role("button", name="Encrypt").click()
    # then the envelope is shown (and the plain value no longer is), opens with the server's key for acme only
    output = page.get_by_role("textbox", name="Encrypted secret")
    expect(output).to_have_value(re.compile(r"^estafette\.secret\(.+\)$"))
    expect(page.get_by_label("Value", exact=True)).to_have_value("")
    envelope = output.input_value()
    value, allow_list = open_envelope(envelope, key=installation_key())
    assert (value, allow_list) == ("s3cr3t-token", "github.com/acme/.*")
    # and it is copied with one click
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == envelope


def test_the_catalog_lists_entities_and_changes_them(page: Any) -> None:
    # given a team and an application of it linked to its pipeline, and another team
    make_pipeline("billing")
    catalog_entity_create(fields=CatalogEntityFields(key="team", value="payments", labels=(("tier", "gold"),)))
    catalog_entity_create(
        fields=CatalogEntityFields(
            key="application",
            value="billing",
            parent_key="team",
            parent_value="payments",
            linked_pipeline="github.com/acme/billing",
            metadata={"description": "Sends the invoices"},
        )
    )
    catalog_entity_create(fields=CatalogEntityFields(key="team", value="search"))
    # when the catalog is opened
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    # then its entities are listed with their parent, labels and linked pipeline
    entities = page.get_by_role("region", name="Entities")
    expect(entities.get_by_role("row")).to_have_count(4)
    billing = entities.get_by_role("row").filter(has_text="application=billing")
    expect(billing).to_contain_text("team=payments")
    expect(billing.get_by_role("link", name="github.com/acme/billing")).to_be_visible()
    team = entities.get_by_role("row").filter(has=page.get_by_role("button", name="team=payments"))
    expect(team).to_contain_text("tier=gold")
    # and an entity's details, with its metadata
    entities.get_by_role("button", name="application=billing").click()
    detail = page.get_by_role("region", name="Entity")
    expect(detail.get_by_role("heading", name="application=billing")).to_be_visible()
    expect(detail).to_contain_text("Sends the invoices")
    # when the team's children are asked for, then only its application is listed
    entities.get_by_role("button", name="team=payments").click()
    detail.get_by_role("button", name="Show its children").click()
    expect(entities.get_by_role("row")).to_have_count(2)
    # when an entity is created under the team (an administrator may)
    page.get_by_role("button", name="New entity").click()
    form = page.get_by_role("form", name="New catalog entity")
    form.get_by_label("Key", exact=True).fill("application")
    form.get_by_label("Value", exact=True).fill("invoices")
    form.get_by_label("Parent key").fill("team")
    form.get_by_label("Parent value").fill("payments")
    form.get_by_label("Labels (one key=value a line)").fill("language=python")
    form.get_by_role("button", name="Create").click()
    # then it is stored and listed among the team's children
    expect(detail.get_by_role("heading", name="application=invoices")).to_be_visible()
    expect(entities.get_by_role("button", name="application=invoices")).to_be_visible()
    created = CatalogEntity.objects.get(key="application", value="invoices")
    assert (created.parent_key, created.parent_value, created.labels) == (
        "team",
        "payments",
        [{"key": "language", "value": "python"}],
    )
    # when it is deleted, then it is gone
    detail.get_by_role("button", name="Delete", exact=True).click()
    detail.get_by_role("button", name="Delete application=invoices").click()
    expect(entities.get_by_role("button", name="application=invoices")).to_have_count(0)
    assert not CatalogEntity.objects.filter(pk=created.pk).exists()


def test_the_catalog_lists_pipelines_by_label_value(page: Any, settings: Any) -> None:
    # given the catalog's filter keys, and pipelines of two types
    settings.CATALOG_FILTERS = ["type", "team"]
    make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED, manifest=manifest_of_type("service"))
    make_build(make_pipeline("web"), status=RunStatus.SUCCEEDED, manifest=manifest_of_type("service"))
    make_build(make_pipeline("sdk"), status=RunStatus.SUCCEEDED, manifest=manifest_of_type("library"))
    # when the catalog's second view is opened
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    page.get_by_role("tab", name="Pipelines by label").click()
    # then the values of the first key are listed with their number of pipelines
    values = page.get_by_role("navigation", name="Values of type")
    expect(values.get_by_role("listitem")).to_have_text([re.compile(r"library\s*1"), re.compile(r"service\s*2")])
    # and choosing one lists its pipelines only
    values.get_by_role("button", name="service").click()
    entities = page.get_by_role("region", name="Pipelines", exact=True)
    expect(entities.get_by_role("link", name="acme/api", exact=True)).to_be_visible()
    expect(entities.get_by_role("link", name="acme/web", exact=True)).to_be_visible()
    expect(entities.get_by_role("link", name="acme/sdk", exact=True)).to_have_count(0)
    # and another key has its own values
    page.get_by_role("combobox", name="Label").select_option("team")
    expect(page.get_by_role("navigation", name="Values of team").get_by_role("listitem")).to_have_text(
        [re.compile(r"ci\s*3")]
    )


def test_it_creates_a_manifest_from_a_template_and_validates_it(page: Any) -> None:
    # given the manifest page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Manifest").click()
    # when a manifest is generated from the python template
    page.get_by_label("Template", exact=True).select_option("python")
    page.get_by_label("Application").fill("billing")
    page.get_by_label("Team").fill("payments")
    page.get_by_role("button", name="Generate").click()
    # then it fills the editor, and validates
    editor = page.get_by_label(".estafette.yaml")
    expect(editor).to_have_value(re.compile(r"app: billing"))
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_role("status")).to_have_text("The manifest is valid.")
    # when it is broken (no stages), then validation says where and why
    editor.fill("labels:\n  team: payments\nstages: {}\n")
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_text("The manifest is invalid:")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text=".estafette.yaml")).not_to_have_count(0)


def test_the_configuration_is_shown_read_only_with_credentials_redacted(page: Any, settings: Any) -> None:
    # given a credential with a plain-text token in the server's configuration
    settings.CREDENTIALS = [
        {"name": "gcr-push", "type": "container-registry", "repository": "eu.gcr.io/acme", "password": "hunter2-plain"}
    ]
    settings.TRUSTED_IMAGES = [{"path": "extensions/docker", "runDocker": True}]
    # when the configuration page is opened
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Configuration").click()
    # then the credential is named, its token is not shown
    config = page.get_by_label("Configuration", exact=True)
    expect(config).to_contain_text("gcr-push")
    expect(config).to_contain_text("eu.gcr.io/acme")
    expect(config).not_to_contain_text("hunter2-plain")
    # and each section can be shown on its own
    page.get_by_role("button", name="Trusted images").click()
    expect(page.get_by_label("Configuration", exact=True)).to_contain_text("extensions/docker")
    expect(page.get_by_label("Configuration", exact=True)).not_to_contain_text("gcr-push")
    expect(page.get_by_role("textbox")).to_have_count(0)  # nothing to edit


def test_bots_are_listed_across_pipelines_and_a_bot_runs_log_is_shown(page: Any) -> None:
    # given a finished run of api's bot with its log, and a pending run of web's
    api = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    web = make_build(make_pipeline("web"), status=RunStatus.SUCCEEDED)
    tidy = bot_create(pipeline=api.pipeline, name="tidy")
    bot_start(bot_run=tidy)
    record = log_record_create(pipeline=api.pipeline, run_kind=tidy.kind, run_id=tidy.pk)
    log_append(
        record=record,
        seq=1,
        lines=[
            TailLogLine(step="tidy", status="RUNNING"),
            output_line("tidy", "pruned 3 tags", 1),
            TailLogLine(step="tidy", status="SUCCEEDED", exit_code=0, duration=2_000_000_000),
        ],
    )
    bot_finish(bot_run=tidy, status=RunStatus.SUCCEEDED)
    bot_create(pipeline=web.pipeline, name="tidy")
    # when the list of all bots is opened
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Bots").click()
    # then both runs are there, with their pipelines
    expect(page.get_by_role("link", name="acme/api", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="acme/web", exact=True)).to_be_visible()
    # when api's run is opened from its pipeline's Bots tab
    page.goto(f"{page.base_url}/pipelines/github.com/acme/api/bots")
    page.get_by_role("link", name="tidy", exact=True).click()
    page.wait_for_url(re.compile(rf"/bots/{tidy.pk}$"))
    # then its log is shown by the run log viewer, stage and lines
    expect(page.get_by_role("heading", name="Bot tidy")).to_be_visible()
    expect(page.get_by_role("log", name="Log lines").get_by_text("pruned 3 tags")).to_be_visible()
    steps = page.get_by_role("navigation", name="Steps")
    expect(steps.get_by_text("succeeded")).to_be_visible()
    expect(steps.get_by_text("exit 0")).to_be_visible()
