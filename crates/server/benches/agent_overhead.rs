//! The server's own time per agent run, excluding LLM wait and SQL time, on a 100-table schema.
//!
//! Creates a SQLite file with 100 tables (8 columns each, 25 foreign keys, 4 rows each),
//! registers it as a connection, and answers every LLM call at once (a fake with zero latency
//! whose `submit_sql` is right the first time). Then 1,000 sequential runs through
//! `POST /mcp_agent/text-to-sql/` and, from each response's `timings_ms`:
//!
//! - overhead = total − llm − sql (the agent's own work: context incl. the sample rows (read
//!   once per table and schema, then reused), schema linking, checks, the loop),
//! - end-to-end = HTTP latency − llm − sql (adds the HTTP layer, the store reads and writes
//!   before and after the run, and the response).
//!
//! Two phases: with `notebook_id` (the seed's body: every run lists the notebook's cells and
//! appends one) and without. Baselines measured in the same run: `GET /healthz` and
//! `POST /api/v1/query` with the same answers (HTTP floor, manual SQL path). Then an in-process
//! breakdown of the agent's pieces on the same schema (preparing the schema, linking, context,
//! sample queries, the read-only check).
//!
//! `cargo bench -p querypad --bench agent_overhead -- [--runs 1000] [--warmup 20]`

mod common;

use common::{Server, pct};
use querypad_agent::context::{Context, ContextLimits, Samples, quoted_table_ref, table_ref};
use querypad_engines::{Catalog, ConnectSpec, Database, Kind, PoolSettings, QueryOptions, TlsMode};
use querypad_testkit::fake_llm::{FakeLlm, Handler, Reply, Step};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NOUNS: [&str; 20] = [
    "customer",
    "invoice",
    "product",
    "supplier",
    "order",
    "shipment",
    "warehouse",
    "employee",
    "department",
    "payment",
    "refund",
    "campaign",
    "ticket",
    "contract",
    "vendor",
    "store",
    "region",
    "account",
    "subscription",
    "review",
];
const PLACES: [&str; 5] = ["eu", "us", "apac", "latam", "africa"];
const STATUSES: [&str; 4] = ["active", "closed", "pending", "archived"];

fn table_name(i: usize) -> String {
    format!("{}_{}", NOUNS[i % 20], PLACES[i / 20])
}

/// 100 tables: `id, name, status, amount, created_at, <ref>_id, note, qty`; every fourth table
/// (25) has a foreign key to the one before it.
fn schema_statements() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..100 {
        let t = table_name(i);
        let (ref_col, fk) = if i % 4 == 1 {
            let parent = table_name(i - 1);
            (
                format!("{}_id", NOUNS[(i - 1) % 20]),
                format!(" REFERENCES \"{parent}\"(id)"),
            )
        } else {
            ("parent_id".to_string(), String::new())
        };
        out.push(format!(
            "CREATE TABLE \"{t}\" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT, amount REAL, created_at TEXT, {ref_col} INTEGER{fk}, note TEXT, qty INTEGER)"
        ));
        let rows: Vec<String> = (1..=4)
            .map(|r| {
                format!(
                    "({r}, '{} {r}', '{}', {}.5, '2024-0{r}-1{r} 10:00:00', {}, 'note {r}', {})",
                    NOUNS[i % 20],
                    STATUSES[(r + i) % 4],
                    r * 10 + i,
                    (r % 4) + 1,
                    r * 3
                )
            })
            .collect();
        out.push(format!("INSERT INTO \"{t}\" VALUES {}", rows.join(", ")));
    }
    out
}

fn spec(path: &Path, allow_writes: bool) -> ConnectSpec {
    ConnectSpec {
        kind: Kind::Sqlite,
        host: None,
        port: None,
        database: None,
        username: None,
        password: None,
        path: Some(path.display().to_string()),
        tls: TlsMode::Disable,
        allow_writes,
    }
}

fn opts() -> QueryOptions {
    QueryOptions {
        max_rows: 100,
        statement_timeout: Duration::from_secs(30),
        deadline: tokio::time::Instant::now() + Duration::from_secs(30),
    }
}

