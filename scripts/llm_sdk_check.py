#!/usr/bin/env python3
"""Checks that the fake LLM servers (crates/testkit/src/fake_llm) speak the real wire format.

The official `anthropic` Python SDK (and, when installed, the official `openai` SDK) call the
fakes started by `cargo run -p querypad-testkit --example fake_llm_server` and must parse every
reply kind the way they parse the real APIs: text, tool use, 529 overloaded, 429 rate limited,
500, a body that is not JSON, and usage with prompt-cache tokens.

Needs: `pip install anthropic` (and optionally `openai`). Run from anywhere:
    python3 scripts/llm_sdk_check.py
Prints one line per check and a final `N passed, M failed`; exits non-zero on any failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = "claude-fake-1"

results: list[tuple[str, bool, str]] = []


def check(name):
    """Runs the decorated function as one named check and records pass/fail."""

    def run(fn):
        try:
            detail = fn() or ""
            results.append((name, True, detail))
            print(f"PASS {name}{': ' + detail if detail else ''}", flush=True)
        except Exception as e:  # noqa: BLE001 - any failure is a failed check
            results.append((name, False, repr(e)))
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc(limit=3, file=sys.stderr)
        return fn

    return run


def start_server() -> tuple[subprocess.Popen, str, str]:
    """Starts the example server and reads its two base URLs."""
    proc = subprocess.Popen(
        ["cargo", "run", "-q", "-p", "querypad-testkit", "--example", "fake_llm_server", "--",
         "--exit-on-stdin-eof"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    urls: dict[str, str] = {}
    deadline = time.monotonic() + 600  # a cold build can take minutes
    while len(urls) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake server did not print its URLs in time")
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            raise RuntimeError(f"the fake server exited (code {proc.wait()})")
        kind, _, url = line.strip().partition(" ")
        urls[kind] = url
    return proc, urls["anthropic"], urls["openai"]


def anthropic_checks(base_url: str) -> None:
    import anthropic

    client = anthropic.Anthropic(api_key="sk-ant-fake", base_url=base_url, max_retries=0, timeout=10)

    def ask(text: str, **extra):
        return client.messages.create(
            model=MODEL,
            max_tokens=256,
            messages=[{"role": "user", "content": text}],
            **extra,
        )

    def status_error(text: str) -> anthropic.APIStatusError:
        try:
            ask(text)
        except anthropic.APIStatusError as e:
            return e
        raise AssertionError("expected an APIStatusError")

    @check("anthropic text reply")
    def _():
        m = ask("reply:text")
        assert m.type == "message" and m.role == "assistant", m
        assert m.model == MODEL, m.model
        assert len(m.content) == 1 and m.content[0].type == "text", m.content
        assert m.content[0].text == "SELECT 1;", m.content[0].text
        assert m.stop_reason == "end_turn" and m.stop_sequence is None, m.stop_reason
        assert m.id.startswith("msg_"), m.id
        assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0, m.usage
        return f"{m.content[0].text!r}, usage {m.usage.input_tokens}/{m.usage.output_tokens}"

    @check("anthropic tool_use reply")
    def _():
        m = ask("reply:tool", tools=[{
            "name": "run_query",
            "description": "Runs one read-only SQL query",
            "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}}},
        }])
        assert m.stop_reason == "tool_use", m.stop_reason
        text, tool = m.content
        assert isinstance(text, anthropic.types.TextBlock), type(text)
        assert isinstance(tool, anthropic.types.ToolUseBlock), type(tool)
        assert tool.id.startswith("toolu_") and tool.name == "run_query", tool
        assert isinstance(tool.input, dict) and tool.input["sql"].startswith("SELECT"), tool.input
        return f"ToolUseBlock {tool.name}({tool.input})"

    @check("anthropic 529 overloaded")
    def _():
        e = status_error("reply:529")
        assert e.status_code == 529, e.status_code
        assert isinstance(e, (anthropic.InternalServerError, getattr(anthropic, "OverloadedError", ()))), type(e)
        assert e.body["error"]["type"] == "overloaded_error", e.body
        assert e.body["type"] == "error", e.body
        return f"{type(e).__name__} {e.status_code} {e.body['error']['type']}"

    @check("anthropic 429 rate limited")
    def _():
        e = status_error("reply:429")
        assert isinstance(e, anthropic.RateLimitError), type(e)
        assert e.status_code == 429 and e.body["error"]["type"] == "rate_limit_error", e.body
        assert e.response.headers.get("retry-after") == "7", dict(e.response.headers)
        assert e.response.headers.get("request-id", "").startswith("req_"), dict(e.response.headers)
        return f"{type(e).__name__}, retry-after {e.response.headers['retry-after']}"

    @check("anthropic 500 api_error")
    def _():
        e = status_error("reply:500")
        assert isinstance(e, anthropic.InternalServerError), type(e)
        assert e.status_code == 500 and e.body["error"]["type"] == "api_error", e.body
        return f"{type(e).__name__} {e.status_code}"

    @check("anthropic malformed body")
    def _():
        try:
            ask("reply:malformed")
        except (anthropic.APIResponseValidationError, ValueError) as e:
            # ValueError covers json.JSONDecodeError, which the SDK lets through for a bad JSON body.
            return type(e).__name__
        raise AssertionError("a reply that is not JSON was accepted")

    @check("anthropic usage with prompt cache")
    def _():
        system = [
            {"type": "text", "text": "You write SQLite. " * 20},
            {"type": "text", "text": "Schema: albums(id, title) " * 20, "cache_control": {"type": "ephemeral"}},
        ]
        first = ask("reply:text", system=system)
        second = ask("reply:text again", system=system)
        u1, u2 = first.usage, second.usage
        assert u1.cache_creation_input_tokens > 0 and u1.cache_read_input_tokens == 0, u1
        assert u2.cache_read_input_tokens == u1.cache_creation_input_tokens, (u1, u2)
        assert u2.cache_creation_input_tokens == 0 and u2.input_tokens > 0, u2
        return f"write {u1.cache_creation_input_tokens}, then read {u2.cache_read_input_tokens}"

    @check("anthropic missing key rejected")
    def _():
        try:
            client.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"Authorization": anthropic.Omit(), "x-api-key": anthropic.Omit()})
        except anthropic.AuthenticationError as e:
            assert e.status_code == 401 and e.body["error"]["type"] == "authentication_error", e.body
            return f"{type(e).__name__} {e.status_code}"
        raise AssertionError("a request without a key was accepted")


    @check("anthropic stalled body times out")
    def _():
        started = time.monotonic()
        try:
            client.with_options(timeout=1.0).messages.create(
                model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "reply:stall"}])
        except anthropic.APITimeoutError:
            return f"APITimeoutError after {time.monotonic() - started:.1f}s"
        raise AssertionError("a stalled body completed")

    @check("anthropic connection reset")
    def _():
        try:
            ask("reply:reset")
        except anthropic.APIConnectionError as e:
            assert not isinstance(e, anthropic.APITimeoutError), type(e)
            return type(e).__name__
        raise AssertionError("a reset connection produced a reply")


def openai_checks(base_url: str) -> None:
    try:
        import openai
    except ImportError:
        print("SKIP openai checks: the openai package is not installed", flush=True)
        return
    import json

    client = openai.OpenAI(api_key="sk-fake", base_url=base_url, max_retries=0, timeout=10)

    def ask(text: str, **extra):
        return client.chat.completions.create(
            model="gpt-fake", max_tokens=64, messages=[{"role": "user", "content": text}], **extra)

    @check("openai text reply")
    def _():
        c = ask("reply:text")
        choice = c.choices[0]
        assert choice.message.content == "SELECT 1;" and choice.finish_reason == "stop", choice
        assert c.model == "gpt-fake" and c.usage.prompt_tokens > 0, c
        return repr(choice.message.content)

    @check("openai tool call")
    def _():
        c = ask("reply:tool", tools=[{"type": "function", "function": {
            "name": "run_query", "description": "Runs SQL", "parameters": {"type": "object"}}}])
        choice = c.choices[0]
        assert choice.finish_reason == "tool_calls", choice.finish_reason
        call = choice.message.tool_calls[0]
        assert call.type == "function" and call.function.name == "run_query", call
        args = json.loads(call.function.arguments)
        assert args["sql"].startswith("SELECT"), args
        return f"{call.function.name}({call.function.arguments})"

    @check("openai usage with cached prefix")
    def _():
        messages = [{"role": "system", "content": "You write SQLite. " * 40},
                    {"role": "user", "content": "reply:text"}]
        first = client.chat.completions.create(model="gpt-fake", max_tokens=8, messages=messages)
        second = client.chat.completions.create(model="gpt-fake", max_tokens=8, messages=messages)
        c1 = first.usage.prompt_tokens_details.cached_tokens
        c2 = second.usage.prompt_tokens_details.cached_tokens
        assert c1 == 0 and 0 < c2 < second.usage.prompt_tokens, (first.usage, second.usage)
        return f"cached_tokens {c1}, then {c2} of {second.usage.prompt_tokens}"

    @check("openai 429 rate limited")
    def _():
        try:
            ask("reply:429")
        except openai.RateLimitError as e:
            assert e.code == "rate_limit_exceeded", e.code
            return f"RateLimitError code={e.code}"
        raise AssertionError("expected RateLimitError")


def main() -> int:
    try:
        import anthropic  # noqa: F401
    except ImportError:
        print("the anthropic package is missing: pip install anthropic", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    proc, anthropic_url, openai_url = start_server()
    try:
        print(f"fake servers: anthropic {anthropic_url}, openai {openai_url}", flush=True)
        anthropic_checks(anthropic_url)
        openai_checks(openai_url)
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    passed = sum(1 for _, ok, _ in results if ok)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("CARGO_TERM_COLOR", "never")
    sys.exit(main())
