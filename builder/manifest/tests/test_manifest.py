"""The manifest as a whole: strict parsing with positions, sections, defaults and validation order
(ESTAFETTE.md §1.1-1.4, §1.8-1.9, §1.13-1.15; manifest_test.go)."""

from __future__ import annotations

import pytest

from builder.manifest import Builder, ManifestErrors, ManifestPreferences, load_manifest
from builder.manifest.tests.corpus import FIXTURES
from builder.manifest.tests.helpers import A_STAGE, errors_of, load


def test_it_defaults_the_builder_to_the_first_os_and_its_first_track() -> None:
    # given a minimal manifest
    # when it is loaded
    manifest = load(A_STAGE)

    # then the builder is linux/stable/docker with the node's storage medium
    assert manifest.builder == Builder(track="stable", os="linux", medium="", type="docker")


@pytest.mark.parametrize("track", ["stable", "beta", "dev"])
def test_it_accepts_the_configured_linux_tracks(track: str) -> None:
    # given a linux builder on a configured track
    # when it is loaded
    # then it keeps that track
    assert load(f"builder: {{track: {track}}}\n{A_STAGE}").builder.track == track


@pytest.mark.parametrize(
    ("builder", "preferences", "expected"),
    [
        ("{track: nightly}", None, "1:18: builder track should be one of: stable, beta, dev"),
        ("{os: solaris, track: nightly}", None, "1:15: builder os should be one of: linux, windows"),
        (
            "{os: windows, track: stable}",
            None,
            "1:31: builder track should be one of: nanoserver-1809-stable, nanoserver-1809-beta, nanoserver-1809-dev",
        ),
        (
            "{os: mac}",
            ManifestPreferences(builder_operating_systems=("linux", "mac")),
            "1:15: no track preferences have been configured for os mac",
        ),
        ("{trak: dev}", None, "1:11: field trak not found in type manifest.EstafetteBuilder"),
    ],
)
def test_it_validates_the_builder(builder: str, preferences: ManifestPreferences | None, expected: str) -> None:
    # given a builder the server does not offer
    # when the manifest is loaded
    # then the one relevant problem is reported
    assert errors_of(f"builder: {builder}\n{A_STAGE}", preferences) == [f".estafette.yaml:{expected}"]


def test_it_validates_labels_against_the_servers_regexes() -> None:
    # given labels and a server that restricts some of them
    preferences = ManifestPreferences(label_regexes={"team": "estafette|ci", "app": "[a-z-]+"})
    text = f"labels:\n  app: estafette-ci-api\n  team: marketing\n  language: golang\n{A_STAGE}"

    # when the manifest is loaded
    # then only the mismatching label is reported, at its value
    assert errors_of(text, preferences) == [".estafette.yaml:3:9: Label team does not match regex ^estafette|ci$"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1:1: The manifest should define 1 or more stages"),
        ("labels: {a: b}\n", "1:1: The manifest should define 1 or more stages"),
        ("stages: {}\n", "1:9: The manifest should define 1 or more stages"),
    ],
)
def test_it_requires_stages(text: str, expected: str) -> None:
    # given a manifest without stages
    # when it is loaded
    # then that is the error
    assert errors_of(text) == [f".estafette.yaml:{expected}"]


def test_it_accepts_the_deprecated_pipelines_section() -> None:
    # given a manifest that still uses `pipelines:`
    manifest = load("pipelines:\n  build:\n    image: golang\n  test:\n    image: golang\n")

    # when it is loaded
    # then its stages come from there
    assert [stage.name for stage in manifest.stages] == ["build", "test"]


