#!/usr/bin/env python3
"""The seed article's aiohttp client, for bench/js/cli-native.mjs.

"Making 100 million requests with Python aiohttp" (/work/shared/seeds/003):
N GETs of one URL with at most LIMIT in flight, through its
`limited_as_completed` — start LIMIT coroutines, then, each time one is
wanted, poll (yielding to the loop with `sleep(0)`) until one of them is
done, replace it with the next from the generator and hand back its result —
each body read to the end. Written anew here (same algorithm, modern asyncio);
the connector may open LIMIT connections (aiohttp's default of 100 would cap
the scenario at a tenth of its in-flight count).

    python3 bench/py/aiohttp_seed.py URL N [LIMIT]

Prints one JSON line: {"contender", "requests", "errors", "seconds"}.
"""
import asyncio
import json
import sys
import time
from itertools import islice

import aiohttp


def limited_as_completed(coros, limit):
    """Yield awaitables, each giving the result of the next coroutine to finish."""
    running = [asyncio.ensure_future(c) for c in islice(coros, 0, limit)]

    async def next_done():
        while True:
            await asyncio.sleep(0)
            for fut in running:
                if fut.done():
                    running.remove(fut)
                    more = next(coros, None)
                    if more is not None:
                        running.append(asyncio.ensure_future(more))
                    return fut.result()

    while running:
        yield next_done()


async def fetch(session, url):
    try:
        async with session.get(url) as response:
            await response.read()
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def main(url, n, limit):
    errors = 0
    connector = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=connector) as session:
        coros = (fetch(session, url) for _ in range(n))
        for result in limited_as_completed(coros, limit):
            if not await result:
                errors += 1
    return errors


if __name__ == "__main__":
    base, n = sys.argv[1], int(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    t0 = time.perf_counter()
    errors = asyncio.run(main(f"{base}/hello", n, limit))
    print(json.dumps({"contender": "aiohttp", "requests": n, "errors": errors,
                      "seconds": time.perf_counter() - t0}))
