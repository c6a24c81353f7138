#!/usr/bin/env python3
"""Write the small synthetic rating set in data/sample/ (NOT MovieLens data).

It has the shape of MovieLens "latest" (ratings.csv: userId,movieId,rating,
timestamp with ratings 0.5..5 in half steps; movies.csv: movieId,title,genres
with quoted titles) so every loader and command can be tried without a
download, and its ratings come from a planted low-rank model plus noise, so a
matrix-factorization trainer has something real to learn.

Deterministic: a fixed seed and only random.random()/random.gauss(), whose
sequences Python keeps stable across versions.  Run from anywhere:

    python3 tools/make_sample.py            # writes data/sample/
    python3 tools/make_sample.py --out DIR
"""
import argparse
import csv
import math
import os
import random
import sys

SEED = 20240601
N_USERS = 600
N_ITEMS = 1000
RANK = 4
MEAN_RATINGS_PER_USER = 100
GLOBAL_MEAN = 3.5
NOISE_SD = 0.45

GENRES = ["Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
          "Thriller", "War", "Western"]
ADJECTIVES = ["Silent", "Crimson", "Last", "Hidden", "Electric", "Frozen", "Golden", "Lonely",
              "Midnight", "Broken", "Distant", "Wild", "Paper", "Iron", "Velvet", "Hollow"]
NOUNS = ["Harbor", "Orchard", "Signal", "Garden", "Empire", "River", "Letter", "Machine",
         "Summer", "Lantern", "Circus", "Frontier", "Mirror", "Station", "Kingdom", "Voyage"]


def pick(rng, seq):
    return seq[int(rng.random() * len(seq))]


def make_titles(rng):
    """Unique made-up titles; some end in ", The" (so CSV must quote them)
    and one carries double quotes, as MovieLens titles do."""
    titles, seen = [], set()
    while len(titles) < N_ITEMS:
        name = f"{pick(rng, ADJECTIVES)} {pick(rng, NOUNS)}"
        if rng.random() < 0.3:
            name += f" of the {pick(rng, NOUNS)}"
        if rng.random() < 0.15:
            name = f"{name}, The"
        year = 1950 + int(rng.random() * 70)
        title = f"{name} ({year})"
        if title not in seen:
            seen.add(title)
            titles.append(title)
    titles[41] = 'Midnight "Echo" Protocol, The (1994)'
    return titles


def make_genres(rng, factors):
    """One to three genres, led by the latent dimension the item leans on,
    so genres carry some of the same signal as the ratings."""
    lead = max(range(RANK), key=lambda k: abs(factors[k]))
    first = GENRES[(lead * 4 + (factors[lead] > 0) * 2) % len(GENRES)]
    chosen = [first]
    for _ in range(int(rng.random() * 3)):
        g = pick(rng, GENRES)
        if g not in chosen:
            chosen.append(g)
    return "|".join(chosen)


def half_step(x):
    return min(5.0, max(0.5, round(x * 2) / 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "data", "sample"))
    args = ap.parse_args()
    rng = random.Random(SEED)

    user_f = [[rng.gauss(0, 0.55) for _ in range(RANK)] for _ in range(N_USERS)]
    item_f = [[rng.gauss(0, 0.55) for _ in range(RANK)] for _ in range(N_ITEMS)]
    user_b = [rng.gauss(0, 0.35) for _ in range(N_USERS)]
    item_b = [rng.gauss(0, 0.45) for _ in range(N_ITEMS)]
    # Popularity: a few items get most ratings, as in real logs.
    weight = [1.0 / (1 + i) ** 0.6 for i in range(N_ITEMS)]
    order = list(range(N_ITEMS))
    for k in range(N_ITEMS - 1, 0, -1):
        j = int(rng.random() * (k + 1))
        order[k], order[j] = order[j], order[k]
    item_weight = [0.0] * N_ITEMS
    for rank, item in enumerate(order):
        item_weight[item] = weight[rank]
    cumulative, total = [], 0.0
    for w in item_weight:
        total += w
        cumulative.append(total)

    def draw_item():
        x = rng.random() * total
        lo, hi = 0, N_ITEMS - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cumulative[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    rows = []
    sq_noise = sq_total = 0.0
    for u in range(N_USERS):
        n = max(20, int(-math.log(1 - rng.random()) * MEAN_RATINGS_PER_USER))
        n = min(n, N_ITEMS // 2)
        items = set()
        while len(items) < n:
            items.add(draw_item())
        t = 1_000_000_000 + int(rng.random() * 500_000_000)
        for i in sorted(items):
            planted = GLOBAL_MEAN + user_b[u] + item_b[i] + sum(
                a * b for a, b in zip(user_f[u], item_f[i]))
            r = half_step(planted + rng.gauss(0, NOISE_SD))
            sq_noise += (r - half_step(planted)) ** 2
            sq_total += (r - GLOBAL_MEAN) ** 2
            t += 1 + int(rng.random() * 4000)
            rows.append((u + 1, i + 1, r, t))

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "synthetic-ratings.csv"), "w", newline="", encoding="utf-8") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for u, i, r, t in rows:
            f.write(f"{u},{i},{r:.1f},{t}\n")
    titles = make_titles(rng)
    with open(os.path.join(args.out, "synthetic-movies.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["movieId", "title", "genres"])
        for i in range(N_ITEMS):
            w.writerow([i + 1, titles[i], make_genres(rng, item_f[i])])
    n = len(rows)
    print(f"{n} ratings, {N_USERS} users, {N_ITEMS} items; RMSE of the planted model "
          f"{math.sqrt(sq_noise / n):.3f}, of the global mean {math.sqrt(sq_total / n):.3f}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
