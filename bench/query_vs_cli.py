#!/usr/bin/env python3
"""Benchmark: N rows through `POST /api/v1/query` to JSON, against the native CLI on the same
query (`psql --csv`, `sqlite3 -json`), measured in the same run. Prints time ratios and the
server's peak RSS after 10k-row and after 100k-row runs (flat memory = the two are close).

Usage: bench/query_vs_cli.py [--rows 100000] [--runs 5] [--binary target/release/querypad]
Needs: a release build (`cargo build --release`), psql and sqlite3 on PATH, and PostgreSQL
reachable as QUERYPAD_TEST_PG_URL (see scripts/test-services.sh).
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read()


def timed_pair(a, b, runs):
    """Median seconds of `a` and of `b`, run alternately `runs` times each."""
    ta, tb = [], []
    for _ in range(runs):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def rss_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/querypad"))
    args = ap.parse_args()
    pg_base = os.environ.get("QUERYPAD_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432")
    pg_url = pg_base.rstrip("/") + "/querypad_test"
    if not os.path.exists(args.binary):
        sys.exit(f"no binary at {args.binary}: run `cargo build --release` first")

    data = tempfile.mkdtemp(prefix="querypad-bench-")
    demo_copy = os.path.join(data, "bench.sqlite")
    shutil.copy(os.path.join(ROOT, "crates/server/assets/chinook.sqlite"), demo_copy)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, QUERYPAD_MAX_ROWS_LIMIT=str(max(args.rows, 100_000)), QUERYPAD_REQUEST_TIMEOUT="600", DB_QUERY_TIMEOUT="600")
    # The server's log (its access log goes to stderr whatever --log-level says) goes to a file,
    # so the table stays readable; its tail is shown if something fails.
    log_path = os.path.join(data, "server.log")
    log = open(log_path, "wb")
    server = subprocess.Popen([args.binary, "serve", "--bind", f"127.0.0.1:{port}", "--data-dir", data, "--log-level", "warn"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    ok = False
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                if server.poll() is not None:
                    break
                time.sleep(0.1)
        else:
            sys.exit("the server did not become ready within 30 s")
        pg = json.loads(post(base, "/api/v1/connections", {"name": "pg", "url": pg_url}))["id"]
        lite = json.loads(post(base, "/api/v1/connections", {"name": "lite", "kind": "sqlite", "path": demo_copy}))["id"]

        def pg_sql(n):
            return f"SELECT g AS id, md5(g::text) AS name, g * 1.5 AS amount, (g % 2 = 0) AS even, now() AS at FROM generate_series(1, {n}) g"

        def lite_sql(n):
            return (f"WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < {n}) "
                    "SELECT g AS id, hex(g) AS name, g * 1.5 AS amount, g % 2 = 0 AS even, datetime('now') AS at FROM c")

        def api(conn, sql, n):
            body = post(base, "/api/v1/query", {"connection_id": conn, "sql": sql, "max_rows": n})
            assert body.endswith(b"}") and b'"error"' not in body[-200:], body[-200:]

        psql_env = dict(os.environ)
        def psql(sql):
            subprocess.run(["psql", pg_url, "--csv", "-c", sql], check=True, stdout=subprocess.DEVNULL, env=psql_env)

        def sqlite(sql):
            subprocess.run(["sqlite3", "-json", demo_copy, sql], check=True, stdout=subprocess.DEVNULL)

        small = min(10_000, args.rows)
        api(pg, pg_sql(small), small)
        api(lite, lite_sql(small), small)
        rss_small = rss_kib(server.pid, "VmHWM")

        results = []
        for name, conn, sqlf, cli in [("postgres", pg, pg_sql, psql), ("sqlite", lite, lite_sql, sqlite)]:
            sql = sqlf(args.rows)
            # Interleaved (API, CLI, API, CLI, …) so both sides see the same background load.
            t_api, t_cli = timed_pair(lambda: api(conn, sql, args.rows), lambda: cli(sql), args.runs)
            results.append((name, t_api, t_cli))
        rss_large = rss_kib(server.pid, "VmHWM")

        print(f"rows per query: {args.rows}, runs: {args.runs} each, interleaved (median)")
        print(f"{'engine':<10} {'querypad s':>11} {'native CLI s':>13} {'ratio':>7}  (target <= 1.5)")
        for name, a, c in results:
            print(f"{name:<10} {a:>11.3f} {c:>13.3f} {a / c:>7.2f}")
        print(f"server peak RSS after {small}-row runs: {rss_small / 1024:.1f} MiB; after {args.rows}-row runs: {rss_large / 1024:.1f} MiB "
              f"(ratio {rss_large / max(rss_small, 1):.2f}; flat memory keeps this near 1)")
        ok = True
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()
        if not ok:
            with open(log_path, "rb") as f:
                tail = f.read()[-4000:].decode(errors="replace")
            print(f"--- server log (tail) ---\n{tail}", file=sys.stderr)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
