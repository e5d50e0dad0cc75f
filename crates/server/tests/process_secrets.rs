//! No secret in any log line. Every process-level test's sandbox already scans all the log
//! files its processes wrote (application and access logs, stdout, stderr) for the fake API key
//! and the test database password when it is dropped (see `common::Sandbox`). This test drives
//! the paths most likely to leak, at `trace` level in text and `debug` in JSON, and then reads
//! every line itself:
//!
//! - a PostgreSQL connection created from fields and from a URL carrying the password, tested,
//!   queried, then the server stopped under it, and a connection with a wrong password;
//! - an API token created with the CLI, used, and a wrong one presented;
//! - secrets in query strings (never logged: access lines carry the matched route);
//! - agent runs whose provider calls carry the API key, fail with 500 and 401, and succeed;
//! - `querypad config check` with the key in the environment.

mod common;

use common::{
    FAKE_API_KEY, PG_PASSWORD, PrivatePg, Proc, ProcOptions, Sandbox, bounded, fetch, http_client,
};
use querypad_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WRONG_PASSWORD: &str = "pg-wrong-Qv8#pass";
const WRONG_TOKEN: &str = "qp_wrongtoken_5Rz8KpLmNq2Tx7Wv";

/// Runs a CLI command of the binary with the sandbox's data directory; returns (stdout, stderr)
/// and keeps them in the sandbox's logs, so they are scanned too (stdout only when `log_stdout`).
fn cli(
    sandbox: &Sandbox,
    args: &[&str],
    env: &[(&str, &str)],
    log_stdout: bool,
) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_querypad"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .current_dir(sandbox.root())
        .arg("--data-dir")
        .arg(sandbox.data_dir())
        .args(args)
        .output()
        .expect("run querypad");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "querypad {args:?}: {stderr}");
    let dir = sandbox
        .root()
        .join("logs")
        .join(format!("cli-{}", args.join("-")));
    std::fs::create_dir_all(&dir).expect("cli log dir");
    if log_stdout {
        std::fs::write(dir.join("stdout.log"), &stdout).expect("write");
    }
    std::fs::write(dir.join("stderr.log"), &stderr).expect("write");
    (stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_contains_a_password_or_an_api_key() {
    let sandbox = Sandbox::new("secrets");
    sandbox.add_secret(WRONG_PASSWORD);
    sandbox.add_secret(WRONG_TOKEN);
    let pg = PrivatePg::start();

    // Provider: the first call fails with 500, the second with 401 (a key it refuses), then answers.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let fake = FakeLlm::anthropic_with(Arc::new(move |_| match c.fetch_add(1, Ordering::SeqCst) {
        0 => Step::now(fake_llm::server_error()),
        1 => Step::now(fake_llm::anthropic_error(
            401,
            "authentication_error",
            "invalid x-api-key",
            None,
        )),
        _ => Step::now(Reply::ToolUse {
            name: "submit_sql".into(),
            input: json!({"sql": "SELECT 1 AS one"}),
            text: None,
        }),
    }))
    .await;

    // The key in the environment of `config check`: printed redacted.
    let (shown, _) = cli(
        &sandbox,
        &["config", "check"],
        &[("ANTHROPIC_API_KEY", FAKE_API_KEY)],
        true,
    );
    assert!(shown.contains("anthropic_api_key = \"***\""), "{shown}");

    // An API token, printed once on stdout by design (kept out of the scanned logs).
    let (token, _) = cli(&sandbox, &["token", "create", "--name", "ops"], &[], false);
    let token = token.trim().to_string();
    assert!(!token.is_empty());
    sandbox.add_secret(&token);
    let auth = format!("Bearer {token}");

    let mut opts = ProcOptions::with_fake_llm(&fake.base_url);
    opts.args(&["--log-level", "trace"]);
    let mut json_opts = ProcOptions::with_fake_llm(&fake.base_url);
    json_opts.args(&["--log-level", "debug", "--log-format", "json"]);
    let client = http_client();

    bounded(120, async {
        let mut p = Proc::start(&sandbox, &opts);
        // Tokens: a wrong one is refused, the right one accepted; neither is logged.
        let r = fetch(
            client
                .get(p.url("/api/v1/connections"))
                .header("authorization", format!("Bearer {WRONG_TOKEN}")),
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.text);
        let r = fetch(
            client
                .get(p.url("/api/v1/connections"))
                .header("authorization", &auth),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Secrets in a query string never reach the access log.
        let r = fetch(
            client
                .get(p.url(&format!(
                    "/api/v1/notebooks?password={PG_PASSWORD}&api_key={FAKE_API_KEY}"
                )))
                .header("authorization", &auth),
        )
        .await;
        assert!(r.status < 500, "{}", r.text);

        let mut pg_ids = Vec::new();
        if let Some(pg) = &pg {
            let r = fetch(
                client
                    .post(p.url("/api/v1/connections"))
                    .header("authorization", &auth)
                    .json(&pg.connection_body("by-fields", PG_PASSWORD)),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
            assert!(
                !r.text.contains(PG_PASSWORD),
                "the password is write-only: {}",
                r.text
            );
            pg_ids.push(r.body["id"].as_i64().expect("id"));
            let url = format!(
                "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable",
                pg.port
            );
            let r = fetch(
                client
                    .post(p.url("/api/v1/connections"))
                    .header("authorization", &auth)
                    .json(&json!({"name": "by-url", "url": url})),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
            assert!(!r.text.contains(PG_PASSWORD), "{}", r.text);
            pg_ids.push(r.body["id"].as_i64().expect("id"));
            for id in &pg_ids {
                let r = fetch(
                    client
                        .post(p.url(&format!("/api/v1/connections/{id}/test")))
                        .header("authorization", &auth),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.text);
                let r = fetch(
                    client
                        .post(p.url("/api/v1/query"))
                        .header("authorization", &auth)
                        .json(&json!({"connection_id": id, "sql": "SELECT current_user"})),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.text);
                let r = fetch(
                    client
                        .get(p.url(&format!("/api/v1/connections/{id}")))
                        .header("authorization", &auth),
                )
                .await;
                assert!(!r.text.contains(PG_PASSWORD), "{}", r.text);
            }
            // A wrong password: the server's refusal is reported, the password is not.
            let r = fetch(
                client
                    .post(p.url("/api/v1/connections"))
                    .header("authorization", &auth)
                    .json(&pg.connection_body("wrong-pw", WRONG_PASSWORD)),
            )
            .await;
            assert_eq!(r.status, 201, "{}", r.text);
            let wrong = r.body["id"].as_i64().expect("id");
            let r = fetch(
                client
                    .post(p.url(&format!("/api/v1/connections/{wrong}/test")))
                    .header("authorization", &auth),
            )
            .await;
            assert_eq!(r.status, 502, "{}", r.text);
            assert!(!r.text.contains(WRONG_PASSWORD), "{}", r.text);
        }

        // Agent runs: provider 500 (retried), 401 (the run fails and says so), then success.
        for q in ["first question", "second question"] {
            let r = fetch(
                client
                    .post(p.url("/mcp_agent/text-to-sql/"))
                    .header("authorization", &auth)
                    .json(&json!({"query": q, "connection_id": 1, "notebook_id": 1})),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(!r.text.contains(FAKE_API_KEY), "{}", r.text);
        }
        assert!(
            calls.load(Ordering::SeqCst) >= 3,
            "the provider was called {} times",
            calls.load(Ordering::SeqCst)
        );
        assert!(
            fake.requests()
                .iter()
                .any(|r| r.header("x-api-key") == Some(FAKE_API_KEY)),
            "the key was used"
        );

        // The database goes away under pooled connections.
        if let Some(pg) = &pg {
            pg.stop_server();
            let r = fetch(
                client
                    .post(p.url(&format!("/api/v1/connections/{}/test", pg_ids[0])))
                    .header("authorization", &auth),
            )
            .await;
            assert!(r.status >= 500, "{}", r.text);
            pg.start_server();
        }
        p.sigterm();
        assert_eq!(
            p.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()),
            Some(0)
        );

        // Again with JSON logs.
        let mut p = Proc::start(&sandbox, &json_opts);
        for id in &pg_ids {
            let r = fetch(
                client
                    .post(p.url(&format!("/api/v1/connections/{id}/test")))
                    .header("authorization", &auth),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let r = fetch(
            client
                .post(p.url("/mcp_agent/text-to-sql/"))
                .header("authorization", &auth)
                .json(&json!({"query": "third question", "connection_id": 1})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        p.sigterm();
        assert_eq!(
            p.wait_exit(Duration::from_secs(15)).and_then(|s| s.code()),
            Some(0)
        );
    })
    .await;

    // Read every line. The scan must not be vacuous: the logs show the risky operations.
    let all: String = sandbox.log_files().into_iter().map(|(_, t)| t).collect();
    let (lines, files) = sandbox.log_volume();
    for evidence in [
        "status=401",
        "agent run finished",
        "\"route\":\"/mcp_agent/text-to-sql/\"",
        "querypad::access",
    ] {
        assert!(all.contains(evidence), "the logs lack {evidence:?}");
    }
    if pg.is_some() {
        assert!(
            all.contains("connection created"),
            "the logs lack the connection events"
        );
    }
    let leaks = sandbox.secret_leaks();
    eprintln!(
        "secret scan: {lines} log lines in {files} files, {} leaks",
        leaks.len()
    );
    assert!(
        leaks.is_empty(),
        "secrets in log lines:\n{}",
        leaks.join("\n")
    );
}
