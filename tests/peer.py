"""A second process making API calls against the test's own database and cache, standing in
for another gunicorn worker (tests/test_shared_cache.py). Usage: python -m tests.peer CALLS_JSON,
where CALLS_JSON is a list of [method, path, data]; prints the list of response bodies."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.test import Client  # noqa: E402


def main():
    client = Client()
    bodies = [
        getattr(client, method)(path, data).json() for method, path, data in json.loads(sys.argv[1])
    ]
    print(json.dumps(bodies))


if __name__ == "__main__":
    main()
