#!/usr/bin/env python3
"""Checks Querypad's MCP server with the official MCP Python SDK (PyPI `mcp`), over both
transports: `querypad mcp` on stdio and `/mcp` on `querypad serve` (streamable HTTP, with an
API token so the bearer check is exercised too).

Per transport: initialize, list tools (names and schemas as documented), call every tool on the
demo database, a write refused, a bad argument refused, `text_to_sql` against the fake LLM with
at least two progress notifications before the result, and cancellation mid-run (the run must
end as cancelled and the session must stay usable). Over HTTP also: no token -> 401, a foreign
Host -> 403.

Prints one line per check and finally `N passed, M failed`; exits 1 when a check failed.

The fake LLM is the project's own (`crates/testkit/examples/fake_llm_server.rs`): it picks its
reply from a `reply:<kind>` word in the question (`reply:text` answers `SELECT 1;`,
`reply:slow` answers after 2 s). The binary is `$QUERYPAD_BIN`, else target/debug/querypad
(built first with cargo).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_TOOLS = [
    "list_connections",
    "list_tables",
    "describe_table",
    "sample_values",
    "run_query",
    "text_to_sql",
]

passed = 0
failed = 0


def check(name: str, ok: bool, detail: Any = "") -> bool:
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def binary() -> str:
    if os.environ.get("QUERYPAD_BIN"):
        return str(Path(os.environ["QUERYPAD_BIN"]).resolve())
    subprocess.run(["cargo", "build", "-q", "-p", "querypad"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return str(target / "debug" / "querypad")


def start_fake_llm() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        ["cargo", "run", "-q", "-p", "querypad-testkit", "--example", "fake_llm_server", "--", "--exit-on-stdin-eof"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    anthropic = ""
    for _ in range(2):
        line = proc.stdout.readline().split()
        if len(line) == 2 and line[0] == "anthropic":
            anthropic = line[1]
    if not anthropic:
        proc.kill()
        raise RuntimeError("the fake LLM server did not print its address")
    return proc, anthropic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def structured(result: Any) -> dict[str, Any]:
    if isinstance(result.structured_content, dict):
        return result.structured_content
    try:
        return json.loads(result.content[0].text)
    except Exception:
        return {}


def error_code(result: Any) -> str | None:
    if not result.is_error:
        return None
    return structured(result).get("error", {}).get("code")


async def run_suite(
    label: str,
    session: ClientSession,
    run_status: Any,
) -> None:
    """Every check that does not depend on the transport. `run_status(run_id)` returns the
    stored run's (status, reason) once it has finished."""
    init = await session.initialize()
    check(f"{label}: initialize", init.server_info.name == "querypad" and init.capabilities.tools is not None, init)

    tools = (await session.list_tools()).tools
    names = [t.name for t in tools]
    schemas = {t.name: t.input_schema for t in tools}
    check(f"{label}: tools/list names", names == EXPECTED_TOOLS, names)
    check(
        f"{label}: tools/list schemas",
        schemas["list_connections"].get("properties") == {}
        and schemas["list_tables"].get("required") == ["connection"]
        and schemas["describe_table"].get("required") == ["connection", "table"]
        and schemas["sample_values"].get("required") == ["connection", "table", "column"]
        and schemas["run_query"].get("required") == ["connection", "sql"]
        and schemas["run_query"]["properties"]["max_rows"]["type"] == "integer"
        and schemas["text_to_sql"].get("required") == ["connection", "question"]
        and schemas["text_to_sql"]["properties"]["notebook"]["type"] == "integer"
        and all(s.get("type") == "object" and s.get("additionalProperties") is False for s in schemas.values()),
        schemas,
    )

    r = await session.call_tool("list_connections", {})
    conns = structured(r).get("connections", [])
    check(f"{label}: list_connections", not r.is_error and any(c.get("id") == 1 for c in conns), r)

    r = await session.call_tool("list_tables", {"connection": 1})
    tables = [t.get("name") for t in structured(r).get("tables", [])]
    check(f"{label}: list_tables", not r.is_error and "Album" in tables and "Genre" in tables, tables)

    r = await session.call_tool("describe_table", {"connection": 1, "table": "Album"})
    cols = [c.get("name") for c in structured(r).get("columns", [])]
    check(f"{label}: describe_table", not r.is_error and "Title" in cols, r)

    r = await session.call_tool("sample_values", {"connection": 1, "table": "Genre", "column": "Name"})
    check(f"{label}: sample_values", not r.is_error and "Rock" in structured(r).get("values", []), r)

    r = await session.call_tool(
        "run_query", {"connection": 1, "sql": "SELECT Name FROM Genre ORDER BY Name", "max_rows": 3}
    )
    rows = structured(r).get("rows", [])
    check(f"{label}: run_query", not r.is_error and len(rows) == 3 and rows[0] == ["Alternative"], r)

    r = await session.call_tool("run_query", {"connection": 1, "sql": "DELETE FROM Genre"})
    check(f"{label}: write refused (sql_not_read_only)", error_code(r) == "sql_not_read_only", r)

    r = await session.call_tool("describe_table", {"connection": 1})
    check(f"{label}: missing argument refused (invalid_fields)", error_code(r) == "invalid_fields", r)
    r = await session.call_tool("list_tables", {"connection": "one"})
    check(f"{label}: mistyped argument refused (invalid_fields)", error_code(r) == "invalid_fields", r)
    r = await session.call_tool("list_tables", {"connection": 999})
    check(f"{label}: unknown connection (connection_not_found)", error_code(r) == "connection_not_found", r)

    # text_to_sql with progress: the fake LLM answers `SELECT 1;`.
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    r = await session.call_tool(
        "text_to_sql",
        {"connection": 1, "question": "what is one? reply:text", "notebook": 1},
        progress_callback=on_progress,
    )
    seen_before_result = len(progress)
    answer = structured(r)
    check(
        f"{label}: text_to_sql answers",
        not r.is_error and answer.get("status") == "succeeded" and answer.get("sql") == "SELECT 1" and answer.get("row_count") == 1,
        answer,
    )
    check(
        f"{label}: text_to_sql progress before the result ({seen_before_result} notifications, >= 2)",
        seen_before_result >= 2,
        progress,
    )

    # Cancellation mid-run: the fake LLM takes 2 s; cancel after the first progress notification.
    first = anyio.Event()
    messages: list[str] = []

    async def on_cancel_progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")
        first.set()

    outcome: dict[str, Any] = {}
    started = time.monotonic()
    async with anyio.create_task_group() as tg:

        async def ask() -> None:
            with anyio.CancelScope() as scope:
                outcome["scope"] = scope
                outcome["result"] = await session.call_tool(
                    "text_to_sql",
                    {"connection": 1, "question": "a slow one reply:slow"},
                    progress_callback=on_cancel_progress,
                )

        tg.start_soon(ask)
        with anyio.fail_after(15):
            await first.wait()
        outcome["scope"].cancel()
    run_id = ""
    if messages and messages[0].startswith("run "):
        run_id = messages[0].split()[1]
    status = await run_status(run_id) if run_id else None
    check(
        f"{label}: cancellation mid-run stops the run",
        "result" not in outcome and status is not None and status[0] == "failed" and status[1] == "cancelled"
        and time.monotonic() - started < 10,
        (messages, status, outcome.get("result")),
    )
    tools_after = (await session.list_tools()).tools
    check(f"{label}: session usable after cancellation", len(tools_after) == len(EXPECTED_TOOLS), tools_after)


