"""OAuth 2.0 with Fortnox in three modes: authorization code, client credentials, host managed."""

from fortnox_connector.auth.oauth import FortnoxOAuth, new_state, parse_scope, utc_now
from fortnox_connector.auth.providers import (
    HOST_TOKEN_ENV,
    AuthorizationCodeTokens,
    ClientCredentialsTokens,
    FixedToken,
    HostManagedTokens,
    LockingTokenStore,
    OnRefresh,
    adopt_refresh_token,
    connect_tenant,
    token_lock_name,
)

__all__ = [
    "HOST_TOKEN_ENV",
    "AuthorizationCodeTokens",
    "ClientCredentialsTokens",
    "FixedToken",
    "FortnoxOAuth",
    "HostManagedTokens",
    "LockingTokenStore",
    "OnRefresh",
    "adopt_refresh_token",
    "connect_tenant",
    "new_state",
    "parse_scope",
    "token_lock_name",
    "utc_now",
]
