//! The text-to-SQL agent over HTTP, against a fake Anthropic (or OpenAI-compatible) server that
//! speaks the real wire format: answers, repairs, deadlines, degradation, cancellation, SSE,
//! limits, and the notebook cell.

mod common;

use common::{TestServer, assert_error, read_sse, start_with};
use querypad::config::Config;
use querypad_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn submit(sql: &str) -> Step {
    Step::now(Reply::ToolUse {
        name: "submit_sql".into(),
        input: json!({"sql": sql, "explanation": "test answer"}),
        text: None,
    })
}

fn slow(secs: f64, reply: Step) -> Step {
    Step::after(Duration::from_secs_f64(secs), reply.reply)
}

async fn server_with(fake: &FakeLlm, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let base = fake.base_url.clone();
    start_with(move |c| {
        c.llm.anthropic_api_key = Some("sk-test-key-not-real".into());
        c.llm.anthropic_base_url = Some(base);
        tweak(c);
    })
    .await
}

async fn ask(s: &TestServer, query: &str) -> common::Reply {
    s.post(
        "/mcp_agent/text-to-sql/",
        json!({"query": query, "connection_id": 1, "notebook_id": 1}),
    )
    .await
}

/// Tool results the agent sent back to the model, across all recorded requests.
fn tool_results(fake: &FakeLlm) -> Vec<Value> {
    let reqs = fake.requests();
    let Some(last) = reqs.last() else {
        return vec![];
    };
    last.body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["type"] == "tool_result")
        .collect()
}

