"""Build versions: Estafette's semver/custom algorithm, label tidying and release branches (ESTAFETTE.md §1.5)."""

from __future__ import annotations

import pytest

from builder.manifest import CustomVersion, SemverVersion, Version, load_manifest
from builder.manifest.version import compute_version, counter_from_version

REVISION = "219aae19153da2b20ac1d88e2fd68e0a20274be2"
SIXTY_FOUR = "a" * 20 + "-" + "b" * 20 + "-" + "c" * 22


def semver(**overrides: object) -> Version:
    values: dict[str, object] = {"major": 5, "minor": 3, "patch": "6", "label_template": "{{branch}}"}
    values["release_branch"] = ("master",)
    values.update(overrides)
    return Version(semver=SemverVersion(**values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "counter", "branch", "expected"),
    [
        (semver(label_template="whateveryoulike"), 6, "feature", "5.3.6-whateveryoulike"),
        (semver(patch="{{auto}}", label_template="whateveryoulike"), 16, "feature", "5.3.16-whateveryoulike"),
        (semver(), 6, "feature/foo", "5.3.6-feature-foo"),
        (semver(), 6, "HOTFIX_production_deploy", "5.3.6-hotfix-production-deploy"),
        (semver(), 6, "123-HOTFIX_production_deploy", "5.3.6-branch-123-hotfix-production-deploy"),
        (semver(), 6, SIXTY_FOUR, "5.3.6-" + SIXTY_FOUR[:63]),
        (semver(), 6, "-x-", "5.3.6-x"),
        (semver(), 6, "a---b", "5.3.6-a--b"),
        (semver(), 6, "a+b", "5.3.6-a-43-b"),  # html/template escapes + as &#43;
        (semver(), 6, "master", "5.3.6"),
        (semver(release_branch=("release/.+",)), 6, "release/abc", "5.3.6"),
        (semver(release_branch=("release/[0-9]+",)), 6, "release/abc", "5.3.6-release-abc"),
        (semver(release_branch=(" master ", "main")), 6, "main", "5.3.6"),
        # anchored as Estafette writes it, ^master|main$ without a group: "starts with master or ends with main"
        (semver(release_branch=("master|main",)), 6, "mastery", "5.3.6"),
        (semver(release_branch=("master|main",)), 6, "domain", "5.3.6"),
        (semver(release_branch=("master|main",)), 6, "mainline", "5.3.6-mainline"),
        (semver(release_branch=("main",)), 6, "main\n", "5.3.6-main"),  # Go's (and RE2's) $ is the end of the text
        (semver(release_branch=("rel(",)), 6, "rel(", "5.3.6-rel"),  # an invalid pattern never matches
        (semver(label_template="{{revision}}"), 6, "feature", f"5.3.6-revision-{REVISION}"),
        (semver(label_template="1abc"), 6, "feature", "5.3.6-label-1abc"),
        (semver(label_template="{{ branch }}"), 6, "1.2", "5.3.6-branch-1-2"),
        (semver(label_template="---"), 6, "feature", "5.3.6"),  # nothing left of the label
        (semver(patch="{{nope}}"), 6, "master", '5.3.template: version:1: function "nope" not defined'),
        (Version(custom=CustomVersion(label_template="whateveryoulike")), 5, "b", "whateveryoulike"),
        (Version(custom=CustomVersion(label_template="{{auto}}")), 5, "b", "5"),
        (Version(custom=CustomVersion(label_template="{{branch}}")), 5, "feature/x", "feature/x"),
        (Version(custom=CustomVersion(label_template="{{revision}}")), 5, "b", REVISION),
        (Version(custom=CustomVersion(label_template="{{auto}")), 5, "b", "template: version:1: unclosed action"),
    ],
)
def test_it_computes_versions_as_estafette_does(version: Version, counter: int, branch: str, expected: str) -> None:
    # given a version section, a counter, a branch and a revision
    # when the build version is computed
    computed = compute_version(version, counter=counter, branch=branch, revision=REVISION)

    # then it is Estafette's version string
    assert computed.version == expected


def test_it_gives_the_parts_of_a_semver_version() -> None:
    # given the default semver version on a feature branch
    version = Version(semver=SemverVersion(major=1, minor=2))

    # when it is computed
    computed = compute_version(version, counter=7, branch="Feature/X", revision=REVISION)

    # then the patch carries the label, and the label is tidied
    assert computed.version == "1.2.7-feature-x"
    assert (computed.major, computed.minor, computed.patch, computed.label, computed.counter) == (
        1,
        2,
        "7-feature-x",
        "feature-x",
        7,
    )


def test_it_keeps_the_tidied_label_on_a_release_branch() -> None:
    # given the default semver version on master
    # when it is computed
    computed = compute_version(Version(semver=SemverVersion()), counter=3, branch="master", revision=REVISION)

    # then the version has no label but the label is still reported
    assert (computed.version, computed.label) == ("0.0.3", "master")


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("", Version(semver=SemverVersion())),
        ("version:\n  semver:\n    major: 1\n", Version(semver=SemverVersion(major=1))),
        ("version:\n  custom:\n    labelTemplate: ''\n", Version(custom=CustomVersion())),
        (
            "version:\n  semver:\n    releaseBranch: [master, production]\n",
            Version(semver=SemverVersion(release_branch=("master", "production"))),
        ),
        ("version:\n  semver:\n    releaseBranch: main\n", Version(semver=SemverVersion(release_branch=("main",)))),
        ("version:\n  semver: {}\n  custom: {}\n", Version(custom=CustomVersion())),
    ],
)
def test_it_defaults_the_version_section(yaml: str, expected: Version) -> None:
    # given a manifest with (or without) a version section
    text = yaml + "stages:\n  build:\n    image: golang\n"

    # when it is loaded
    manifest = load_manifest(text)

    # then the version has Estafette's defaults
    assert manifest.version == expected


@pytest.mark.parametrize(
    ("version_string", "version", "expected"),
    [
        ("1.2.34", Version(semver=SemverVersion()), 34),
        ("1.2.34-feature-x", Version(semver=SemverVersion()), 34),
        ("1.2.34-Feature", Version(semver=SemverVersion()), None),
        ("garbage", Version(semver=SemverVersion()), None),
        ("17", Version(custom=CustomVersion()), 17),
        ("abc17", Version(custom=CustomVersion()), None),
    ],
)
def test_it_recovers_the_counter_from_a_version(version_string: str, version: Version, expected: int | None) -> None:
    # given a version string built earlier
    # when its counter is recovered
    # then it is the number the build used, or None
    assert counter_from_version(version_string, version) == expected
