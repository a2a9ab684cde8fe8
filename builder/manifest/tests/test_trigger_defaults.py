"""Trigger defaults per filter type and per location (ESTAFETTE.md §1.10; trigger_setDefaults_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from builder.manifest import ManifestPreferences
from builder.manifest.tests.helpers import A_STAGE, load


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            "pipeline: {name: github.com/estafette/estafette-ci-manifest}",
            {
                "pipeline": {
                    "event": "finished",
                    "status": "succeeded",
                    "name": "github.com/estafette/estafette-ci-manifest",
                    "branch": "master|main",
                },
                "builds": {"branch": "master"},
            },
        ),
        (
            "release: {name: github.com/a/b, target: production}",
            {
                "release": {
                    "event": "finished",
                    "status": "succeeded",
                    "name": "github.com/a/b",
                    "target": "production",
                },
                "builds": {"branch": "master"},
            },
        ),
        (
            "git: {repository: github.com/a/b}",
            {
                "git": {"event": "push", "repository": "github.com/a/b", "branch": "master|main"},
                "builds": {"branch": "master"},
            },
        ),
        ("docker: {image: golang}", {"docker": {"image": "golang"}, "builds": {"branch": "master"}}),
        ("cron: {schedule: '*/5 * * * *'}", {"cron": {"schedule": "*/5 * * * *"}, "builds": {"branch": "master"}}),
        ("pubsub: {project: p, topic: t}", {"pubsub": {"project": "p", "topic": "t"}, "builds": {"branch": "master"}}),
        (
            "github: {events: [push]}",
            {"github": {"events": ["push"], "repository": "self"}, "builds": {"branch": "master"}},
        ),
        (
            "bitbucket: {events: ['repo:push'], repository: bitbucket.org/a/b}",
            {"bitbucket": {"events": ["repo:push"], "repository": "bitbucket.org/a/b"}, "builds": {"branch": "master"}},
        ),
        (
            "{name: upstream, pipeline: {name: self, event: started}, builds: {branch: develop}}",
            {
                "name": "upstream",
                "pipeline": {"event": "started", "status": "succeeded", "name": "self", "branch": "master|main"},
                "builds": {"branch": "develop"},
            },
        ),
    ],
)
def test_it_defaults_build_triggers(trigger: str, expected: dict[str, Any]) -> None:
    # given a top-level trigger
    manifest = load(f"triggers:\n- {trigger}\n{A_STAGE}")

    # when defaults are applied
    # then the filter and the builds action have Estafette's defaults
    assert [trigger.to_dict() for trigger in manifest.triggers] == [expected]


def test_it_defaults_the_build_branch_from_the_preferences() -> None:
    # given a server whose default branch is main
    preferences = ManifestPreferences(default_branch="main")

    # when a build trigger without builds is loaded
    manifest = load(f"triggers:\n- git: {{repository: github.com/a/b}}\n{A_STAGE}", preferences)

    # then it rebuilds main
    assert manifest.triggers[0].builds is not None
    assert manifest.triggers[0].builds.branch == "main"


@pytest.mark.parametrize(
    ("trigger", "expected_releases"),
    [
        ("pipeline: {name: github.com/a/b}", {"target": "staging", "version": "latest"}),
        ("pipeline: {name: self}", {"target": "staging", "version": "same"}),
        ("release: {name: self, target: development}", {"target": "staging", "version": "same"}),
        ("release: {name: github.com/a/b, target: development}", {"target": "staging", "version": "latest"}),
        (
            "{pipeline: {name: self}, releases: {version: current, action: deploy-canary}}",
            {"target": "staging", "action": "deploy-canary", "version": "current"},
        ),
        ("{cron: {schedule: '0 10 * * *'}, releases: {target: elsewhere}}", {"target": "staging", "version": "latest"}),
    ],
)
def test_it_defaults_release_triggers_to_release_their_own_target(
    trigger: str, expected_releases: dict[str, str]
) -> None:
    # given a release trigger
    text = f"{A_STAGE}releases:\n  staging:\n    triggers:\n    - {trigger}\n"

    # when defaults are applied
    manifest = load(text)

    # then the releases action targets the enclosing release, with Estafette's version default
    assert manifest.releases[0].triggers[0].to_dict()["releases"] == expected_releases


@pytest.mark.parametrize(
    ("trigger", "expected_runs"),
    [
        ("github: {events: [issues]}", {"bot": "triage", "branch": "master"}),
        (
            "{cron: {schedule: '0 10 * * *'}, runs: {bot: other, branch: develop}}",
            {"bot": "triage", "branch": "develop"},
        ),
    ],
)
def test_it_defaults_bot_triggers_to_run_their_own_bot(trigger: str, expected_runs: dict[str, str]) -> None:
    # given a bot trigger
    text = f"{A_STAGE}bots:\n  triage:\n    triggers:\n    - {trigger}\n"

    # when defaults are applied
    manifest = load(text)

    # then the runs action runs the enclosing bot
    assert manifest.bots[0].triggers[0].to_dict()["runs"] == expected_runs


def test_it_resolves_self_in_all_triggers() -> None:
    # given build, release and bot triggers that refer to their own pipeline
    text = """\
        triggers:
        - pipeline: {name: self}
        stages:
          build:
            image: golang
        releases:
          staging:
            triggers:
            - release: {name: self, target: development}
            - pipeline: {name: github.com/estafette/other}
        bots:
          triage:
            triggers:
            - github: {events: [issues]}
            - bitbucket: {events: ['repo:push']}
        """

    # when all triggers are collected for the pipeline
    triggers = load(text).all_triggers("github.com/estafette/estafette-ci-manifest")

    # then self is replaced everywhere, other names are left alone, and the order is build, release, bot
    this = "github.com/estafette/estafette-ci-manifest"
    assert [trigger.pipeline.name for trigger in triggers if trigger.pipeline] == [this, "github.com/estafette/other"]
    assert [trigger.release.name for trigger in triggers if trigger.release] == [this]
    assert [trigger.github.repository for trigger in triggers if trigger.github] == [this]
    assert [trigger.bitbucket.repository for trigger in triggers if trigger.bitbucket] == [this]
    assert [next(iter(trigger.to_dict())) for trigger in triggers] == [
        "pipeline",
        "release",
        "pipeline",
        "github",
        "bitbucket",
    ]


def test_it_returns_no_triggers_for_a_manifest_without_any() -> None:
    # given a manifest without triggers
    # when all triggers are collected
    # then there are none
    assert load(A_STAGE).all_triggers("github.com/a/b") == []
