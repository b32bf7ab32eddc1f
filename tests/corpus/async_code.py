"""Async code: async def, await, async for, async with, async generators and comprehensions."""

import asyncio


class Resource:
    async def __aenter__(self):
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc):
        return False


async def ticker(limit):
    for i in range(limit):
        await asyncio.sleep(0)
        yield i


async def fetch(value):
    await asyncio.sleep(0)
    if value < 0:
        raise ValueError(value)
    return value * 2


async def gather_all():
    async with Resource() as res:
        results = [await fetch(i) async for i in ticker(3)]
    async for tick in ticker(2):
        if tick > 5:
            break
    else:
        results.append("no break")
    try:
        await fetch(-1)
    except ValueError:
        results.append("caught")
    return res, results


async def never_awaited():
    await asyncio.sleep(0)
    return "never"


def main():
    asyncio.run(gather_all())