async fn create_schema(path: &Path) {
    std::fs::write(path, b"").expect("create the database file");
    let db = Database::connect(spec(path, true), PoolSettings::default())
        .await
        .expect("connect");
    for sql in schema_statements() {
        db.query(&sql, opts())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    db.close().await;
}

/// (question, correct SQL) pairs over various tables.
fn questions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in 0..50 {
        let i = (k * 37) % 100;
        let noun = NOUNS[i % 20];
        let place = PLACES[i / 20];
        let t = table_name(i);
        let (q, sql) = match k % 3 {
            0 => (
                format!("How many {noun}s in {place} are there per status?"),
                format!(
                    "SELECT status, count(*) AS n FROM \"{t}\" GROUP BY status ORDER BY status"
                ),
            ),
            1 => (
                format!("What is the total amount of {noun}s in {place}?"),
                format!("SELECT sum(amount) AS total FROM \"{t}\""),
            ),
            _ => (
                format!("List the names and quantities of {place} {noun}s created in 2024"),
                format!(
                    "SELECT name, qty FROM \"{t}\" WHERE created_at LIKE '2024%' ORDER BY name"
                ),
            ),
        };
        out.push((q, sql));
    }
    out
}

fn question_of(body: &Value) -> String {
    let text = body["messages"][0]["content"]
        .as_array()
        .and_then(|parts| parts.iter().find_map(|p| p["text"].as_str()))
        .or_else(|| body["messages"][0]["content"].as_str())
        .unwrap_or("");
    text.rsplit_once("Question: ")
        .map(|(_, q)| q.trim().to_string())
        .unwrap_or_default()
}

fn handler(answers: Arc<HashMap<String, String>>) -> Handler {
    Arc::new(move |body: &Value| {
        let sql = answers
            .get(&question_of(body))
            .cloned()
            .unwrap_or_else(|| "SELECT 1".into());
        Step::now(Reply::ToolUse {
            name: "submit_sql".into(),
            input: json!({"sql": sql, "explanation": "bench"}),
            text: None,
        })
    })
}

#[derive(Default)]
struct Series {
    overhead: Vec<f64>,
    e2e: Vec<f64>,
    context: Vec<f64>,
    llm: Vec<f64>,
    sql: Vec<f64>,
    latency: Vec<f64>,
    /// end-to-end in run order (before sorting), to see a trend as the notebook grows.
    e2e_in_order: Vec<f64>,
    bad: HashMap<String, usize>,
}

impl Series {
    fn sort(&mut self) {
        for v in [
            &mut self.overhead,
            &mut self.e2e,
            &mut self.context,
            &mut self.llm,
            &mut self.sql,
            &mut self.latency,
        ] {
            v.sort_by(f64::total_cmp);
        }
    }
}

async fn runs(
    c: &reqwest::Client,
    base: &str,
    qs: &[(String, String)],
    n: usize,
    conn: i64,
    notebook: Option<i64>,
) -> Series {
    let mut s = Series::default();
    let url = format!("{base}/mcp_agent/text-to-sql/");
    for i in 0..n {
        let (q, _) = &qs[i % qs.len()];
        let t0 = Instant::now();
        let resp = c
            .post(&url)
            .json(&json!({"query": q, "connection_id": conn, "notebook_id": notebook}))
            .send()
            .await;
        let (status, body) = match resp {
            Ok(r) => {
                let st = r.status().as_u16();
                (st, r.json::<Value>().await.unwrap_or(Value::Null))
            }
            Err(e) => {
                *s.bad.entry(format!("transport: {e}")).or_default() += 1;
                continue;
            }
        };
        let latency_ms = t0.elapsed().as_secs_f64() * 1000.0;
        if status != 200 || body["status"] != "succeeded" || body["iterations"] != 1 {
            *s.bad
                .entry(format!(
                    "HTTP {status} status={} iterations={}",
                    body["status"], body["iterations"]
                ))
                .or_default() += 1;
            continue;
        }
        let t = &body["timings_ms"];
        let (total, llm, sql, context) = (
            t["total"].as_f64().unwrap_or(f64::NAN),
            t["llm"].as_f64().unwrap_or(f64::NAN),
            t["sql"].as_f64().unwrap_or(f64::NAN),
            t["context"].as_f64().unwrap_or(f64::NAN),
        );
        s.overhead.push(total - llm - sql);
        s.e2e.push(latency_ms - llm - sql);
        s.context.push(context);
        s.llm.push(llm);
        s.sql.push(sql);
        s.latency.push(latency_ms);
    }
    s.e2e_in_order = s.e2e.clone();
    s.sort();
    s
}