async def wait_for(fetch: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if value is not None:
            return value
        await anyio.sleep(0.1)
    return None


async def check_stdio(bin_path: str, fake_url: str) -> None:
    data = tempfile.mkdtemp(prefix="querypad-mcp-stdio-")
    try:
        params = StdioServerParameters(
            command=bin_path,
            args=["mcp", "--data-dir", data],
            env={"ANTHROPIC_API_KEY": "sk-test-not-real", "ANTHROPIC_BASE_URL": fake_url, "QUERYPAD_LOG": "warn"},
            cwd=data,
        )

        def stored(run_id: str) -> tuple[str, str] | None:
            db = sqlite3.connect(os.path.join(data, "querypad.db"), timeout=5)
            try:
                row = db.execute("SELECT status, response FROM runs WHERE id = ?", (run_id,)).fetchone()
            finally:
                db.close()
            if row is None or row[0] == "running":
                return None
            return row[0], json.loads(row[1] or "{}").get("reason")

        async def run_status(run_id: str) -> Any:
            return await wait_for(lambda: stored(run_id))

        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await run_suite("stdio", session, run_status)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def raw_post(port: int, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        }
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "POST",
            "/mcp",
            body=body,
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers},
        )
        resp = conn.getresponse()
        text = resp.read().decode()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, {}
    finally:
        conn.close()


async def check_http(bin_path: str, fake_url: str) -> None:
    data = tempfile.mkdtemp(prefix="querypad-mcp-http-")
    port = free_port()
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-test-not-real", "ANTHROPIC_BASE_URL": fake_url, "QUERYPAD_LOG": "warn"}
    env.pop("QUERYPAD_CONFIG", None)
    token = subprocess.run(
        [bin_path, "--data-dir", data, "token", "create", "--name", "mcp-check"],
        cwd=data, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()
    log = open(os.path.join(data, "server.log"), "w")
    server = subprocess.Popen(
        [bin_path, "--data-dir", data, "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=data, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        auth = {"Authorization": f"Bearer {token}"}

        status, body = raw_post(port, {})
        check("http: no token refused (401 unauthorized)", status == 401 and body.get("error", {}).get("code") == "unauthorized", (status, body))
        status, body = raw_post(port, {**auth, "Host": "evil.example"})
        check("http: foreign Host refused (403)", status == 403 and body.get("error", {}).get("code") == "host_not_allowed", (status, body))
        status, body = raw_post(port, {**auth, "Origin": "http://evil.example"})
        check("http: foreign Origin refused (403)", status == 403 and body.get("error", {}).get("code") == "origin_not_allowed", (status, body))

        def stored(run_id: str) -> tuple[str, str] | None:
            req = urllib.request.Request(f"{base}/api/v1/agent/runs/{run_id}", headers=auth)
            with urllib.request.urlopen(req, timeout=5) as r:
                run = json.loads(r.read())
            if run.get("status") in (None, "running"):
                return None
            return run["status"], run.get("reason")

        async def run_status(run_id: str) -> Any:
            return await wait_for(lambda: stored(run_id))

        async with create_mcp_http_client(headers=auth) as client:
            async with streamable_http_client(f"{base}/mcp", http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await run_suite("http", session, run_status)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if failed:
            print(Path(data, "server.log").read_text()[-4000:], file=sys.stderr)
        shutil.rmtree(data, ignore_errors=True)


async def main() -> None:
    bin_path = binary()
    fake, url = start_fake_llm()
    try:
        for name, suite in (("stdio", check_stdio), ("http", check_http)):
            try:
                await suite(bin_path, url)
            except Exception as e:  # a crash is a failed check, and the other transport still runs
                traceback.print_exc()
                check(f"{name}: suite ran to the end", False, repr(e))
    finally:
        if fake.stdin:
            fake.stdin.close()
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()


if __name__ == "__main__":
    anyio.run(main)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
