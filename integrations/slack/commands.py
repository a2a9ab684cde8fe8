"""What ``/estafette`` does, as the Slack user who typed it: found by email, authorized by the policy table.

Slack names a user by id; ``users.info`` gives their email, and the Estafette user with that email (an active one,
compared ignoring case) is who asks. Each command is then authorized by the rule of the API route that does the same
thing (``estafette.access.permissions.refusal_for`` over ``estafette.policy``): ``encrypt`` by
``POST /api/manifest/encrypt``'s (a secret for every pipeline is an administrator's, one for a pipeline needs a role
on it), ``release`` by ``POST …/releases``'s. The answer is the text of an ephemeral message (only the user sees it):
the envelope, the release asked for, or why not.

A release is not created here (an integration never writes a run): it is published as a request that the trigger
layer fulfils as this user (``triggers.requests``), under an id derived from Slack's request, so a replayed command
is the same request; whether it was made is then told through the command's ``response_url``.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import get_user_model

from builder.secrets import SecretError
from estafette.access.audit import audit_record
from estafette.access.models import ActorKind
from estafette.access.permissions import refusal_for
from estafette.access.principal import Principal, user_principal
from estafette.access.scopes import pipeline_scope
from estafette.lib.crypt import secret_encrypt
from integrations.intake import IntakeEvent, submit
from integrations.slack.client import SlackClient, SlackError, slack_client
from integrations.slack.webhook import Encrypt, Release, SlashCommand, Usage, parse_text
from triggers.requests import RELEASE_REQUESTS, ReleaseRequest

logger = logging.getLogger(__name__)


class Refused(Exception):
    """The command is not done; the message (shown to the Slack user) says why."""


def slash_answer(*, command: SlashCommand, body: bytes, client: SlackClient | None = None) -> str:
    """Do ``command`` as its user and say what happened (the ephemeral message's text)."""
    try:
        asked = parse_text(command.text)
    except Usage as usage:
        return str(usage)
    try:
        email, principal = _who(command, client)
        if isinstance(asked, Encrypt):
            return _encrypt(asked, email=email, principal=principal)
        return _release(asked, email=email, principal=principal, body=body, response_url=command.response_url)
    except Refused as refusal:
        return str(refusal)


def _who(command: SlashCommand, client: SlackClient | None) -> tuple[str, Principal]:
    """The email and principal of the Estafette user who typed the command; ``Refused`` saying why there is none."""
    try:
        slack_user = (client or slack_client()).user(command.user_id)
    except SlackError as error:
        logger.warning("cannot look up Slack user %s: %s", command.user_id, error)
        raise Refused(f"Estafette cannot ask Slack who you are ({error}); try again later") from None
    if slack_user.deleted or slack_user.is_bot:
        raise Refused("Only people can use /estafette")
    if not slack_user.email:
        raise Refused("Slack does not show your email to Estafette: the Slack app needs the users:read.email scope")
    users = list(get_user_model().objects.filter(email__iexact=slack_user.email, is_active=True)[:2])
    if not users:
        raise Refused(f"No Estafette user has your Slack email {slack_user.email}: sign in to Estafette once first")
    if len(users) > 1:
        raise Refused(f"Several Estafette users have the email {slack_user.email}: ask an administrator to fix that")
    return slack_user.email, user_principal(users[0])


def _encrypt(asked: Encrypt, *, email: str, principal: Principal) -> str:
    refusal = refusal_for(
        principal, url_name="manifest-encrypt", method="POST", data={"pipelineAllowList": asked.pipeline}
    )
    if refusal is not None:
        raise Refused(f"You may not do this: {refusal}")
    try:
        envelope = secret_encrypt(value=asked.value, allow_list=asked.pipeline)
    except SecretError as error:
        raise Refused(f"--pipeline: {error}") from None
    audit_record(
        actor_kind=ActorKind.USER,
        actor=email,
        action="ci.secrets.encrypt",
        object_type="secret",
        object_id=asked.pipeline or "*",
        method="POST",
        path="/api/integrations/slack/slash",
    )
    scope = f"the pipeline {asked.pipeline}" if asked.pipeline else "every pipeline"
    return f"The secret, for {scope} (paste it into .estafette.yaml):\n```{envelope}```"


def _release(asked: Release, *, email: str, principal: Principal, body: bytes, response_url: str) -> str:
    source, owner, name = asked.pipeline.split("/")
    if pipeline_scope(source, owner, name) is None:
        raise Refused(f"There is no pipeline {asked.pipeline}")
    refusal = refusal_for(
        principal,
        url_name="pipeline-releases",
        method="POST",
        path={"source": source, "owner": owner, "name": name},
    )
    if refusal is not None:
        raise Refused(f"You may not do this: {refusal}")
    # Whether the release was made is told later, through the command's response_url (checked again when used).
    reply = f"slack:{response_url}" if response_url.startswith(settings.SLACK_RESPONSE_URL_PREFIX) else ""
    request = ReleaseRequest(
        pipeline=asked.pipeline, target=asked.target, version=asked.version, user=email, reply=reply
    )
    # Slack's body names the invocation (its trigger_id): a replay of the same signed request is the same release.
    request_id = f"slack-release-{hashlib.sha256(body).hexdigest()[:40]}"
    submit([IntakeEvent(subject=RELEASE_REQUESTS, payload=request.to_dict(), id=request_id)])
    logger.info("release of %s %s to %s asked for by %s on Slack", asked.pipeline, asked.version, asked.target, email)
    return (
        f"Releasing {asked.version} of {asked.pipeline} to {asked.target} as {email}: "
        f"{settings.BASE_URL}/pipelines/{asked.pipeline}/releases (you will be told here when it starts or why not)"
    )
