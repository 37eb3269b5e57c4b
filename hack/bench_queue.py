"""Work queue throughput: adds + gets per second with 1, 4 and 16 worker threads.

A producer thread adds each of N keys R times (round-robin, so many adds land on
keys that are queued or being processed and are deduplicated); workers get and
done until the queue is shut down and drained. Prints a table; not a test.

    .venv/bin/python hack/bench_queue.py [--keys 10000] [--repeats 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from kubedirector.controller.queue import RateLimitingQueue


def run_once(keys: int, repeats: int, workers: int, metrics: bool) -> tuple[int, int, float]:
    """One run: (adds, gets, seconds)."""
    queue: RateLimitingQueue[str] = RateLimitingQueue(f"bench-{workers}", metrics=metrics)
    names = [f"namespace/cluster-{i}" for i in range(keys)]
    gets = [0] * workers

    def work(slot: int) -> None:
        while True:
            key, shutdown = queue.get()
            if shutdown:
                return
            assert key is not None  # not shut down: get() blocked until a key came
            gets[slot] += 1
            queue.done(key)

    def produce() -> None:
        for _ in range(repeats):
            for name in names:
                queue.add(name)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    produce()
    queue.shutdown()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return keys * repeats, sum(gets), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="adds per key")
    parser.add_argument("--rounds", type=int, default=3, help="runs per row; the median is shown")
    args = parser.parse_args()

    print(f"{args.keys} keys x {args.repeats} adds, median of {args.rounds} runs")
    print(f"{'workers':>7} {'metrics':>7} {'adds':>7} {'gets':>7} {'seconds':>8} {'ops/s':>9}")
    for metrics in (False, True):
        for workers in (1, 4, 16):
            runs = [run_once(args.keys, args.repeats, workers, metrics) for _ in range(args.rounds)]
            adds, gets, seconds = sorted(runs, key=lambda r: r[2])[len(runs) // 2]
            ops = statistics.median((a + g) / s for a, g, s in runs)
            print(
                f"{workers:>7} {'on' if metrics else 'off':>7} {adds:>7} {gets:>7} "
                f"{seconds:>8.3f} {ops:>9,.0f}"
            )


if __name__ == "__main__":
    main()
