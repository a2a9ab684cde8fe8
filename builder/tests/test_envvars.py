"""The environment of stage and service containers: Estafette's variable set and precedence."""

import pytest

from builder.contracts import BuilderConfig
from builder.envvars import builder_env, container_env, dns_safe, expand_references, trigger_env, upper_snake
from builder.manifest.extensions import extension_env
from builder.secrets import decrypt_envelopes_leniently, encrypt, parse_key
from builder.tests.test_contracts import make_config_json


def test_it_sets_estafettes_variables_for_a_release() -> None:
    # given a release configuration with labels and a fired manual trigger
    config = BuilderConfig.from_dict(make_config_json())
    # when the builder's variables are derived
    env = builder_env(config, started_at="2024-05-01T10:00:00Z", labels={"app": "api", "team-name": "core"})
    # then the documented set is there
    assert env["ESTAFETTE_GIT_SOURCE"] == "github.com"
    assert env["ESTAFETTE_GIT_OWNER"] == "acme"
    assert env["ESTAFETTE_GIT_NAME"] == "api"
    assert env["ESTAFETTE_GIT_FULLNAME"] == "acme/api"
    assert env["ESTAFETTE_GIT_BRANCH"] == "main"
    assert env["ESTAFETTE_GIT_BRANCH_DNS_SAFE"] == "main"
    assert env["ESTAFETTE_GIT_REVISION"] == "a" * 40
    assert env["ESTAFETTE_BUILD_VERSION"] == "1.2.3"
    assert env["ESTAFETTE_BUILD_VERSION_MAJOR"] == "1"
    assert env["ESTAFETTE_BUILD_VERSION_MINOR"] == "2"
    assert env["ESTAFETTE_BUILD_VERSION_PATCH"] == "3"  # the counter, not the patch string
    assert env["ESTAFETTE_BUILD_CURRENT_COUNTER"] == "3"
    assert env["ESTAFETTE_BUILD_DATETIME"] == "2024-05-01T10:00:00Z"
    assert env["ESTAFETTE_RELEASE_NAME"] == "production"
    assert env["ESTAFETTE_RELEASE_ACTION"] == "deploy"
    assert env["ESTAFETTE_RELEASE_ID"] == "77"
    assert env["ESTAFETTE_RELEASE_TRIGGERED_BY"] == "me@example.com"
    assert env["ESTAFETTE_CI_SERVER_BASE_URL"] == "https://ci"
    assert env["ESTAFETTE_LABEL_APP"] == "api"
    assert env["ESTAFETTE_LABEL_TEAM_NAME"] == "core"
    assert env["ESTAFETTE_TRIGGER_MANUAL_USER_ID"] == "me@example.com"
    assert "ESTAFETTE_BUILD_ID" not in env and "ESTAFETTE_BOT_NAME" not in env


def test_it_sets_trigger_variables_for_fired_and_named_events() -> None:
    events = [
        {"fired": True, "git": {"event": "push", "repository": "github.com/acme/lib", "branch": "main"}},
        {
            "name": "upstream",
            "fired": False,
            "pipeline": {"buildVersion": "2.0.1", "repoName": "lib", "status": "succeeded"},
        },
        {"fired": True, "pubsub": {"project": "p", "topic": "t", "message": {"data": "x", "attributes": {"a": "b"}}}},
    ]
    env = trigger_env(events)
    assert env["ESTAFETTE_TRIGGER_GIT_BRANCH"] == "main"
    assert env["ESTAFETTE_TRIGGER_GIT_REPOSITORY"] == "github.com/acme/lib"
    assert env["ESTAFETTE_TRIGGER_UPSTREAM_BUILD_VERSION"] == "2.0.1"
    assert env["ESTAFETTE_TRIGGER_UPSTREAM_REPO_NAME"] == "lib"
    assert "ESTAFETTE_TRIGGER_PIPELINE_BUILD_VERSION" not in env  # not fired
    assert env["ESTAFETTE_TRIGGER_PUB_SUB_MESSAGE"] == '{"data":"x","attributes":{"a":"b"}}'


