"""The sign-in directory (Cognito): the agent's tools with minted credentials only, and the
web app's password sign-in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from agent_zero.domain.errors import (
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    UnavailableError,
)


class MintedCognito:
    """The Directory port on boto3's cognito-idp client."""

    def __init__(self, client: Any, *, user_pool_id: str) -> None:
        self._client = client
        self._pool = user_pool_id

    def create_user(self, *, email: str, name: str, group: str) -> None:
        """A new account (invitation suppressed: the sandbox sends no mail), in its group."""
        try:
            self._client.admin_create_user(
                UserPoolId=self._pool,
                Username=email,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                    {"Name": "name", "Value": name},
                ],
                MessageAction="SUPPRESS",
            )
            self._client.admin_add_user_to_group(
                UserPoolId=self._pool, Username=email, GroupName=group
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("AccessDeniedException", "AccessDenied"):
                raise PermissionDeniedError("creating accounts was not granted") from None
            if code in ("UsernameExistsException", "InvalidParameterException"):
                raise InvalidInputError("that account already exists or is not valid") from None
            raise UnavailableError(f"the directory refused ({code})") from None
        except BotoCoreError:
            raise UnavailableError("the directory could not be reached") from None


class MintedCognitoFactory:
    """Opens MintedCognito on given credentials."""

    def __init__(self, *, region: str, user_pool_id: str, endpoint_url: str | None = None) -> None:
        self._region = region
        self._pool = user_pool_id
        self._endpoint = endpoint_url

    def open(self, credentials: Mapping[str, str]) -> MintedCognito:
        """A client that signs only with these credentials."""
        client = boto3.client(
            "cognito-idp",
            region_name=self._region,
            endpoint_url=self._endpoint,
            aws_access_key_id=credentials["access_key_id"],
            aws_secret_access_key=credentials["secret_access_key"],
            aws_session_token=credentials["session_token"],
        )
        return MintedCognito(client, user_pool_id=self._pool)


class CognitoPasswordSignIn:
    """The web app's sign-in: USER_PASSWORD_AUTH against the pool's public app client.

    The call is unsigned, as from a browser: the server holds no AWS identity for it.
    """

    def __init__(self, client: Any, *, client_id: str) -> None:
        self._client = client  # an unsigned cognito-idp client built in wiring
        self._client_id = client_id

    def sign_in(self, username: str, password: str) -> str:
        """The user's access token; AuthenticationError for wrong credentials."""
        try:
            answer = self._client.initiate_auth(
                ClientId=self._client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except Exception as error:
            code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("NotAuthorizedException", "UserNotFoundException"):
                # One message for both: which usernames exist is not for strangers to learn.
                raise AuthenticationError("the username or password is wrong") from None
            if code == "PasswordResetRequiredException":
                raise AuthenticationError("this account must reset its password first") from None
            raise UnavailableError("sign-in is unavailable right now") from None
        if "AuthenticationResult" not in answer:
            # A challenge (a new password, MFA) the web app does not handle yet.
            raise AuthenticationError(
                "this account needs a step the web sign-in does not support "
                f"({answer.get('ChallengeName', 'a challenge')}); ask an administrator"
            )
        return str(answer["AuthenticationResult"]["AccessToken"])
