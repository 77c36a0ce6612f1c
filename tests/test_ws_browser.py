"""/ws from a real browser (issue 14): Chromium on a web chat page of another origin signs in,
opens the socket, authenticates with its first frame (a browser cannot set the handshake's
headers) and draws the message another user sent over HTTP; a page of an origin the site does
not allow is refused at the handshake; one of the site's own origin is allowed. The site runs as
`make run` serves it (tests/live.py), on a real channel layer."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser import NEEDS_CHROMIUM, serving_page
from tests.factories import PASSWORD, befriend
from tests.live import login, post, serving

pytestmark = [
    *NEEDS_CHROMIUM,
    # The live server needs a transactional test, which empties the database when it ends:
    # serialized rollback puts the migrations' rows (the moderators group) back.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ALICE, BOB = "alice@example.com", "bob@example.com"

# A chat screen as a browser client writes it: the token from /login, the socket opened without
# one, the `auth` frame first, and each `message` frame drawn as an item of the list.
CHAT_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>chat</title></head><body>
<p id="status">offline</p>
<ul id="messages"></ul>
<script>
const chat = {opened: false};

async function signIn(api, email, password) {
  const login = await fetch(api + "/login", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({email: email, pass: password}),
  }).then((response) => response.json());
  return login.data.token;
}

function show(status) {
  document.getElementById("status").textContent = status;
}

function openChat(wsUrl, token) {
  const socket = new WebSocket(wsUrl);
  socket.onopen = () => {
    chat.opened = true;
    socket.send(JSON.stringify({type: "auth", token: token}));
  };
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "ready") {
      show("ready " + frame.email);
    } else if (frame.type === "message") {
      const item = document.createElement("li");
      item.dataset.id = frame.data.id;
      for (const field of ["sender", "msg"]) {
        const part = document.createElement("span");
        part.className = field;
        part.textContent = frame.data[field];
        item.append(part);
      }
      document.getElementById("messages").append(item);
    }
  };
  socket.onerror = () => show("error");
  socket.onclose = (event) => show("closed " + event.code);
}
</script>
</body></html>"""


@pytest.fixture(scope="module")
def allowed_origin():
    """The chat page's origin, the one in the site's CORS_ALLOWED_ORIGINS."""
    with serving_page(CHAT_PAGE) as origin:
        yield origin


@pytest.fixture(scope="module")
def foreign_origin():
    """The same page from an origin the site does not list."""
    with serving_page(CHAT_PAGE) as origin:
        yield origin


@pytest.fixture
def site(real_channel_layer, allowed_origin):
    """The site's origin: gunicorn as `make run` starts it, which allows the chat page's origin."""
    environment = {"CORS_ALLOWED_ORIGINS": allowed_origin}
    with serving(*real_channel_layer, extra_env=environment) as process:
        yield f"http://127.0.0.1:{process.port}"


def port_of(origin):
    return int(origin.rsplit(":", 1)[1])


@pytest.fixture
def friends(user, bob):
    """alice and bob, each in the other's list: they may message each other."""
    befriend(user, bob)
    befriend(bob, user)


class ChatScreen:
    """The chat page in a browser context of its own, with every frame its sockets received (as
    the browser saw them on the wire) and every socket error the browser reported."""

    def __init__(self, browser):
        self.context = browser.new_context()
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.frames, self.socket_errors = [], []
        # Attached as the socket is made, so that no frame can come before the listener.
        self.page.on("websocket", self.watch)
        self.status = self.page.locator("#status")

    def watch(self, socket):
        socket.on("framereceived", lambda payload: self.frames.append(json.loads(payload)))
        socket.on("socketerror", lambda error: self.socket_errors.append(error))

    def open_chat(self, site, *, token=None):
        """openChat on `site`'s /ws with `token`, or with one the page signs in for (alice's)."""
        self.page.evaluate(
            """async ([site, wsUrl, token, email, password]) =>
                openChat(wsUrl, token || await signIn(site, email, password))""",
            [site, "ws" + site.removeprefix("http") + "/ws", token, ALICE, PASSWORD],
        )


@pytest.fixture
def open_screen(browser):
    """open_screen() → a new ChatScreen; all are closed when the test ends."""
    screens = []

    def open_one():
        screens.append(ChatScreen(browser))
        return screens[-1]

    yield open_one
    for screen in screens:
        screen.context.close()


def test_the_chat_page_shows_a_message_sent_over_http(open_screen, site, allowed_origin, friends):
    screen = open_screen()
    screen.page.goto(allowed_origin)
    screen.open_chat(site)
    expect(screen.status).to_have_text(f"ready {ALICE}")

    bob_token = login(port_of(site), BOB)
    sent = {"email": BOB, "femail": ALICE, "msg": "晚上好, alice"}
    answer = post(port_of(site), "/send_msg", sent, bob_token)
    assert answer["status"] == 8001

    item = screen.page.locator("#messages li")
    expect(item).to_have_count(1)
    expect(item.locator(".sender")).to_have_text(BOB)
    expect(item.locator(".msg")).to_have_text("晚上好, alice")
    expect(item).to_have_attribute("data-id", str(answer["data"]["id"]))
    # On the wire: the pushed frame carries the Message just as /send_msg answered it.
    assert screen.frames == [
        {"type": "ready", "email": ALICE},
        {"type": "message", "data": answer["data"]},
    ]
    assert screen.socket_errors == []


def test_a_page_of_an_origin_not_allowed_is_refused_and_the_sites_own_is_not(
    open_screen, site, foreign_origin, user
):
    """The same page with the same token on two origins: only the origin stops the socket. (The
    foreign page could not sign in itself: the browser blocks its cross-origin fetch.)"""
    token = login(port_of(site), ALICE)
    foreign = open_screen()
    foreign.page.goto(foreign_origin)
    foreign.open_chat(site, token=token)
    expect(foreign.status).to_have_text("closed 1006")
    assert foreign.page.evaluate("chat.opened") is False
    assert foreign.socket_errors == [
        "Error during WebSocket handshake: Unexpected response code: 403"
    ]
    assert foreign.frames == []

    # The site serves no chat page: the page is written into a document the site served.
    # (Playwright's route.fulfill would not do: Chromium gives such a page no address, so its
    # local network access checks block the socket to 127.0.0.1 before any handshake.)
    own = open_screen()
    own.page.goto(f"{site}/healthz")
    own.page.set_content(CHAT_PAGE.decode())
    assert own.page.evaluate("location.origin") == site
    own.open_chat(site, token=token)
    expect(own.status).to_have_text(f"ready {ALICE}")
    assert own.frames == [{"type": "ready", "email": ALICE}]
