"""Who may call what: the rule of every route and method of the API, in one table.

``estafette.access.permissions.Authorized`` (DRF's default permission) applies it to every request; a route or
method missing here is refused with 403, and the authorization matrix test (tests/security/test_access_matrix.py),
which walks every operation of the OpenAPI document, fails until its rule is added. The rules are Estafette's
(ESTAFETTE.md §3.2) with one deliberate difference: creating and canceling builds, releases and bot runs, and
encrypting a pipeline's secret, need a pipeline role (Estafette lets any logged-in user do them).
"""

from __future__ import annotations

from estafette.access.rules import (
    Anyone,
    OnPipeline,
    OnPipelineInBody,
    OwnCredential,
    Permitted,
    Rule,
    SignedIn,
    SignedInComputation,
)

# Keys: (URL name, HTTP method). Runs of every kind share their views (runs.views.run_urlpatterns); their routes are
# named pipeline-<kind>… with the kinds' names.
RUN_KINDS = {"build": "builds", "release": "releases", "bot": "bots"}

POLICY: dict[tuple[str, str], Rule] = {
    # -- signing in and out
    ("auth-login", "POST"): Anyone("auth.login", audited=False),
    ("auth-logout", "POST"): Anyone("auth.logout", audited=False),
    ("auth-logout", "GET"): Anyone("auth.logout", audited=False),
    ("auth-providers", "GET"): Anyone("auth.providers", audited=False),
    ("auth-provider-login", "GET"): Anyone("auth.login", audited=False),
    ("auth-provider-handle", "GET"): Anyone("auth.login", audited=False),
    ("auth-client-login", "POST"): Anyone("auth.client.login", audited=False),
    ("auth-client-logout", "POST"): Anyone("auth.client.logout", audited=False),
    ("me", "GET"): SignedIn("auth.me"),
    # -- pipelines and their runs: reads for anyone signed in (lists narrowed to what the caller may see)
    ("pipelines", "GET"): SignedIn("ci.pipelines.list"),
    ("pipeline", "GET"): SignedIn("ci.pipelines.get"),
    ("pipeline-recent-builds", "GET"): SignedIn("ci.builds.list"),
    ("pipeline-build-version", "GET"): SignedIn("ci.builds.get"),
    # Replaying a build locally (builds.replay): its job's configuration without secrets, for the pipeline's viewers.
    ("pipeline-build-replay", "GET"): OnPipeline("ci.builds.get"),
    ("manifest-encrypt", "POST"): OnPipelineInBody("ci.secrets.encrypt", field="pipelineAllowList"),
    # -- the builder's reports: the job token of the run in the path, checked by the view (runs.api)
    ("builder-status", "POST"): OwnCredential("ci.runs.report", audited=False, credential="job token"),
    ("builder-logs", "POST"): OwnCredential("ci.runs.report", audited=False, credential="job token"),
    ("builder-end", "POST"): OwnCredential("ci.runs.report", audited=False, credential="job token"),
    # -- webhooks: each intake's shared secret, checked by the intake (integrations.intake)
    ("integrations-git-events", "POST"): OwnCredential("ci.events.git", credential="integration:git"),
    ("integrations-pubsub-events", "POST"): OwnCredential("ci.events.pubsub", credential="integration:pubsub"),
    ("integrations-docker-events", "POST"): OwnCredential("ci.events.docker", credential="integration:docker"),
    ("integrations-github-events", "POST"): OwnCredential("ci.events.github", credential="integration:github"),
    # the Bitbucket Connect app: each request's JWT, of the installation's shared secret, checked by the view
    # (integrations.bitbucket.api); its descriptor is public, as Bitbucket fetches it to install the app
    ("integrations-bitbucket-events", "POST"): OwnCredential("ci.events.bitbucket", credential="integration:bitbucket"),
    ("integrations-bitbucket-installed", "POST"): OwnCredential(
        "ci.integrations.bitbucket.install", credential="integration:bitbucket"
    ),
    ("integrations-bitbucket-uninstalled", "POST"): OwnCredential(
        "ci.integrations.bitbucket.uninstall", credential="integration:bitbucket"
    ),
    ("integrations-bitbucket-descriptor", "GET"): Anyone("ci.integrations.bitbucket.descriptor", audited=False),
    # Google's OIDC token of the push subscription (audience and service account), checked by the intake.
    ("integrations-cloudsource-events", "POST"): OwnCredential(
        "ci.events.cloudsource", credential="integration:cloudsource"
    ),
    # Slack's signing secret; each command is then authorized as its Slack user by the rule of the route that does the
    # same (manifest-encrypt, pipeline-releases: integrations.slack.commands).
    ("integrations-slack-slash", "POST"): OwnCredential("ci.events.slack", credential="integration:slack"),
    # -- Estafette's read routes around pipelines (its web UI's pages): reads for anyone signed in
    ("pipeline-build-branches", "GET"): SignedIn("ci.builds.list"),
    ("pipeline-bot-names", "GET"): SignedIn("ci.bots.list"),
    ("pipeline-warnings", "GET"): SignedIn("ci.pipelines.get"),
    ("pipeline-build-warnings", "GET"): SignedIn("ci.builds.get"),
    ("release-targets-pipelines", "GET"): SignedIn("ci.pipelines.list"),
    ("release-targets-releases", "GET"): SignedIn("ci.releases.list"),
    ("labels-frequent", "GET"): SignedIn("ci.pipelines.list"),
    ("catalog-filters", "GET"): SignedIn("catalog.filters.list"),
    ("catalog-filter-values", "GET"): SignedIn("catalog.filters.list"),
    # Catalog entities, as Estafette: anyone signed in lists them (its list checks no permission); reading one and
    # every change need the permission, which catalog.entities.viewer (reads) and catalog.entities.admin grant.
    ("catalog-entities", "GET"): SignedIn("catalog.entities.list"),
    ("catalog-entities", "POST"): Permitted("catalog.entities.create"),
    ("catalog-entity", "GET"): Permitted("catalog.entities.get"),
    ("catalog-entity", "PUT"): Permitted("catalog.entities.update"),
    ("catalog-entity", "DELETE"): Permitted("catalog.entities.delete"),
    ("stats-pipelines-count", "GET"): SignedIn("ci.stats.get"),
    # The log search (runs.search_views): its lines come only from the pipelines the caller may see.
    ("logs-search", "GET"): SignedIn("ci.logs.search"),
    # Delivery insights (releases.insights_views): computed only from the pipelines the caller may see.
    ("insights-dora", "GET"): SignedIn("ci.insights.get"),
    # Right-sizing hints of a pipeline (runs.hints_views): statistics, as the pipeline's other charts.
    ("pipeline-stats-hints", "GET"): SignedIn("ci.stats.get"),
    ("migrations-from-repo", "GET"): SignedIn("ci.migrations.get"),
    ("migrations-build", "GET"): SignedIn("ci.migrations.get"),
    ("migrations-release", "GET"): SignedIn("ci.migrations.get"),
    # The non-secret configuration, redacted (estafette.config_api): signed-in callers, never anonymous visitors
    # (the view refuses them even with anonymous reads on).
    ("config", "GET"): SignedIn("config.get"),
    ("config-credentials", "GET"): SignedIn("config.get"),
    ("config-trusted-images", "GET"): SignedIn("config.get"),
    ("config-build-control", "GET"): SignedIn("config.get"),
    # Manifest tools: they answer and store nothing.
    ("manifest-templates", "GET"): SignedIn("ci.manifest.templates"),
    ("manifest-generate", "POST"): SignedInComputation("ci.manifest.generate"),
    ("manifest-validate", "POST"): SignedInComputation("ci.manifest.validate"),
    # -- RBAC (administrator, or the *.viewer / *.admin role of the kind)
    ("roles", "GET"): Permitted("rbac.roles.list"),
    ("audit", "GET"): Permitted("audit.list"),
    ("admin-pipelines", "GET"): Permitted("ci.pipelines.update"),
    ("admin-pipeline", "GET"): Permitted("ci.pipelines.update"),
    ("admin-pipeline", "PUT"): Permitted("ci.pipelines.update"),
    ("admin-batch", "POST"): Permitted("rbac.batch"),
    ("admin-batch-pipelines", "POST"): Permitted("rbac.batch"),
    ("client-secret", "POST"): Permitted("rbac.clients.update"),
}

