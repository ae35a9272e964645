from typing import Any


def userinfo(claims: dict[str, Any], user: Any) -> dict[str, Any]:
    """The claims of the provider's users, as ProConnect gives them (e-mail, given name, usual name)."""
    claims["email"] = user.email
    claims["email_verified"] = True
    claims["given_name"] = user.first_name
    claims["family_name"] = user.last_name
    return claims
