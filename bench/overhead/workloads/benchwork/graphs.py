"""Graph search on a deterministic weighted grid with shortcuts: breadth-first search and Dijkstra with a heap."""

from __future__ import annotations

import heapq
import random
from collections import deque

Graph = dict[int, list[tuple[int, int]]]


def grid_graph(width: int, height: int, seed: int, shortcuts: int) -> Graph:
    """Nodes 0..w*h-1 on a grid, edges to the four neighbours with weights 1..9, plus random long edges."""
    rng = random.Random(seed)
    graph: Graph = {node: [] for node in range(width * height)}
    for y in range(height):
        for x in range(width):
            node = y * width + x
            if x + 1 < width:
                w = rng.randrange(1, 10)
                graph[node].append((node + 1, w))
                graph[node + 1].append((node, w))
            if y + 1 < height:
                w = rng.randrange(1, 10)
                graph[node].append((node + width, w))
                graph[node + width].append((node, w))
    for _ in range(shortcuts):
        a, b = rng.randrange(width * height), rng.randrange(width * height)
        if a != b:
            w = rng.randrange(20, 60)
            graph[a].append((b, w))
            graph[b].append((a, w))
    return graph


def bfs(graph: Graph, source: int) -> dict[int, int]:
    """Hop counts from `source` to every reachable node."""
    hops = {source: 0}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        next_hops = hops[node] + 1
        for neighbour, _ in graph[node]:
            if neighbour not in hops:
                hops[neighbour] = next_hops
                queue.append(neighbour)
    return hops


def dijkstra(graph: Graph, source: int) -> tuple[dict[int, int], dict[int, int]]:
    """Shortest distances from `source` and the predecessor of each node on its shortest path."""
    dist = {source: 0}
    previous: dict[int, int] = {}
    heap = [(0, source)]
    done: set[int] = set()
    while heap:
        d, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        for neighbour, weight in graph[node]:
            candidate = d + weight
            if candidate < dist.get(neighbour, 1 << 60):
                dist[neighbour] = candidate
                previous[neighbour] = node
                heapq.heappush(heap, (candidate, neighbour))
    return dist, previous


def path(previous: dict[int, int], source: int, target: int) -> list[int]:
    nodes = [target]
    while nodes[-1] != source:
        nodes.append(previous[nodes[-1]])
    nodes.reverse()
    return nodes