#[tokio::test]
async fn the_seed_endpoint_answers_and_appends_a_cell() {
    let fake = FakeLlm::anthropic(vec![submit("SELECT Name FROM Genre ORDER BY Name")]).await;
    let s = server_with(&fake, |_| {}).await;
    let cells_before = s
        .get("/api/v1/notebooks/1/cells")
        .await
        .body
        .as_array()
        .unwrap()
        .len();

    let r = ask(&s, "show me all genres").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = &r.body;
    assert_eq!(b["status"], "succeeded", "{}", r.text);
    assert_eq!(b["sql"], "SELECT Name FROM Genre ORDER BY Name");
    assert_eq!(b["explanation"], "test answer");
    assert_eq!(b["row_count"], 25);
    assert_eq!(b["rows"][0], json!(["Alternative"]));
    assert_eq!(b["columns"][0]["name"], "Name");
    assert_eq!(b["iterations"], 1);
    assert_eq!(b["provider"], "anthropic");
    assert!(b["usage"]["input"].as_u64().unwrap() > 0, "{}", r.text);
    for key in ["llm", "sql", "total"] {
        assert!(
            b["timings_ms"][key].as_f64().is_some(),
            "timings_ms.{key}: {}",
            r.text
        );
    }
    assert_eq!(
        b["timings_ms"]["per_iteration"].as_array().unwrap().len(),
        1
    );
    assert!(b["message"].as_str().unwrap().contains("1 iteration"));

    // The request the model saw: our headers, the schema in a cached system block, the tools.
    let req = &fake.requests()[0];
    assert_eq!(req.header("x-api-key"), Some("sk-test-key-not-real"));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    let system = req.body["system"].as_array().unwrap();
    assert!(
        system
            .iter()
            .any(|p| p["cache_control"]["type"] == "ephemeral"
                && p["text"].as_str().unwrap().contains("TABLE Genre"))
    );
    let tools: Vec<&str> = req.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"submit_sql") && tools.contains(&"describe_table"),
        "{tools:?}"
    );
    assert!(
        req.body["messages"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("show me all genres")
    );

    // The answer became a cell headed by the question, with its run summary.
    let cell_id = b["cell_id"].as_i64().expect("cell id");
    let cells = s.get("/api/v1/notebooks/1/cells").await.body;
    assert_eq!(cells.as_array().unwrap().len(), cells_before + 1);
    let cell = s
        .get(&format!("/api/v1/notebooks/1/cells/{cell_id}"))
        .await
        .body;
    assert_eq!(
        cell["source"],
        "-- show me all genres\nSELECT Name FROM Genre ORDER BY Name"
    );
    assert_eq!(cell["last_run"]["row_count"], 25);

    // The run is stored and readable.
    let run = s
        .get(&format!(
            "/api/v1/agent/runs/{}",
            b["run_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(run.body["status"], "succeeded");
    assert_eq!(run.body["cell_id"], cell_id);
    s.stop().await;
}

#[tokio::test]
async fn an_sql_error_goes_back_to_the_model_and_the_repair_succeeds() {
    let fake = FakeLlm::anthropic(vec![
        submit("SELECT Nme FROM Artist"),
        submit("SELECT Name FROM Artist ORDER BY ArtistId LIMIT 3"),
    ])
    .await;
    let s = server_with(&fake, |_| {}).await;
    let r = ask(&s, "first three artists").await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.text);
    assert_eq!(r.body["iterations"], 2);
    assert_eq!(
        r.body["rows"],
        json!([["AC/DC"], ["Accept"], ["Aerosmith"]])
    );
    assert_eq!(r.body["attempts"][0]["outcome"], "error");
    let results = tool_results(&fake);
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["is_error"], true);
    assert!(
        results[0]["content"].as_str().unwrap().contains("Nme"),
        "the database's error goes back: {results:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_same_failing_sql_is_never_run_twice() {
    let bad = "SELECT nothing FROM Album";
    let fake = FakeLlm::anthropic(vec![
        submit(bad),
        submit(bad),
        submit("SELECT count(*) AS albums FROM Album"),
    ])
    .await;
    let s = server_with(&fake, |_| {}).await;
    let r = ask(&s, "how many albums").await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.text);
    assert_eq!(r.body["rows"], json!([[347]]));
    let outcomes: Vec<&str> = r.body["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["error", "repeated", "ok"]);
    assert_eq!(r.body["attempts"][1]["sql_ms"], 0.0, "not executed");
    let results = tool_results(&fake);
    assert!(
        results[1]["content"]
            .as_str()
            .unwrap()
            .contains("already submitted this exact SQL"),
        "{results:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_slow_llm_call_times_out_and_the_next_attempt_succeeds() {
    let fake = FakeLlm::anthropic(vec![
        slow(3.0, submit("SELECT 1 AS one")),
        submit("SELECT 2 AS two"),
    ])
    .await;
    let s = server_with(&fake, |c| c.agent.llm_call_timeout_secs = 0.5).await;
    let t = Instant::now();
    let r = ask(&s, "a number").await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.text);
    assert_eq!(r.body["rows"], json!([[2]]));
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "did not wait for the slow reply: {:?}",
        t.elapsed()
    );
    s.stop().await;
}

#[tokio::test]
async fn the_workflow_deadline_degrades_to_the_last_sql_that_worked() {
    // First answer runs but finds nothing; then the model stalls past the deadline.
    let empty = "SELECT Name FROM Artist WHERE Name = 'Nobody At All'";
    let fake = FakeLlm::anthropic(vec![submit(empty), slow(30.0, submit("SELECT 1"))]).await;
    let s = server_with(&fake, |c| {
        c.agent.workflow_timeout_secs = 2.0;
        c.agent.llm_call_timeout_secs = 20.0;
    })
    .await;
    let t = Instant::now();
    let r = ask(&s, "the artist nobody").await;
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "answered within deadline + 1 s: {took:?}"
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "degraded", "{}", r.text);
    assert_eq!(r.body["sql"], empty);
    assert_eq!(r.body["reason"], "deadline");
    assert!(
        r.body["message"].as_str().unwrap().contains("Time ran out"),
        "{}",
        r.text
    );
    assert!(
        r.body["cell_id"].as_i64().is_some(),
        "the degraded answer is still kept in the notebook"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_workflow_deadline_fails_clearly_when_nothing_ran() {
    let fake = FakeLlm::anthropic(vec![slow(30.0, submit("SELECT 1"))]).await;
    let s = server_with(&fake, |c| c.agent.workflow_timeout_secs = 1.5).await;
    let t = Instant::now();
    let r = ask(&s, "anything").await;
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.body["status"], "failed", "{}", r.text);
    assert_eq!(r.body["reason"], "deadline");
    assert!(r.body["sql"].is_null());
    assert!(r.body["cell_id"].is_null());
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("before any query ran"),
        "{}",
        r.text
    );
    s.stop().await;
}