@pytest.mark.parametrize(
    ("branch", "safe"),
    [
        ("feature/Foo_bar", "feature-foo-bar"),
        ("123-hotfix", "hotfix"),
        ("--x--", "x"),
        ("a" * 70, "a" * 63),
        ("release/" + "b" * 60 + "-z", ("release-" + "b" * 60)[:63]),
    ],
)
def test_it_makes_branch_names_dns_safe(branch: str, safe: str) -> None:
    assert dns_safe(branch) == safe


def test_it_converts_names_to_upper_snake_case() -> None:
    assert upper_snake("repoName") == "REPO_NAME"
    assert upper_snake("userID") == "USER_ID"
    assert upper_snake("app-group") == "APP_GROUP"
    assert upper_snake("pubsub") == "PUBSUB"


def test_it_layers_variables_in_estafettes_precedence() -> None:
    # given the same names at every level
    env = container_env(
        builder={
            "ESTAFETTE_GIT_BRANCH": "main",
            "ESTAFETTE_X": "builder",
            "A": "builder",
            "B": "builder",
            "C": "builder",
        },
        manifest_env={"A": "manifest", "B": "manifest", "C": "manifest", "ESTAFETTE_X": "manifest"},
        own_env={"B": "stage", "C": "stage"},
        extension={"C": "extension"},
    )
    # then the last layer wins
    assert (env["A"], env["B"], env["C"], env["ESTAFETTE_X"]) == ("manifest", "stage", "extension", "manifest")


def test_it_decrypts_and_expands_values_after_layering() -> None:
    # given a stage env with a secret and references
    key = parse_key("SazbwMf3NZxVVbBqQHebPcXCqrVn3DDp")
    secret = encrypt("s3cr3t-password", key=key, allow_list="github.com/acme/api")

    def decrypt(value: str) -> str:
        return decrypt_envelopes_leniently(value, key=key, pipeline="github.com/acme/api")[0]

    env = container_env(
        builder={"ESTAFETTE_GIT_BRANCH": "main", "ESTAFETTE_BUILD_VERSION": "1.0.0"},
        manifest_env={"IMAGE": "repo/app:${ESTAFETTE_BUILD_VERSION}"},
        own_env={"PASSWORD": secret, "TAG": "$ESTAFETTE_GIT_BRANCH-${HOME}", "MISSING": "[${ESTAFETTE_NOPE}]", "N": 5},  # type: ignore[dict-item]
        extension={},
        decrypt=decrypt,
    )
    # then secrets are plain, ESTAFETTE_* references expanded, others left alone, scalars as text
    assert env["PASSWORD"] == "s3cr3t-password"
    assert env["IMAGE"] == "repo/app:1.0.0"
    assert env["TAG"] == "main-${HOME}"
    assert env["MISSING"] == "[]"
    assert env["N"] == "5"


def test_it_passes_custom_properties_as_extension_variables() -> None:
    # given the manifest library's extension variables for a stage's custom properties
    extension = extension_env({"repositories": ["a", "b"], "no-cache": True, "depth": 5}, {"STAGE": "env"})
    env = container_env(builder={}, manifest_env={}, own_env={"STAGE": "env"}, extension=extension)
    # then they reach the container
    assert env["ESTAFETTE_EXTENSION_REPOSITORIES"] == "a,b"
    assert env["ESTAFETTE_EXTENSION_NO_CACHE"] == "true"
    assert env["ESTAFETTE_EXTENSION_DEPTH"] == "5"
    assert '"env":{"STAGE":"env"}' in env["ESTAFETTE_EXTENSION_CUSTOM_PROPERTIES"]


def test_it_expands_only_estafette_references() -> None:
    assert expand_references("${ESTAFETTE_A}/$ESTAFETTE_A/$PATH/${B}", {"ESTAFETTE_A": "x"}) == "x/x/$PATH/${B}"
