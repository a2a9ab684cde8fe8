from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: the models are loaded only once every app's config is.
        from integrations.bitbucket.forge import BitbucketForge
        from integrations.cloudsource.forge import CloudSourceForge
        from integrations.git.forge import GitForge
        from integrations.github.forge import GitHubForge
        from integrations.slack.notifier import SlackNotifier, SlackReplier
        from triggers.forges import register_forge
        from triggers.notifications import register_notifier
        from triggers.requests import register_replier

        register_forge("git", GitForge())
        register_forge("github", GitHubForge())
        register_forge("bitbucket", BitbucketForge())
        register_forge("cloudsource", CloudSourceForge())
        register_notifier("slack", SlackNotifier())
        register_replier("slack", SlackReplier())