/// Median of the first and of the last `k` values in run order.
fn first_last(v: &[f64], k: usize) -> (f64, f64) {
    let k = k.min(v.len());
    let med = |xs: &[f64]| {
        let mut xs = xs.to_vec();
        xs.sort_by(f64::total_cmp);
        pct(&xs, 50.0)
    };
    (med(&v[..k]), med(&v[v.len() - k..]))
}

async fn baseline_healthz(c: &reqwest::Client, base: &str, n: usize) -> Vec<f64> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        let r = c
            .get(format!("{base}/healthz"))
            .send()
            .await
            .expect("healthz");
        let _ = r.bytes().await;
        v.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    v.sort_by(f64::total_cmp);
    v
}

/// The same answers through `POST /api/v1/query`: latency and latency minus the statement time.
async fn baseline_query(
    c: &reqwest::Client,
    base: &str,
    qs: &[(String, String)],
    n: usize,
    conn: i64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut lat, mut over) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let sql = &qs[i % qs.len()].1;
        let t0 = Instant::now();
        let r = c
            .post(format!("{base}/api/v1/query"))
            .json(&json!({"connection_id": conn, "sql": sql, "max_rows": 100}))
            .send()
            .await
            .expect("query");
        let body: Value = r.json().await.expect("query body");
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        lat.push(ms);
        over.push(ms - body["elapsed_ms"].as_f64().unwrap_or(0.0));
    }
    lat.sort_by(f64::total_cmp);
    over.sort_by(f64::total_cmp);
    (lat, over)
}

fn line(name: &str, v: &[f64], base_p50: f64) {
    println!(
        "{name:<58} {:>9.3} {:>9.3} {:>9.3} {:>10.2}",
        pct(v, 50.0),
        pct(v, 99.0),
        pct(v, 100.0),
        pct(v, 50.0) / base_p50
    );
}

fn time_us<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t0 = Instant::now();
    let out = f();
    (out, t0.elapsed().as_secs_f64() * 1e6)
}

