"""The API's documentation page, rendered on the server from the OpenAPI schema.

django-ninja's own pages load Swagger UI or ReDoc from a CDN and run inline scripts: neither
reaches the Internet from every deployment, and the portal's Content-Security-Policy (nonces,
no inline script, no third-party origin) refuses both. This page lists each operation, its
parameters and its answers as plain DSFR HTML in the portal's layout: no script at all, readable
without JavaScript, and the schema itself one link away.
"""

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI

METHODS = ("get", "post", "put", "patch", "delete")


def _type_of(schema: dict[str, Any]) -> str:
    """A short reading of a parameter's JSON schema: its type, format, pattern or choices."""
    if "anyOf" in schema:
        return " | ".join(_type_of(part) for part in schema["anyOf"] if part.get("type") != "null")
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    kind = str(schema.get("type", ""))
    if "format" in schema:
        kind += f" ({schema['format']})"
    return kind


def operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The operations of an OpenAPI schema, in its order, as rows for the page."""
    rows = []
    components = schema.get("components", {}).get("schemas", {})
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = []
            for parameter in operation.get("parameters", []):
                parameter_schema = parameter.get("schema", {})
                if "$ref" in parameter_schema:
                    parameter_schema = components.get(parameter_schema["$ref"].rsplit("/", 1)[-1], {})
                parameters.append(
                    {
                        "name": parameter["name"],
                        "where": parameter.get("in", ""),
                        "required": parameter.get("required", False),
                        "type": _type_of(parameter_schema),
                        "description": parameter.get("description")
                        or parameter_schema.get("description", ""),
                    }
                )
            rows.append(
                {
                    "anchor": operation.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "secured": bool(operation.get("security")),
                    "parameters": parameters,
                    "responses": sorted(operation.get("responses", {})),
                }
            )
    return rows


class ServerRenderedDocs(DocsBase):
    def render_page(self, request: HttpRequest, api: "NinjaAPI", **kwargs: Any) -> HttpResponse:
        schema = api.get_openapi_schema(path_params=kwargs)
        return render(
            request,
            "api/docs.html",
            {
                "title": _("Documentation de l'API de lecture"),
                "schema_url": self.get_openapi_url(api, kwargs),
                "api_title": schema["info"]["title"],
                "api_description": schema["info"].get("description", ""),
                "operations": operations(schema),
            },
        )
