"""From the manifest library's stages (and their JSON) to what the runner executes."""

from builder.manifest import Stage, load_manifest
from builder.plan import ReadinessCheck, plan_stages

MANIFEST = """
stages:
  build:
    image: golang:1.22
    shell: /bin/bash
    commands:
    - go build ./...
    repositories: [a, b]
  integration:
    image: alpine
    commands: [./it.sh]
    services:
    - name: db
      image: postgres:16
      readiness:
        path: /health
        port: 8080
    - name: cache
      image: redis:7
      readinessProbe:
        exec:
          command: [redis-cli, ping]
        timeoutSeconds: 5
    - name: api.example.com
      image: nginx
      readinessProbe:
        httpGet:
          path: /ready
          port: 443
  shared:
    services:
    - name: broker
      image: nats
  checks:
    parallelStages:
      lint:
        image: alpine
        commands: [lint]
      unit:
        image: alpine
        when: status == 'failed'
        commands: [unit]
"""


def test_it_plans_stages_services_and_parallel_stages_from_a_manifest() -> None:
    # given a loaded manifest (defaults applied by the manifest library)
    manifest = load_manifest(MANIFEST)
    # when planned from the Stage objects and from their JSON (the builder configuration's form)
    plans = plan_stages(manifest.stages)
    from_json = plan_stages([stage.to_dict() for stage in manifest.stages])
    # then both agree and carry Estafette's defaults
    assert plans == from_json
    build, integration, shared, checks = plans
    assert (build.shell, build.work_dir, build.when) == ("/bin/bash", "/estafette-work", "status == 'succeeded'")
    assert build.custom_properties == {"repositories": ["a", "b"]}
    db, cache, api = integration.services
    assert db.readiness == ReadinessCheck(
        kind="http", scheme="http", port=8080, path="/health", host="db", timeout_seconds=60
    )
    assert cache.readiness == ReadinessCheck(kind="exec", command=("redis-cli", "ping"), timeout_seconds=5)
    assert api.readiness == ReadinessCheck(
        kind="http", scheme="https", port=443, path="/ready", host="api.example.com", timeout_seconds=60
    )
    assert not db.multi_stage  # its stage has an image
    assert shared.services[0].multi_stage  # a services-only stage
    assert [nested.name for nested in checks.parallel_stages] == ["lint", "unit"]
    assert checks.parallel_stages[1].when == "status == 'failed'"
    assert checks.shell == "" and checks.work_dir == ""  # wrappers are not defaulted


def test_it_defaults_a_hand_written_stage_list() -> None:
    (plan,) = plan_stages([{"name": "x", "image": "alpine", "commands": ["true"]}])
    assert (plan.shell, plan.work_dir, plan.when) == ("/bin/sh", "/estafette-work", "status == 'succeeded'")


def test_it_recognises_the_git_clone_stage() -> None:
    plans = plan_stages(
        [
            Stage(name="git-clone", image="extensions/git-clone:stable", auto_injected=True),
            Stage(name="git-clone", image="extensions/git-clone:dev"),
            Stage(name="clone", image="extensions/git-clone:stable"),
        ]
    )
    assert [plan.is_git_clone for plan in plans] == [True, True, False]