for _plural, _singular in (
    ("users", "user"),
    ("groups", "group"),
    ("organizations", "organization"),
    ("clients", "client"),
):
    POLICY |= {
        (_plural, "GET"): Permitted(f"rbac.{_plural}.list"),
        (_plural, "POST"): Permitted(f"rbac.{_plural}.create"),
        (_singular, "GET"): Permitted(f"rbac.{_plural}.get"),
        (_singular, "PUT"): Permitted(f"rbac.{_plural}.update"),
        (_singular, "DELETE"): Permitted(f"rbac.{_plural}.delete"),
    }

for _kind, _segment in RUN_KINDS.items():
    POLICY |= {
        (_segment, "GET"): SignedIn(f"ci.{_segment}.list"),
        (f"pipeline-{_segment}", "GET"): SignedIn(f"ci.{_segment}.list"),
        (f"pipeline-{_kind}", "GET"): SignedIn(f"ci.{_segment}.get"),
        (f"pipeline-{_kind}-logs", "GET"): SignedIn(f"ci.{_segment}.get"),
        (f"pipeline-{_kind}-tail", "GET"): SignedIn(f"ci.{_segment}.get"),
        (f"pipeline-{_kind}-alllogs", "GET"): SignedIn(f"ci.{_segment}.get"),
        (f"pipeline-{_kind}-log-by-id", "GET"): SignedIn(f"ci.{_segment}.get"),
        (f"pipeline-{_kind}-logs-tail", "GET"): SignedIn(f"ci.{_segment}.get"),
        (f"pipeline-{_kind}", "DELETE"): OnPipeline(f"ci.{_segment}.cancel"),
        # A builder posts the run's whole log (Estafette's BuildLog) with the run's job token, checked by the view.
        (f"pipeline-{_kind}-logs", "POST"): OwnCredential("ci.runs.report", audited=False, credential="job token"),
        # Statistics of the kind's runs: every pipeline's (stats/<segment>…) and one pipeline's (…/stats/…).
        **{
            (f"stats-{_segment}-{view}", "GET"): SignedIn("ci.stats.get")
            for view in (
                "RunCountApi",
                "RunTotalDurationApi",
                "RunAdoptionApi",
                "MostRunsApi",
                "PipelineRunDurationsApi",
                "PipelineRunCpuApi",
                "PipelineRunMemoryApi",
            )
        },
    }
# Each kind's command on …/<segment>: rebuild a build, create a release, run a bot.
POLICY |= {
    ("pipeline-builds", "POST"): OnPipeline("ci.builds.rebuild"),
    ("pipeline-releases", "POST"): OnPipeline("ci.releases.create"),
    ("pipeline-bots", "POST"): OnPipeline("ci.bots.create"),
}
