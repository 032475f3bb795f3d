"""Replays the persistent sparse kernel's item schedule (session 15).

Input: the dump that h100-2026-11-24-s15-timeline-probe.patch writes with VS_TRACE=path (the
first persistent launch: per CTA its items' clock, globaltimer, key tiles, rows and index).
Each item's cost comes from the probe's fit at Wan 1.3B (clocks = 3980 + 2951 x key tiles for a
tile of > 64 rows, 4550 + 2000 x key tiles for <= 64 rows, at 1.75 GHz); 132 CTAs take items in
the given order, each the next one as it frees (the kernel's counter). Prints the span and the
mean idle at the end for the kernel's order and for other orders.
    python3 h100-2026-11-24-s15-schedule-sim.py items.bin
The dumps of session 15 (Wan 1.3B, old order) replay at 57.9 us mean idle for the 13% point
(measured in that launch: 3.18% of a 1943 us span, 62 us), 8.4 us at 24% and 72.4 us at 50%.
"""
import heapq
import struct
import sys

import numpy as np

CTAS_MAX, ITEMS_MAX, FIELDS = 160, 128, 6  # the probe's record layout


def load(path):
    b = open(path, "rb").read()
    ctas = struct.unpack("i", b[:4])[0]
    off = 4
    cnt = np.frombuffer(b, np.int32, CTAS_MAX, off)
    off += CTAS_MAX * 4 + CTAS_MAX * 4 * 8  # counts, then per-CTA start/end times
    rec = np.frombuffer(b, np.int64, CTAS_MAX * ITEMS_MAX * FIELDS, off)
    rec = rec.reshape(CTAS_MAX, ITEMS_MAX, FIELDS)
    items = np.concatenate([rec[c, : cnt[c]] for c in range(ctas)])
    return items[np.argsort(items[:, 4])]  # in claim order


items = load(sys.argv[1])
tiles = items[:, 2].astype(float)
rows = items[:, 3]
# Each head's items come longest key list first: a head starts where the length goes up.
head = np.concatenate([[0], np.cumsum(tiles[1:] > tiles[:-1])])
H = head[-1] + 1
cost = np.where(rows <= 64, 4550 + 2000 * tiles, 3980 + 2951 * tiles) / 1.75e3  # us


def replay(order, ctas=132):
    free = [(0.0, c) for c in range(ctas)]
    ends = np.zeros(ctas)
    for i in order:
        t, c = heapq.heappop(free)
        ends[c] = t + cost[i]
        heapq.heappush(free, (ends[c], c))
    return ends.max(), (ends.max() - ends).mean()


print("heads %d, items %d, key tiles per item (min, 25%%, median, 75%%, max): %s"
      % (H, len(tiles), np.percentile(tiles, [0, 25, 50, 75, 100])))
print("work per CTA %.1f us, longest item %.1f us" % (cost.sum() / 132, cost.max()))
print("head after head:        span %.1f us, mean idle at the end %.1f us"
      % replay(np.arange(len(tiles))))
for merged in (2, 3, 4):
    last = np.where(head >= H - merged)[0]
    order = np.concatenate([np.where(head < H - merged)[0],
                            last[np.argsort(-tiles[last], kind="stable")]])
    print("last %d heads as one:    span %.1f us, mean idle at the end %.1f us"
          % ((merged,) + replay(order)))
print("all items longest first: span %.1f us, mean idle at the end %.1f us"
      % replay(np.argsort(-cost, kind="stable")))
