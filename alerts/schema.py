"""OpenAPI post-processing for the alerts endpoints (see SPECTACULAR_SETTINGS)."""


def require_alert_body(result, generator, request, public):
    """`POST /alerts` takes one of several shapes, given as a raw schema, which drf-spectacular
    marks optional; a body is required."""
    body = result.get("paths", {}).get("/alerts", {}).get("post", {}).get("requestBody")
    if body is not None:
        body["required"] = True
    return result