#[tokio::test]
async fn a_long_query_is_cancelled_on_postgres_when_the_deadline_passes() {
    let Some(url) = querypad_testkit::pg_url("querypad_test") else {
        return;
    };
    let marker = querypad_testkit::unique();
    let fake = FakeLlm::anthropic(vec![submit(&format!(
        "SELECT pg_sleep(60), {marker} AS marker"
    ))])
    .await;
    let s = server_with(&fake, |c| c.agent.workflow_timeout_secs = 2.0).await;
    let pg = s.connect_url("pg", &url).await;
    let t = Instant::now();
    let r = s
        .post(
            "/mcp_agent/text-to-sql/",
            json!({"query": "sleep", "connection_id": pg}),
        )
        .await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(r.body["status"], "failed", "{}", r.text);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let active = s
        .query(pg, &format!("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%{marker} AS marker%' AND pid <> pg_backend_pid()"))
        .await;
    assert_eq!(active.body["rows"], json!([[0]]), "{}", active.text);
    s.stop().await;
}

#[tokio::test]
async fn runs_are_resources_with_ordered_resumable_events() {
    let fake = FakeLlm::anthropic(vec![
        submit("SELECT nope"),
        slow(
            0.3,
            submit("SELECT Title FROM Album ORDER BY AlbumId LIMIT 2"),
        ),
    ])
    .await;
    let s = server_with(&fake, |_| {}).await;
    let r = s
        .post(
            "/api/v1/agent/runs",
            json!({"query": "two albums", "connection_id": 1, "notebook_id": 1}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["run_id"].as_str().unwrap().to_string();
    let resp = s
        .client
        .get(s.url(&format!("/api/v1/agent/runs/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = read_sse(resp, 100).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "context_built",
            "llm_call",
            "sql_checked",
            "sql_executed",
            "iteration_failed",
            "llm_call",
            "sql_checked",
            "sql_executed",
            "finished"
        ],
        "{events:?}"
    );
    let ids: Vec<u64> = events.iter().map(|e| e.id.unwrap()).collect();
    assert_eq!(ids, (1..=9).collect::<Vec<u64>>());
    let finished = &events[8].data;
    assert_eq!(finished["status"], "succeeded");
    assert_eq!(
        finished["result"]["rows"],
        json!([
            ["For Those About To Rock We Salute You"],
            ["Balls to the Wall"]
        ])
    );
    assert_eq!(events[0].data["tables_total"], 11);
    assert_eq!(events[0].data["truncated"], false);

    // Resume after event 6: only 7, 8, 9.
    let resp = s
        .client
        .get(s.url(&format!("/api/v1/agent/runs/{id}/events")))
        .header("Last-Event-ID", "6")
        .send()
        .await
        .unwrap();
    let rest = read_sse(resp, 100).await;
    assert_eq!(
        rest.iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        vec![7, 8, 9]
    );

    // Once the run has left memory, the same stream is replayed from the store, `finished`
    // (kept once, as the stored response) included, with the answer's cell.
    assert!(s.state.runs.forget(&id), "the finished run was in memory");
    let resp = s
        .client
        .get(s.url(&format!("/api/v1/agent/runs/{id}/events")))
        .send()
        .await
        .unwrap();
    let replayed = read_sse(resp, 100).await;
    assert_eq!(
        replayed
            .iter()
            .map(|e| e.event.as_str())
            .collect::<Vec<_>>(),
        kinds
    );
    assert_eq!(
        replayed.iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        ids
    );
    let again = &replayed[8].data;
    assert_eq!(again["status"], "succeeded");
    assert_eq!(again["result"]["rows"], finished["result"]["rows"]);
    assert!(again["result"]["cell_id"].as_i64().is_some(), "{again}");
    assert_eq!(again["result"]["cell_id"], finished["result"]["cell_id"]);
    let stored = s.get(&format!("/api/v1/agent/runs/{id}")).await;
    assert_eq!(stored.body["cell_id"], finished["result"]["cell_id"]);

    // The seed endpoint streams the same events when asked.
    let fake2 = FakeLlm::anthropic(vec![submit("SELECT 1 AS one")]).await;
    let s2 = server_with(&fake2, |_| {}).await;
    let resp = s2
        .client
        .post(s2.url("/mcp_agent/text-to-sql/"))
        .header("accept", "text/event-stream")
        .json(&json!({"query": "one", "connection_id": 1, "notebook_id": 1}))
        .send()
        .await
        .unwrap();
    let events = read_sse(resp, 100).await;
    assert_eq!(events.last().unwrap().event, "finished");
    assert_eq!(events.last().unwrap().data["result"]["rows"], json!([[1]]));
    s.stop().await;
    s2.stop().await;
}

#[tokio::test]
async fn a_run_can_be_cancelled() {
    let fake = FakeLlm::anthropic(vec![slow(10.0, submit("SELECT 1"))]).await;
    let s = server_with(&fake, |_| {}).await;
    let r = s
        .post(
            "/api/v1/agent/runs",
            json!({"query": "slow", "connection_id": 1}),
        )
        .await;
    let id = r.body["run_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    let c = s
        .post(&format!("/api/v1/agent/runs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(c.status, 202, "{}", c.text);
    let resp = s
        .client
        .get(s.url(&format!("/api/v1/agent/runs/{id}/events")))
        .send()
        .await
        .unwrap();
    let events = read_sse(resp, 100).await;
    assert!(t.elapsed() < Duration::from_secs(2));
    let last = events.last().unwrap();
    assert_eq!(last.event, "finished");
    assert_eq!(last.data["result"]["reason"], "cancelled");
    assert_eq!(last.data["status"], "failed");
    assert_error(
        &s.post(&format!("/api/v1/agent/runs/{id}/cancel"), json!({}))
            .await,
        409,
        "run_finished",
    );
    assert_error(
        &s.post("/api/v1/agent/runs/run_nope/cancel", json!({}))
            .await,
        404,
        "run_not_found",
    );
    s.stop().await;
}

#[tokio::test]
async fn overload_answers_429_with_retry_after() {
    let fake = FakeLlm::anthropic(vec![slow(5.0, submit("SELECT 1"))]).await;
    let s = server_with(&fake, |c| c.agent.max_concurrent_runs = 1).await;
    let first = s
        .post(
            "/api/v1/agent/runs",
            json!({"query": "slow one", "connection_id": 1}),
        )
        .await;
    assert_eq!(first.status, 202);
    let resp = s
        .client
        .post(s.url("/api/v1/agent/runs"))
        .json(&json!({"query": "another", "connection_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_runs");
    s.stop().await;
}

#[tokio::test]
async fn bad_input_and_a_disabled_agent_get_the_error_contract() {
    let fake = FakeLlm::anthropic(vec![]).await;
    let s = server_with(&fake, |_| {}).await;
    assert_error(
        &s.post(
            "/mcp_agent/text-to-sql/",
            json!({"query": "x", "connection_id": 99}),
        )
        .await,
        404,
        "connection_not_found",
    );
    assert_error(
        &s.post(
            "/mcp_agent/text-to-sql/",
            json!({"query": "x", "connection_id": 1, "notebook_id": 99}),
        )
        .await,
        404,
        "notebook_not_found",
    );
    assert_error(
        &s.post(
            "/mcp_agent/text-to-sql/",
            json!({"query": "  ", "connection_id": 1}),
        )
        .await,
        422,
        "invalid_fields",
    );
    assert_error(
        &s.post(
            "/mcp_agent/text-to-sql/",
            json!({"query": 5, "connection_id": 1}),
        )
        .await,
        422,
        "invalid_fields",
    );
    assert_error(
        &s.post("/mcp_agent/text-to-sql/", json!({"connection_id": 1}))
            .await,
        422,
        "invalid_fields",
    );
    assert_error(
        &s.get("/api/v1/agent/runs/run_unknown").await,
        404,
        "run_not_found",
    );
    assert_eq!(fake.request_count(), 0);
    s.stop().await;

    let off = start_with(|c| c.agent.enabled = false).await;
    assert_error(
        &off.post(
            "/mcp_agent/text-to-sql/",
            json!({"query": "x", "connection_id": 1}),
        )
        .await,
        503,
        "agent_disabled",
    );
    assert_error(
        &off.post(
            "/api/v1/agent/runs",
            json!({"query": "x", "connection_id": 1}),
        )
        .await,
        503,
        "agent_disabled",
    );
    let cell = off.post("/api/v1/notebooks/1/cells/2/run", json!({})).await;
    assert_eq!(cell.status, 200, "manual SQL still works: {}", cell.text);
    off.stop().await;
}

#[tokio::test]
async fn without_a_provider_the_builtin_generator_answers_or_declines() {
    let s = start_with(|c| {
        c.llm.anthropic_api_key = None;
        c.llm.provider = "none".into();
    })
    .await;
    let r = ask(&s, "show me all tables").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "succeeded", "{}", r.text);
    assert_eq!(r.body["provider"], "builtin", "{}", r.text);
    let tables: Vec<&str> = r.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row[0].as_str())
        .collect();
    assert!(
        tables.contains(&"Track") && tables.contains(&"Invoice"),
        "{}",
        r.text
    );
    // A question it cannot map is declined, naming the words and how to configure an LLM.
    let r = ask(&s, "What is the meaning of life?").await;
    assert_eq!(r.body["status"], "failed", "{}", r.text);
    assert_eq!(r.body["reason"], "declined", "{}", r.text);
    let message = r.body["message"].as_str().unwrap();
    assert!(
        message.contains("\"meaning\"") && message.contains("\"life\""),
        "{message}"
    );
    assert!(message.contains("ANTHROPIC_API_KEY"), "{message}");
    s.stop().await;
}

#[tokio::test]
async fn provider_errors_are_retried_and_reported_in_words() {
    let fake = FakeLlm::anthropic(vec![
        Step::now(fake_llm::overloaded()),
        Step::now(fake_llm::server_error()),
        submit("SELECT 3 AS three"),
    ])
    .await;
    let s = server_with(&fake, |_| {}).await;
    let r = ask(&s, "three").await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.text);
    assert_eq!(r.body["rows"], json!([[3]]));
    s.stop().await;

    let fake = FakeLlm::anthropic(vec![Step::now(fake_llm::anthropic_error(
        401,
        "authentication_error",
        "invalid x-api-key",
        None,
    ))])
    .await;
    let s = server_with(&fake, |_| {}).await;
    let r = ask(&s, "three").await;
    assert_eq!(r.body["status"], "failed", "{}", r.text);
    assert_eq!(r.body["reason"], "llm_auth");
    assert!(
        r.body["message"].as_str().unwrap().contains("API key"),
        "{}",
        r.text
    );
    assert!(
        !r.text.contains("sk-test-key-not-real"),
        "the key never appears"
    );
    assert_eq!(fake.request_count(), 1, "auth errors are not retried");
    s.stop().await;
}

#[tokio::test]
async fn an_openai_compatible_server_works_too() {
    let fake = FakeLlm::openai(vec![submit("SELECT count(*) AS n FROM Customer")]).await;
    let base = fake.base_url.clone();
    let s = start_with(move |c| {
        c.llm.provider = "openai".into();
        c.llm.openai_base_url = Some(base);
        c.llm.openai_model = "local-model".into();
    })
    .await;
    let r = ask(&s, "how many customers").await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.text);
    assert_eq!(r.body["rows"], json!([[59]]));
    assert_eq!(r.body["provider"], "openai");
    assert_eq!(r.body["model"], "local-model");
    assert_eq!(fake.requests()[0].path, "/v1/chat/completions");
    s.stop().await;
}

#[tokio::test]
async fn agent_metrics_are_exported() {
    let fake = FakeLlm::anthropic(vec![submit("SELECT 1 AS one")]).await;
    let s = server_with(&fake, |_| {}).await;
    assert_eq!(ask(&s, "one").await.body["status"], "succeeded");
    let m = s.get("/metrics").await.text;
    for name in [
        "querypad_llm_call_seconds",
        "querypad_sql_execution_seconds",
        "querypad_workflow_seconds",
        "querypad_agent_iterations",
        "querypad_agent_runs_total",
    ] {
        assert!(m.contains(name), "{name} missing from /metrics:\n{m}");
    }
    assert!(m.contains("status=\"succeeded\""), "{m}");
    s.stop().await;
}

#[tokio::test]
async fn the_token_budget_stops_a_run_like_the_deadline_does() {
    // Every reply costs tokens; a tiny budget ends the run after the first (failing) attempt.
    let fake =
        FakeLlm::anthropic(vec![submit("SELECT broken FROM Album"), submit("SELECT 1")]).await;
    let s = server_with(&fake, |c| c.agent.token_budget = 10).await;
    let r = ask(&s, "albums").await;
    assert_eq!(r.body["status"], "failed", "{}", r.text);
    assert_eq!(r.body["reason"], "token_budget");
    assert!(
        r.body["message"].as_str().unwrap().contains("token budget"),
        "{}",
        r.text
    );
    assert_eq!(fake.request_count(), 1);
    s.stop().await;
}

/// Many runs ending together share the store's group commit: every one is answered, stored with
/// its own answer cell, and the notebook's positions stay dense.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_each_get_their_own_stored_answer_cell() {
    const RUNS: usize = 40;
    let s = std::sync::Arc::new(common::start().await);
    let before = s.get("/api/v1/notebooks/1/cells").await.body;
    let before = before.as_array().map_or(0, Vec::len);
    let tasks: Vec<_> = (0..RUNS)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                s.post(
                    "/mcp_agent/text-to-sql/",
                    json!({"query": "how many tracks are there", "connection_id": 1, "notebook_id": 1}),
                )
                .await
            })
        })
        .collect();
    let mut cell_ids = Vec::new();
    for t in tasks {
        let r = t.await.expect("request task");
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "succeeded", "{}", r.text);
        let cell = r.body["cell_id"].as_i64().expect("cell_id");
        let run = s
            .state
            .store
            .get_run(r.body["run_id"].as_str().expect("run_id"))
            .await
            .expect("store")
            .expect("run stored");
        assert_eq!(run.status, "succeeded");
        assert_eq!(run.cell_id, Some(cell));
        assert_eq!(
            run.response.as_ref().map(|v| v["cell_id"].clone()),
            Some(json!(cell))
        );
        cell_ids.push(cell);
    }
    let mut unique = cell_ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), RUNS, "one cell per run: {cell_ids:?}");
    let cells = s.get("/api/v1/notebooks/1/cells").await.body;
    let cells = cells.as_array().expect("cells");
    assert_eq!(cells.len(), before + RUNS);
    let positions: Vec<i64> = cells
        .iter()
        .filter_map(|c| c["position"].as_i64())
        .collect();
    assert_eq!(positions, (0..cells.len() as i64).collect::<Vec<_>>());
    for c in cells.iter().filter(|c| {
        unique
            .binary_search(&c["id"].as_i64().unwrap_or(-1))
            .is_ok()
    }) {
        assert!(
            c["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("-- how many tracks are there")),
            "{c}"
        );
        assert_eq!(c["last_run"]["error"], Value::Null, "{c}");
        assert!(c["last_run"]["row_count"].as_u64().is_some(), "{c}");
    }
    if let Ok(s) = std::sync::Arc::try_unwrap(s) {
        s.stop().await;
    }
}

