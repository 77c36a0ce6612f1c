"""The OpenAPI description of the API: docs/openapi.yaml is the one source, read once per process
and served as JSON at /openapi.json (and shown by /docs)."""

import functools
import json

import yaml
from django.conf import settings

OPENAPI_YAML = settings.BASE_DIR / "docs" / "openapi.yaml"


@functools.cache
def document():
    """The description as a dict (YAML anchors and merge keys resolved)."""
    with OPENAPI_YAML.open(encoding="utf-8") as source:
        return yaml.safe_load(source)


@functools.cache
def document_json():
    """The description as UTF-8 JSON bytes, built once."""
    return json.dumps(document(), ensure_ascii=False).encode()
