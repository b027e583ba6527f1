"""Credentials for the Hermes API server and the dashboard's basic-auth login.

Everything random comes from pulumi-random resources, so it is generated once, kept (encrypted) in the
stack's state and stable across updates. The password hash is computed from the stored password and a
stored salt, so an update recomputes the SAME hash: no Secret churn, no needless pod restart.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_random as random

# Hermes 0.19.0, plugins/dashboard_auth/basic/__init__.py: hash_password() writes
# "scrypt$<n>$<r>$<p>$<base64 salt>$<base64 key>" with n=2**14, r=8, p=1, a 32-byte key and a
# 16-byte salt; _verify_password() reads n, r, p and the key length back from the string.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_BYTES, SCRYPT_SALT_BYTES = 2**14, 8, 1, 32, 16


def scrypt_password_hash(password: str, salt: bytes) -> str:
    """The dashboard's `password_hash` format, for a salt chosen by the caller (deterministic)."""
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_KEY_BYTES, maxmem=0
    )
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), base64.b64encode(salt).decode(), base64.b64encode(key).decode()]
    )


@dataclass(frozen=True)
class HermesCredentials:
    api_server_key: pulumi.Output[str]
    dashboard_password: pulumi.Output[str]
    dashboard_password_hash: pulumi.Output[str]
    dashboard_signing_secret: pulumi.Output[str]


def generate_credentials(
    name: str, parent: pulumi.Resource, api_server_key: pulumi.Input[str] | None
) -> HermesCredentials:
    """Random credentials as Pulumi secrets; a user-supplied API key replaces the generated one."""
    opts = pulumi.ResourceOptions(parent=parent)
    if api_server_key is None:
        # 32 random bytes as 64 hex characters: Hermes refuses short or placeholder keys.
        api_server_key = random.RandomBytes(f"{name}-api-server-key", length=32, opts=opts).hex
    password = random.RandomPassword(f"{name}-dashboard-password", length=32, special=False, opts=opts)
    salt = random.RandomBytes(f"{name}-dashboard-password-salt", length=SCRYPT_SALT_BYTES, opts=opts)
    # Signs dashboard session tokens; without a stable one every restart logs everybody out.
    signing = random.RandomBytes(f"{name}-dashboard-signing-secret", length=32, opts=opts)
    password_hash = pulumi.Output.all(password.result, salt.base64).apply(
        lambda values: scrypt_password_hash(values[0], base64.b64decode(values[1]))
    )
    return HermesCredentials(
        api_server_key=pulumi.Output.secret(api_server_key),
        dashboard_password=pulumi.Output.secret(password.result),
        dashboard_password_hash=pulumi.Output.secret(password_hash),
        dashboard_signing_secret=pulumi.Output.secret(signing.hex),
    )