/// Earlier answers of the notebook reach the model as question→SQL examples, newest last;
/// a markdown cell and an answer whose SQL failed do not.
#[tokio::test]
async fn earlier_answers_in_the_notebook_become_examples() {
    let fake = FakeLlm::anthropic(vec![
        submit("SELECT Name FROM Genre ORDER BY Name"),
        submit("SELECT count(*) FROM Album"),
    ])
    .await;
    let s = server_with(&fake, |_| {}).await;
    assert_eq!(ask(&s, "list the genres").await.body["status"], "succeeded");
    let md = s
        .post(
            "/api/v1/notebooks/1/cells",
            json!({"kind": "markdown", "source": "-- not a question\nSELECT 'markdown'"}),
        )
        .await;
    assert_eq!(md.status, 201, "{}", md.text);
    let bad = s
        .post(
            "/api/v1/notebooks/1/cells",
            json!({"kind": "sql", "source": "-- a broken answer\nSELECT nope FROM nowhere"}),
        )
        .await;
    assert_eq!(bad.status, 201, "{}", bad.text);
    let id = bad.body["id"].as_i64().expect("cell id");
    let ran = s
        .post(&format!("/api/v1/notebooks/1/cells/{id}/run"), json!({}))
        .await;
    assert!(ran.text.contains("nowhere"), "{}", ran.text);
    assert_eq!(ask(&s, "how many albums").await.body["status"], "succeeded");

    let reqs = fake.requests();
    let first_user_text = reqs.last().expect("a request").body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        first_user_text
            .contains("Q: list the genres\n```sql\nSELECT Name FROM Genre ORDER BY Name\n```"),
        "{first_user_text}"
    );
    assert!(!first_user_text.contains("markdown"), "{first_user_text}");
    assert!(
        !first_user_text.contains("a broken answer"),
        "{first_user_text}"
    );
    assert!(
        first_user_text.ends_with("Question: how many albums"),
        "{first_user_text}"
    );
    s.stop().await;
}
