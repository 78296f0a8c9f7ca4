"""Generated item sequences with planted structure, for tests and demos.

Items fall into ``clusters`` groups; every user has a home cluster and each event is, with
probability ``stay``, an item of the home cluster (Zipf-like popularity inside the cluster) and
otherwise an item of any cluster. Cluster sizes differ, so the most popular items overall come
from a few clusters and a popularity ranking serves most users badly, while item vectors that
recover the clusters predict a user's next item well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlantedEvents:
    """Events ``(user, item, timestamp)`` and the planted cluster of every item and user."""

    events: list[tuple[str, str, int]]
    item_cluster: dict[str, int]
    user_cluster: dict[str, int]


def planted_events(users: int = 300, clusters: int = 6, seed: int = 0, stay: float = 0.9,
                   min_length: int = 6, max_length: int = 20) -> PlantedEvents:
    """Events of ``users`` users, each a time-ordered sequence of ``min_length..max_length``
    events over clustered items (item ids ``c{cluster}_i{k}``, timestamps in seconds)."""
    rng = np.random.default_rng(seed)
    sizes = [8 + 4 * (c % 3) for c in range(clusters)]
    items = [[f"c{c}_i{k}" for k in range(size)] for c, size in enumerate(sizes)]
    within = [1.0 / np.arange(1, size + 1) for size in sizes]
    within = [w / w.sum() for w in within]
    cluster_weight = np.array(sizes, dtype=np.float64) ** 2
    cluster_weight /= cluster_weight.sum()
    events: list[tuple[str, str, int]] = []
    user_cluster: dict[str, int] = {}
    for u in range(users):
        user = f"u{u:04d}"
        home = int(rng.choice(clusters, p=cluster_weight))
        user_cluster[user] = home
        t = int(rng.integers(1_600_000_000, 1_700_000_000))
        for _ in range(int(rng.integers(min_length, max_length + 1))):
            c = home if rng.random() < stay else int(rng.integers(0, clusters))
            item = items[c][int(rng.choice(sizes[c], p=within[c]))]
            t += int(rng.integers(1, 600))
            events.append((user, item, t))
    item_cluster = {i: c for c, group in enumerate(items) for i in group}
    return PlantedEvents(events, item_cluster, user_cluster)