/// The agent's pieces in this process on the same schema, `n` times each.
async fn breakdown(path: &Path, qs: &[(String, String)], n: usize) {
    let db = Database::connect(spec(path, false), PoolSettings::default())
        .await
        .expect("connect");
    let catalog: Catalog = db
        .introspect(Duration::from_secs(30))
        .await
        .expect("introspect");
    let kind = db.kind();
    let (
        mut rank,
        mut ctx_empty,
        mut ctx_full,
        mut samples_seq,
        mut samples_par,
        mut check,
        mut clone,
    ) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut graph_build, mut link_prebuilt) = (vec![], vec![]);
    let mut prompt_bytes = 0usize;
    let mut tables_in = 0usize;
    for i in 0..n {
        let (q, answer) = &qs[i % qs.len()];
        // The public one-shot entry point (prepares the schema on every call), for reference.
        let (_, us) = time_us(|| querypad_agent::linking::rank_tables(&catalog, q));
        rank.push(us);
        // `link` prepares the schema (join graph, split names) on every call; the runner
        // prepares it once per catalog and then pays only `link_with`:
        let (prepared, us) = time_us(|| querypad_agent::linking::Prepared::new(&catalog));
        graph_build.push(us);
        let (linking, us) = time_us(|| {
            querypad_agent::linking::link_with(
                &catalog,
                &prepared,
                q,
                None,
                querypad_agent::linking::LinkBudget { max_columns: 400 },
            )
        });
        link_prebuilt.push(us);
        let ranked = &linking.ranked;
        let (_, us) = time_us(|| Arc::new(catalog.clone()));
        clone.push(us);
        // The 5 sample-row queries as the runner issues them (one after another) …
        let stmts: Vec<(String, String)> = ranked
            .iter()
            .take(5)
            .map(|r| {
                let t = &catalog.tables[r.index];
                (
                    table_ref(t),
                    format!("SELECT * FROM {} LIMIT 3", quoted_table_ref(kind, t)),
                )
            })
            .collect();
        let one = |sql: String| {
            let db = db.clone();
            async move {
                let checked = querypad_agent::exec::check_read_only(&db, &sql, 3).ok()?;
                querypad_agent::exec::run(
                    &db,
                    &checked,
                    3,
                    Duration::from_secs(30),
                    tokio::time::Instant::now() + Duration::from_secs(30),
                )
                .await
                .ok()
                .map(|rs| rs.rows)
            }
        };
        let t0 = Instant::now();
        let mut samples: Samples = HashMap::new();
        for (name, sql) in &stmts {
            if let Some(rows) = one(sql.clone()).await {
                samples.insert(name.clone(), rows);
            }
        }
        samples_seq.push(t0.elapsed().as_secs_f64() * 1e6);
        // … and concurrently, for comparison.
        let t0 = Instant::now();
        let _ = futures_util::future::join_all(stmts.iter().map(|(_, sql)| one(sql.clone()))).await;
        samples_par.push(t0.elapsed().as_secs_f64() * 1e6);
        let limits = ContextLimits {
            max_columns: 400,
            ..Default::default()
        };
        let (_, us) = time_us(|| {
            Context::build_linked(kind, &catalog, &linking, &[], &HashMap::new(), limits)
        });
        ctx_empty.push(us);
        let (ctx, us) =
            time_us(|| Context::build_linked(kind, &catalog, &linking, &[], &samples, limits));
        ctx_full.push(us);
        prompt_bytes = ctx.schema_text.len();
        tables_in = ctx.tables.len();
        let (_, us) = time_us(|| querypad_agent::exec::check_read_only(&db, answer, 100));
        check.push(us);
    }
    db.close().await;
    for v in [
        &mut rank,
        &mut ctx_empty,
        &mut ctx_full,
        &mut samples_seq,
        &mut samples_par,
        &mut check,
        &mut clone,
        &mut graph_build,
        &mut link_prebuilt,
    ] {
        v.sort_by(f64::total_cmp);
    }
    println!();
    println!(
        "in-process breakdown on the same schema ({n} questions; µs; the context keeps {tables_in} of 100 tables, {prompt_bytes} bytes of schema text)"
    );
    println!(
        "{:<58} {:>9} {:>9} {:>9} {:>10}",
        "piece", "p50 µs", "p99 µs", "max µs", "p50/total"
    );
    // As the runner does it on a cold sample cache: one link with the prepared schema, samples
    // concurrently, the context from that linking, the check. (With the per-schema sample cache
    // warm, the samples drop out.)
    let total = pct(&link_prebuilt, 50.0)
        + pct(&ctx_full, 50.0)
        + pct(&samples_par, 50.0)
        + pct(&check, 50.0);
    line(
        "rank_tables (one-shot: prepares the schema per call)",
        &rank,
        total,
    );
    line(
        "  of which Prepared::new (join graph, split names; per call)",
        &graph_build,
        total,
    );
    line(
        "  link_with a prepared schema (budget 400 columns; the runner)",
        &link_prebuilt,
        total,
    );
    line("Context::build_linked without samples", &ctx_empty, total);
    line(
        "Context::build_linked with samples (as the runner)",
        &ctx_full,
        total,
    );
    line("5 sample queries, one after another", &samples_seq, total);
    line(
        "5 sample queries, concurrently (join_all, as the runner)",
        &samples_par,
        total,
    );
    line("check_read_only of the answer", &check, total);
    line(
        "Arc::new(catalog.clone()) (no longer per run: the Arc is shared)",
        &clone,
        total,
    );
    println!(
        "sum of p50s as the runner, cold sample cache (link_with + context + concurrent samples + check): {total:.1} µs"
    );
}

fn main() {
    let mut runs_n = 1000usize;
    let mut warmup = 20usize;
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs_n = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--warmup" => warmup = it.next().and_then(|v| v.parse().ok()).expect("--warmup N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(bench(runs_n, warmup));
}

