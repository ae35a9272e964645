"""Prepare the test provider's database: tables, an RSA signing key, users and the portal's client.

Run once per test module, before the server starts:
`python -m tests.oidc_provider.prepare '<json>'` with DJANGO_SETTINGS_MODULE=tests.oidc_provider.settings,
the JSON giving `users` ([{username, password, email, first_name, last_name}]) and `client`
({client_id, client_secret, redirect_uri, post_logout_redirect_uri}).
"""

import json
import sys


def main(raw: str) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from oidc_provider.models import Client, ResponseType

    config = json.loads(raw)
    call_command("migrate", verbosity=0)
    call_command("creatersakey")
    for user in config["users"]:
        User.objects.create_user(**user)
    client = Client.objects.create(
        name="Fabriques de territoires",
        client_type="confidential",
        client_id=config["client"]["client_id"],
        client_secret=config["client"]["client_secret"],
        jwt_alg="RS256",
        # A consent page at each login: the last step at the provider before the browser is sent
        # back, which the tests can hold (a form's request, where a redirect could not be held).
        require_consent=True,
        reuse_consent=False,
    )
    client.redirect_uris = [config["client"]["redirect_uri"]]
    client.post_logout_redirect_uris = [config["client"]["post_logout_redirect_uri"]]
    client.save()
    client.response_types.add(ResponseType.objects.get(value="code"))


if __name__ == "__main__":
    main(sys.argv[1])
