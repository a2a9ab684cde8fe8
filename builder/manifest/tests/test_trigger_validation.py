"""Trigger validation with Estafette's messages, every problem reported where it is
(ESTAFETTE.md §1.10; trigger_validate_test.go)."""

from __future__ import annotations

import pytest

from builder.manifest.tests.helpers import A_STAGE, errors_of, load

ALL_TYPES = "'pipeline', 'release', 'git', 'docker', 'cron', 'pubsub', 'github' or 'bitbucket'"


@pytest.mark.parametrize(
    "trigger",
    [
        "pipeline: {name: github.com/a/b}",
        "pipeline: {name: self, event: started, status: ''}",
        "release: {name: self, target: production}",
        "git: {repository: github.com/a/b}",
        "docker: {image: golang}",
        "cron: {schedule: '*/5 * * * *'}",
        "cron: {schedule: '@daily'}",
        "pubsub: {project: p, topic: t}",
        "github: {events: [push]}",
        "bitbucket: {events: ['repo:push']}",
    ],
)
def test_it_accepts_one_filter_with_the_right_action(trigger: str) -> None:
    # given a build trigger with one filter
    # when it is loaded
    manifest = load(f"triggers:\n- {trigger}\n{A_STAGE}")

    # then it is valid
    assert len(manifest.triggers) == 1


@pytest.mark.parametrize(
    ("triggers", "expected"),
    [
        ("- {}", [f"2:3: Set at least a {ALL_TYPES} trigger"]),
        ("- name: only-a-name", [f"2:3: Set at least a {ALL_TYPES} trigger"]),
        (
            "- pipeline: {name: a/b/c}\n  git: {repository: a/b/c}",
            [f"3:3: Do not specify more than one type of trigger {ALL_TYPES} per trigger object"],
        ),
        (
            "- pipeline: {event: done}",
            [
                "2:21: Set pipeline.event in your trigger to 'started' or 'finished'",
                "2:3: Set pipeline.name in your trigger to 'self' or a full qualified pipeline name, "
                "i.e. github.com/estafette/estafette-ci-manifest",
            ],
        ),
        (
            "- pipeline: {name: a/b/c, status: canceled}",
            ["2:35: Set pipeline.status in your trigger to 'succeeded' or 'failed' for event 'finished'"],
        ),
        (
            "- release: {name: a/b/c}",
            ["2:3: Set release.target in your trigger to a release target name on the pipeline set by release.name"],
        ),
        (
            "- release: {target: production, event: begun}",
            [
                "2:40: Set release.event in your trigger to 'started' or 'finished'",
                "2:3: Set release.name in your trigger to 'self' or a full qualified pipeline name, "
                "i.e. github.com/estafette/estafette-ci-manifest",
            ],
        ),
        (
            "- git: {event: pull}",
            [
                "2:16: Set git.event in your trigger to 'push'",
                "2:3: Set git.repository in your trigger to a full qualified git repository name, "
                "i.e. github.com/estafette/estafette-ci-manifest",
            ],
        ),
        (
            "- cron: {}",
            ["2:3: Set cron.schedule in your trigger to '<minute> <hour> <day of month> <month> <day of week>'"],
        ),
        (
            "- cron: {schedule: '0 10 */1 * * *'}",
            ["2:20: Invalid cron.schedule in your trigger: Expected exactly 5 fields, found 6: 0 10 */1 * * *"],
        ),
        (
            "- pubsub: {}",
            [
                "2:3: Set pubsub.project in your trigger to the google cloud project id containing the pubsub topic",
                "2:3: Set pubsub.topic in your trigger to the pubsub topic you want this pipeline to subscribe to",
            ],
        ),
        ("- github: {}", ["2:3: Set array github.events in your trigger to at least one github event"]),
        (
            "- bitbucket: {events: []}",
            ["2:3: Set array bitbucket.events in your trigger to at least one bitbucket event"],
        ),
        (
            "- git: {repository: a/b/c}\n  releases: {target: x}",
            ["3:13: For a build trigger do not set the 'releases' property"],
        ),
        ("- gti: {repository: a/b/c}", ["2:3: field gti not found in type manifest.EstafetteTrigger"]),
        (
            "- git: {repository: a/b/c, brunch: main}",
            ["2:28: field brunch not found in type manifest.EstafetteGitTrigger"],
        ),
    ],
)
def test_it_reports_build_trigger_problems_with_estafettes_messages(triggers: str, expected: list[str]) -> None:
    # given top-level triggers with problems
    # when the manifest is loaded
    errors = errors_of(f"triggers:\n{triggers}\n{A_STAGE}")

    # then each problem is reported at its place in Estafette's words
    assert errors == [f".estafette.yaml:{error}" for error in expected]


def test_it_reports_release_and_bot_trigger_problems() -> None:
    # given a release trigger with a builds action and a bot trigger without a filter
    text = """\
        stages:
          build:
            image: golang
        releases:
          production:
            triggers:
            - pipeline: {name: self}
              builds: {branch: main}
        bots:
          triage:
            triggers:
            - runs: {branch: main}
        """

    # when the manifest is loaded
    errors = errors_of(text)

    # then both are reported, release first
    assert errors == [
        ".estafette.yaml:8:15: For a release trigger do not set the 'builds' property",
        f".estafette.yaml:12:7: Set at least a {ALL_TYPES} trigger",
    ]


def test_it_ignores_unknown_keys_in_release_triggers_as_estafette_does() -> None:
    # given a release trigger with a key Estafette does not know
    text = f"{A_STAGE}releases:\n  production:\n    triggers:\n    - pipeline: {{name: self, colour: red}}\n"

    # when the manifest is loaded
    manifest = load(text)

    # then it is valid: release sections are decoded leniently
    assert manifest.releases[0].triggers[0].pipeline is not None