def test_it_prefers_stages_over_pipelines() -> None:
    # given both sections
    manifest = load("pipelines:\n  old:\n    image: golang\nstages:\n  new:\n    image: golang\n")

    # when it is loaded
    # then stages win
    assert [stage.name for stage in manifest.stages] == ["new"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "stages:\n  build:\n    image: a\n  build:\n    image: b\n",
            ['4:3: mapping key "build" already defined at line 2'],
        ),
        ("labels: {a: 1, a: 2}\n" + A_STAGE, ['1:16: mapping key "a" already defined at line 1']),
        (
            "stages:\n  build:\n    image: [\n",
            ["4:1: invalid YAML: while parsing a flow node: did not find expected node content"],
        ),
        (
            "stages:\n\tbuild: {}\n",
            ["2:1: invalid YAML: while scanning for the next token: found character that cannot start any token"],
        ),
        ("- a\n- b\n", ["1:1: cannot unmarshal !!seq into manifest.EstafetteManifest"]),
        ("just text\n", ["1:1: cannot unmarshal !!str `just text` into manifest.EstafetteManifest"]),
        ("archived: maybe\n" + A_STAGE, ["1:11: field archived: cannot unmarshal !!str `maybe` into bool"]),
        (
            "stages: [build]\n",
            [
                "1:9: field stages: cannot unmarshal !!seq into an ordered map of names",
                "1:9: The manifest should define 1 or more stages",
            ],
        ),
        (
            "a: 1\n---\nb: 2\n",
            ["2:1: invalid YAML: expected a single document in the stream: but found another document"],
        ),
    ],
)
def test_it_reports_yaml_and_type_errors_where_they_are(text: str, expected: list[str]) -> None:
    # given a manifest that cannot be read as written
    # when it is loaded
    # then the problem is reported at its place
    assert errors_of(text) == [f".estafette.yaml:{error}" for error in expected]


def test_it_reports_every_problem_in_estafettes_order() -> None:
    # given a manifest with problems in every section
    text = """\
        builder: {track: nightly}
        unknown: true
        stages:
          build: {}
        triggers:
        - {}
        releases:
          production:
            builder: {os: windows, track: x}
            stages:
              deploy: {}
        bots:
          triage:
            triggers:
            - cron: {schedule: '* *'}
        """

    # when it is loaded
    with pytest.raises(ManifestErrors) as raised:
        load_manifest(text.replace("        ", "", 1).replace("\n        ", "\n"), path="ci/.estafette.yaml")

    # then parse errors come first, then Estafette's validation order, each at its place
    assert [str(error) for error in raised.value.errors] == [
        "ci/.estafette.yaml:2:1: field unknown not found in type manifest.EstafetteManifest",
        "ci/.estafette.yaml:1:18: builder track should be one of: stable, beta, dev",
        "ci/.estafette.yaml:4:3: Stage build has no image set",
        "ci/.estafette.yaml:6:3: Set at least a 'pipeline', 'release', 'git', 'docker', 'cron', 'pubsub', "
        "'github' or 'bitbucket' trigger",
        "ci/.estafette.yaml:9:35: builder track should be one of: "
        "nanoserver-1809-stable, nanoserver-1809-beta, nanoserver-1809-dev",
        "ci/.estafette.yaml:11:7: Stage deploy has no image set",
        "ci/.estafette.yaml:15:24: Invalid cron.schedule in your trigger: Expected exactly 5 fields, found 2: * *",
    ]
    assert (raised.value.errors[0].line, raised.value.errors[0].column) == (2, 1)


def test_it_applies_merge_keys_and_aliases() -> None:
    # given stages that share settings through an anchor
    text = """\
        stages:
          build: &go
            image: golang
            env: {CGO_ENABLED: 0}
          test:
            <<: *go
            commands: [go test]
        """

    # when it is loaded
    test = load(text).stages[1]

    # then the merged keys are there and the explicit ones too
    assert (test.image, dict(test.env), test.commands) == ("golang", {"CGO_ENABLED": "0"}, ("go test",))


def test_it_refuses_recursive_aliases() -> None:
    # given a custom property that contains itself
    # when it is loaded
    errors = errors_of("stages:\n  build:\n    image: golang\n    loop: &a [*a]\n")

    # then that is an error, not a hang (yaml.v2: "anchor 'a' value contains itself")
    assert errors == [".estafette.yaml:4:11: this YAML anchor's value contains an alias of itself"]


def test_it_reads_releases_in_order_with_their_defaults() -> None:
    # given Estafette's main fixture (windows builder, six releases)
    manifest = load_manifest((FIXTURES / "test-manifest.yaml").read_text())

    # when it is loaded
    releases = {release.name: release for release in manifest.releases}

    # then releases keep their order, inherit or override the builder, and clone only when asked
    assert list(releases) == ["docker-hub", "beta", "development", "staging", "production", "tooling"]
    assert releases["beta"].builder == Builder(track="nanoserver-1809-stable", os="windows", type="docker")
    assert releases["development"].builder == Builder(track="stable", os="linux", type="docker")
    assert releases["development"].stages[0].shell == "/bin/sh"
    assert [release.clone for release in manifest.releases] == [False, False, False, False, True, False]
    assert [action.name for action in releases["production"].actions] == [
        "deploy-canary",
        "rollback-canary",
        "deploy-stable",
    ]
    assert releases["staging"].stages[0].custom_properties["volumemounts"][0]["volume"]["secret"]["items"][0] == {
        "key": "key",
        "path": "key",
        "mode": 600,
        "enabled": True,
    }
    assert releases["tooling"].stages == ()


