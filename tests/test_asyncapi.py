"""docs/asyncapi.yaml (AsyncAPI 3) describes /ws and every frame: each frame type the consumer
sent in this test run (tests/conftest.py records them) is one of its messages, and so is each
frame of API.md's "Real time" section."""

from pathlib import Path

import pytest
import yaml
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from accounts.models import AuthToken
from socialsite.asgi import application
from tests.factories import SENT_FRAME_TYPES

DOCUMENT = yaml.safe_load(
    (Path(__file__).resolve().parent.parent / "docs" / "asyncapi.yaml").read_text()
)


def described_types():
    messages = DOCUMENT["components"]["messages"]
    return {message["payload"]["properties"]["type"]["const"] for message in messages.values()}


def test_the_document_is_asyncapi_3_for_ws():
    assert DOCUMENT["asyncapi"].startswith("3.")
    assert DOCUMENT["channels"]["ws"]["address"] == "/ws"
    channel_messages = DOCUMENT["channels"]["ws"]["messages"]
    assert set(channel_messages) == set(DOCUMENT["components"]["messages"])
    for operation in DOCUMENT["operations"].values():
        assert operation["action"] in {"send", "receive"}
        for reference in operation["messages"]:
            assert reference["$ref"].removeprefix("#/channels/ws/messages/") in channel_messages


def test_every_frame_of_the_contract_is_described():
    assert described_types() == {
        "auth",
        "ping",
        "ready",
        "pong",
        "error",
        "message",
        "read",
        "recall",
        "notice",
    }


@pytest.mark.after_all
@pytest.mark.django_db(transaction=True)
def test_every_frame_the_consumer_sent_is_described(user):
    """Last of the run: the frames the other tests made the consumer send, and, so that this
    test alone checks something too, one of each kind the consumer itself makes."""
    key = AuthToken.objects.issue(user)

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws", headers=[(b"authorization", f"Bearer {key}".encode())]
        )
        assert (await communicator.connect())[0]
        assert (await communicator.receive_json_from())["type"] == "ready"
        await communicator.send_json_to({"type": "ping"})
        assert (await communicator.receive_json_from())["type"] == "pong"
        await communicator.send_json_to({"type": "what"})
        assert (await communicator.receive_json_from())["type"] == "error"
        await communicator.disconnect()

    async_to_sync(scenario)()
    assert {"ready", "pong", "error"} <= SENT_FRAME_TYPES
    assert SENT_FRAME_TYPES - described_types() == set()