async fn bench(runs_n: usize, warmup: usize) {
    let binary = common::server_binary();
    let dir = std::env::temp_dir().join(format!("querypad-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("schema100.sqlite");
    create_schema(&path).await;
    let qs = questions();
    let answers: Arc<HashMap<String, String>> = Arc::new(qs.iter().cloned().collect());
    let fake = FakeLlm::anthropic_with(handler(answers)).await;
    let c = reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let env = [
        ("ANTHROPIC_API_KEY", "fake"),
        ("ANTHROPIC_BASE_URL", fake.base_url.as_str()),
    ];
    let mut server = Server::start(&binary, &env, &c).await;
    let base = server.base.clone();
    let conn: Value = c
        .post(format!("{base}/api/v1/connections"))
        .json(&json!({"name": "schema100", "kind": "sqlite", "path": path.display().to_string()}))
        .send()
        .await
        .expect("create connection")
        .json()
        .await
        .expect("connection body");
    let conn = conn["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no connection id: {conn}"));
    let nb: Value = c
        .post(format!("{base}/api/v1/notebooks"))
        .json(&json!({"title": "overhead bench", "connection_id": conn}))
        .send()
        .await
        .expect("create notebook")
        .json()
        .await
        .expect("notebook body");
    let nb = nb["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no notebook id: {nb}"));

    let warm = runs(&c, &base, &qs, warmup, conn, None).await;
    if !warm.bad.is_empty() {
        server.stop();
        panic!("warm-up runs failed: {:?}", warm.bad);
    }
    let healthz = baseline_healthz(&c, &base, runs_n).await;
    let (q_lat, q_over) = baseline_query(&c, &base, &qs, runs_n, conn).await;
    let t0 = Instant::now();
    let with_nb = runs(&c, &base, &qs, runs_n, conn, Some(nb)).await;
    let wall_nb = t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let without = runs(&c, &base, &qs, runs_n, conn, None).await;
    let wall_none = t0.elapsed().as_secs_f64();
    let cells: Value = c
        .get(format!("{base}/api/v1/notebooks/{nb}/cells"))
        .send()
        .await
        .expect("cells")
        .json()
        .await
        .unwrap_or(Value::Null);
    let log = server.stop();
    drop(fake);

    let base_p50 = pct(&healthz, 50.0);
    println!();
    println!(
        "agent overhead: {runs_n} sequential runs per phase on a 100-table SQLite schema (800 columns, 25 FKs), fake LLM with zero latency, 1 iteration per run; {warmup} warm-up runs not counted"
    );
    println!("all figures in ms; ratio = p50 / p50 of GET /healthz measured in the same run");
    println!(
        "{:<58} {:>9} {:>9} {:>9} {:>10}",
        "figure", "p50 ms", "p99 ms", "max ms", "ratio"
    );
    line("baseline: GET /healthz round trip", &healthz, base_p50);
    line(
        "baseline: POST /api/v1/query latency (same answer SQL)",
        &q_lat,
        base_p50,
    );
    line(
        "baseline: POST /api/v1/query latency − elapsed_ms",
        &q_over,
        base_p50,
    );
    for (name, s, wall) in [
        ("with notebook_id (seed body)", &with_nb, wall_nb),
        ("notebook_id null", &without, wall_none),
    ] {
        println!(
            "-- {name}: {} runs ok in {wall:.1} s, failed: {:?}",
            s.overhead.len(),
            s.bad
        );
        line(
            "  overhead = timings total − llm − sql",
            &s.overhead,
            base_p50,
        );
        line("  end-to-end = HTTP latency − llm − sql", &s.e2e, base_p50);
        line(
            "  timings context (incl. 5 sample queries)",
            &s.context,
            base_p50,
        );
        line(
            "  timings llm (zero-latency fake round trip)",
            &s.llm,
            base_p50,
        );
        line("  timings sql (the answer)", &s.sql, base_p50);
        line("  HTTP latency", &s.latency, base_p50);
        let (a, b) = first_last(&s.e2e_in_order, 100);
        println!(
            "  end-to-end median of the first 100 runs {a:.3} ms, of the last 100 runs {b:.3} ms (ratio {:.2})",
            b / a
        );
    }
    if let Some(cells) = cells.as_array() {
        println!("notebook cells after the runs: {}", cells.len());
    }
    println!("targets: overhead p50 <= 1 ms, p99 <= 5 ms");
    println!("{log}");
    breakdown(&path, &qs, runs_n).await;
    let _ = std::fs::remove_dir_all(&dir);
}