def test_it_applies_release_templates_field_by_field() -> None:
    # given a template and releases that use it, override parts of it, or name an unknown one
    text = """\
        stages:
          build: {image: golang}
        releaseTemplates:
          default:
            builder: {track: beta}
            clone: true
            actions: [{name: deploy}]
            stages:
              deploy: {image: extensions/gke:stable}
        releases:
          development:
            template: default
          staging:
            template: default
            clone: false
            stages:
              smoke: {image: curl}
          production:
            template: missing
            stages:
              deploy: {image: x}
        """

    # when the manifest is loaded
    manifest = load(text)
    development, staging, production = manifest.releases

    # then each field comes whole from the release when it sets it, else from the template
    assert (development.builder.track, development.clone, [s.name for s in development.stages]) == (
        "beta",
        True,
        ["deploy"],
    )
    assert (staging.builder.track, staging.clone, [s.name for s in staging.stages]) == ("beta", False, ["smoke"])
    assert [action.name for action in staging.actions] == ["deploy"]
    assert (production.builder.track, production.clone) == ("stable", False)  # unknown template: ignored
    # and the template itself is kept as written
    assert manifest.release_templates[0].stages[0].shell == ""


def test_it_reads_bots_in_order_with_their_triggers() -> None:
    # given Estafette's bots fixture
    manifest = load_manifest((FIXTURES / "test-manifest-with-bots.yaml").read_text())

    # when it is loaded
    # then bots keep their order, default clone and repository, and run themselves
    assert [bot.name for bot in manifest.bots] == ["pr-bot", "any-bot", "stale-issues-bot"]
    assert [len(bot.triggers) for bot in manifest.bots] == [1, 2, 1]
    assert [bot.clone for bot in manifest.bots] == [False, False, True]
    assert manifest.bots[0].triggers[0].bitbucket is not None
    assert manifest.bots[0].triggers[0].bitbucket.repository == "self"
    assert [trigger.runs.bot for bot in manifest.bots for trigger in bot.triggers if trigger.runs] == [
        "pr-bot",
        "any-bot",
        "any-bot",
        "stale-issues-bot",
    ]


def test_it_reads_archived_manifests() -> None:
    # given Estafette's archived fixture
    # when it is loaded
    # then it is archived
    assert load_manifest((FIXTURES / "test-manifest-archived.yaml").read_text()).archived is True


def test_it_ignores_unknown_keys_in_releases_and_bots_as_estafette_does() -> None:
    # given releases and bots with keys Estafette does not know
    text = f"{A_STAGE}releases:\n  production:\n    colour: red\nbots:\n  triage:\n    colour: blue\n"

    # when the manifest is loaded
    manifest = load(text)

    # then they are ignored
    assert [release.name for release in manifest.releases] == ["production"]
    assert [bot.name for bot in manifest.bots] == ["triage"]


def test_it_stops_reading_documents_that_aliases_blow_up() -> None:
    # given a small text whose aliases expand to a hundred million nodes ("billion laughs")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + level)}: &{chr(98 + level)} [{', '.join(['*' + chr(97 + level)] * 10)}]\n" for level in range(7)
    )
    text = "stages:\n  build:\n    image: x\n    bomb:\n" + "".join(f"      {line}\n" for line in bomb.splitlines())

    # when it is loaded
    # then reading stops with an error instead of exhausting the machine
    assert errors_of(text) == [
        ".estafette.yaml:1:1: the manifest expands to more than 200000 YAML nodes (through aliases?)"
    ]


def test_it_refuses_a_stage_that_contains_itself() -> None:
    # given a stage that contains itself as a parallel stage
    text = "stages:\n  s: &s\n    parallelStages: {a: *s}\n"

    # when it is loaded
    # then that is an error, not a recursion
    assert errors_of(text) == [".estafette.yaml:2:6: this YAML anchor's value contains an alias of itself"]


def test_it_refuses_absurdly_deep_parallel_stages() -> None:
    # given parallel stages nested 40 levels deep
    text = "stages:\n  s: " + "{parallelStages: {a: " * 40 + "{image: x}" + "}}" * 40 + "\n"

    # when it is loaded
    # then that is an error, not a recursion
    assert errors_of(text) == [".estafette.yaml:2:695: parallelStages nest more than 32 levels deep"]
