"""The channel layer's choice, measured (docs/ARCHITECTURE.md, "Real time"): channels_redis's
RedisChannelLayer against its RedisPubSubChannelLayer on a private Valkey (socialsite's embedded
one), for the traffic the site sends: a group per user with a socket or a few in it, each push a
group send to one or two users. For each layer it times group sends (each awaited, as
socialsite.realtime sends them) and the delivery to the member sockets (send → receive).

    python bench/channel_layers.py [--groups 500] [--members 2] [--sends 2000]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels_redis.core import RedisChannelLayer  # noqa: E402
from channels_redis.pubsub import RedisPubSubChannelLayer  # noqa: E402

from bench.common import percentile, print_table  # noqa: E402
from socialsite import embedded_valkey  # noqa: E402

LAYERS = [RedisChannelLayer, RedisPubSubChannelLayer]


async def measure(layer_class, url, args):
    layer = layer_class(hosts=[url], prefix=f"bench{time.monotonic_ns()}")
    members = {}
    for group in range(args.groups):
        members[group] = [await layer.new_channel() for _ in range(args.members)]
        for channel in members[group]:
            await layer.group_add(f"user.{group}", channel)
    sends, deliveries = [], []
    started = time.perf_counter()
    for number in range(args.sends):
        group = number % args.groups
        sent = time.perf_counter()
        await layer.group_send(f"user.{group}", {"type": "push", "sent": sent})
        sends.append((time.perf_counter() - sent) * 1000)
        for channel in members[group]:
            message = await layer.receive(channel)
            deliveries.append((time.perf_counter() - message["sent"]) * 1000)
    elapsed = time.perf_counter() - started
    if hasattr(layer, "flush"):
        await layer.flush()
    return {
        "layer": layer_class.__name__,
        "sends_per_s": args.sends / elapsed,
        "send_p50_ms": statistics.median(sends),
        "send_p95_ms": percentile(sends, 0.95),
        "delivery_p50_ms": statistics.median(deliveries),
        "delivery_p95_ms": percentile(deliveries, 0.95),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=500, help="users with sockets (500)")
    parser.add_argument("--members", type=int, default=2, help="sockets per user (2)")
    parser.add_argument("--sends", type=int, default=2000, help="group sends per layer (2000)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="valkey-") as directory,
        embedded_valkey.running(Path(directory) / "v.sock") as url,
    ):
        results = [asyncio.run(measure(layer, url, args)) for layer in LAYERS]
    print(
        f"\n{args.groups} groups of {args.members} sockets, {args.sends} group sends each "
        f"awaited, embedded Valkey on a unix socket\n"
    )
    print_table(
        [
            ("layer", "26"),
            ("sends/s", ">9.0f"),
            ("send p50 ms", ">12.3f"),
            ("send p95 ms", ">12.3f"),
            ("deliv. p50 ms", ">14.3f"),
            ("deliv. p95 ms", ">14.3f"),
        ],
        [
            [
                r["layer"],
                r["sends_per_s"],
                r["send_p50_ms"],
                r["send_p95_ms"],
                r["delivery_p50_ms"],
                r["delivery_p95_ms"],
            ]
            for r in results
        ],
    )


if __name__ == "__main__":
    main()
