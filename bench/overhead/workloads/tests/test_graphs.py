from benchwork.graphs import bfs, dijkstra, grid_graph, path


def test_graph_search_bfs_and_dijkstra_agree_on_reachability():
    graph = grid_graph(WIDTH, WIDTH, seed=3, shortcuts=WIDTH * 4)
    nodes = len(graph)
    for source in SOURCES:
        hops = bfs(graph, source)
        dist, previous = dijkstra(graph, source)
        assert len(hops) == len(dist) == nodes
        far = max(dist, key=dist.__getitem__)
        route = path(previous, source, far)
        assert route[0] == source and route[-1] == far
        assert len(route) - 1 >= hops[far]
        assert sum(w for a, b in zip(route, route[1:]) for n, w in graph[a] if n == b) >= dist[far]


WIDTH = 120
SOURCES = tuple(range(0, 14_400, 1_200))
