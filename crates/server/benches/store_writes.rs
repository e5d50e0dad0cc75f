//! The metadata store's share of an agent run, in-process, on a fresh store opened exactly as the
//! server opens it (SQLite, WAL, `synchronous=FULL`, a pool of 4):
//!
//! 1. baseline: one trivial write transaction (`meta_set`), i.e. the cost of a commit (fsync);
//! 2. the writes and reads one run makes, sequentially (`get_connection`, `recent_sql_cells`,
//!    `insert_run`, `finish_run` with its answer cell), as ratios of the baseline;
//! 3. `create_cell`, `recent_sql_cells` and `list_cells` (the notebook view) as the notebook
//!    grows (every agent run appends a cell);
//! 4. the same per-run writes from C concurrent runs: throughput and failures (here the group
//!    commit shows: many runs' writes share one transaction and one fsync).
//!
//! `cargo bench -p querypad --bench store_writes -- [--runs 200] [--grow 2000] [--concurrent 200]`

mod common;

use common::pct;
use querypad_store::{
    AnswerCell, CellKind, FinishedRun, NewCell, NewConnection, NewRun, SecretBox, Store,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn ms<T>(f: impl std::future::Future<Output = T>) -> (T, f64) {
    let t0 = Instant::now();
    let out = f.await;
    (out, t0.elapsed().as_secs_f64() * 1000.0)
}

fn response() -> Value {
    json!({"status": "succeeded", "question": "Show me the names of five artists", "sql": "SELECT Name FROM Artist LIMIT 5",
           "columns": [{"name": "Name", "type": "NVARCHAR(120)"}],
           "rows": (0..5).map(|i| json!([format!("Artist number {i}")])).collect::<Vec<_>>(),
           "attempts": [{"iteration": 1, "sql": "SELECT nope FROM Artist", "outcome": "error", "error": "no such column: nope (sql_error)"},
                        {"iteration": 2, "sql": "SELECT Name FROM Artist LIMIT 5", "outcome": "ok", "rows": 5}],
           "timings_ms": {"context": 1.2, "llm": 4004.1, "sql": 0.4, "total": 4006.0}, "message": "Answered in 2 iterations."})
}

fn events() -> Value {
    Value::Array(
        (1..=9)
            .map(|i| json!({"seq": i, "type": "llm_call", "data": {"iteration": 1, "ms": 2001.5, "usage": {"input": 1200, "output": 40}, "elapsed_ms": 2002.0}}))
            .collect(),
    )
}

fn cell(i: usize) -> NewCell {
    NewCell {
        kind: CellKind::Sql,
        source: format!("-- question {i}\nSELECT Name FROM Artist LIMIT 5"),
        position: None,
        connection_id: None,
    }
}

fn summary() -> Value {
    json!({"ran_at": "2026-01-01T00:00:00Z", "connection_id": 1, "row_count": 5, "truncated": false, "elapsed_ms": 0.4, "error": null})
}

struct Stats(BTreeMap<&'static str, Vec<f64>>);

impl Stats {
    fn add(&mut self, k: &'static str, v: f64) {
        self.0.entry(k).or_default().push(v);
    }
}

fn finished(id: &str, resp: &Value, evs: &Value, notebook_id: i64, i: usize) -> FinishedRun {
    FinishedRun {
        id: id.into(),
        status: "succeeded".into(),
        response: resp.clone(),
        events: evs.clone(),
        answer: Some(AnswerCell {
            notebook_id,
            source: cell(i).source,
            connection_id: None,
            last_run: Some(summary()),
        }),
    }
}

fn row(name: &str, v: &mut [f64], base: f64) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name:<44} {:>9.3} {:>9.3} {:>9.3} {:>8.2}",
        pct(v, 50.0),
        pct(v, 99.0),
        pct(v, 100.0),
        pct(v, 50.0) / base
    );
}

fn main() {
    let (mut runs, mut grow, mut concurrent) = (200usize, 2000usize, 200usize);
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = it.next() {
        let v: usize = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{a} N"));
        match a.as_str() {
            "--runs" => runs = v,
            "--grow" => grow = v,
            "--concurrent" => concurrent = v,
            other => panic!("unknown argument {other}"),
        }
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(bench(runs, grow, concurrent));
}

async fn bench(runs: usize, grow: usize, concurrent: usize) {
    let dir = std::env::temp_dir().join(format!("querypad-store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = Arc::new(
        Store::open(
            &dir.join("querypad.db"),
            SecretBox::from_key(&[7u8; 32]).expect("key"),
        )
        .await
        .expect("open store"),
    );
    let conn = store
        .create_connection(NewConnection {
            name: "demo".into(),
            kind: "sqlite".into(),
            host: None,
            port: None,
            database: None,
            username: None,
            password: None,
            path: Some("/nonexistent.sqlite".into()),
            tls_mode: "disable".into(),
            allow_writes: false,
        })
        .await
        .expect("connection");
    let nb = store
        .create_notebook("bench", Some(conn.id))
        .await
        .expect("notebook")
        .id;

    // 1. Baseline: a trivial write transaction.
    let mut st = Stats(BTreeMap::new());
    for i in 0..runs {
        let (_, t) = ms(store.meta_set("bench", &i.to_string())).await;
        st.add("baseline", t);
    }
    let mut base_v = st.0.remove("baseline").unwrap_or_default();
    base_v.sort_by(f64::total_cmp);
    let base = pct(&base_v, 50.0);

    // 2. One run's store work, sequentially, `runs` times (the notebook grows to `runs` cells).
    let resp = response();
    let evs = events();
    for i in 0..runs {
        let id = format!("run_{i:08}");
        let (_, t) = ms(store.get_connection(conn.id)).await;
        st.add("get_connection (read)", t);
        // What the server reads per run for examples (recent SQL cells).
        let (_, t) = ms(store.recent_sql_cells(nb, 50)).await;
        st.add("recent_sql_cells(50) (read)", t);
        let new = NewRun {
            id: id.clone(),
            connection_id: conn.id,
            notebook_id: Some(nb),
            question: "q".into(),
            provider: "anthropic".into(),
            model: "m".into(),
        };
        let (r, t) = ms(store.insert_run(&new)).await;
        r.expect("insert_run");
        st.add("insert_run (write)", t);
        let (r, t) = ms(store.finish_run(finished(&id, &resp, &evs, nb, i))).await;
        r.expect("finish_run");
        st.add("finish_run + answer cell (write)", t);
    }
    println!();
    println!(
        "metadata store, one agent run's reads and writes, sequential, {runs} runs (ms); ratio = p50 / p50 of the baseline commit"
    );
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>8}",
        "operation", "p50 ms", "p99 ms", "max ms", "ratio"
    );
    row(
        "baseline: meta_set (one write transaction)",
        &mut base_v,
        base,
    );
    let mut sum = 0.0;
    for (k, v) in st.0.iter_mut() {
        row(k, v, base);
        sum += pct(v, 50.0);
    }
    println!(
        "sum of p50s per run: {sum:.3} ms ({:.1} x baseline) → at most {:.0} runs/s through the store when they queue one after another",
        sum / base,
        1000.0 / sum
    );

    // 3. Growth: append cells up to `grow`, sampling create_cell, recent_sql_cells, list_cells.
    println!();
    println!("notebook growth vs cells in the notebook (median of 10 each; stops after 180 s)");
    println!(
        "{:>8} {:>16} {:>14} {:>22} {:>14}",
        "cells", "create_cell ms", "x first", "recent_sql_cells ms", "list_cells ms"
    );
    let started = Instant::now();
    let mut k = store.list_cells(nb).await.expect("cells").len();
    let mut first: Option<f64> = None;
    for target in [100usize, 250, 500, 1000, 2000, 5000, 10_000]
        .into_iter()
        .filter(|&t| t <= grow.max(100))
    {
        if started.elapsed() > Duration::from_secs(180) {
            println!("(stopped: 180 s)");
            break;
        }
        while k + 10 < target && started.elapsed() < Duration::from_secs(180) {
            store.create_cell(nb, cell(k)).await.expect("create_cell");
            k += 1;
        }
        let (mut c, mut r, mut l) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..10 {
            let (_, t) = ms(store.create_cell(nb, cell(k))).await;
            c.push(t);
            k += 1;
            let (_, t) = ms(store.recent_sql_cells(nb, 50)).await;
            r.push(t);
            let (_, t) = ms(store.list_cells(nb)).await;
            l.push(t);
        }
        for v in [&mut c, &mut r, &mut l] {
            v.sort_by(f64::total_cmp);
        }
        let cm = pct(&c, 50.0);
        let f = *first.get_or_insert(cm);
        println!(
            "{k:>8} {cm:>16.3} {:>14.2} {:>22.3} {:>14.3}",
            cm / f,
            pct(&r, 50.0),
            pct(&l, 50.0)
        );
    }

    // 4. Concurrency: `concurrent` runs' writes at once on a fresh notebook.
    let nb2 = store
        .create_notebook("bench-concurrent", Some(conn.id))
        .await
        .expect("notebook")
        .id;
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..concurrent {
        let store = store.clone();
        let (resp, evs) = (resp.clone(), evs.clone());
        set.spawn(async move {
            let mut errors: Vec<String> = Vec::new();
            let id = format!("crun_{i:08}");
            let new = NewRun {
                id: id.clone(),
                connection_id: conn.id,
                notebook_id: Some(nb2),
                question: "q".into(),
                provider: "anthropic".into(),
                model: "m".into(),
            };
            if let Err(e) = store.insert_run(&new).await {
                errors.push(format!("insert_run: {e}"));
            }
            if let Err(e) = store.finish_run(finished(&id, &resp, &evs, nb2, i)).await {
                errors.push(format!("finish_run: {e}"));
            }
            errors
        });
    }
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let mut done = 0usize;
    loop {
        match tokio::time::timeout_at(deadline, set.join_next()).await {
            Ok(Some(Ok(errs))) => {
                done += 1;
                for e in errs {
                    let e: String = e
                        .chars()
                        .map(|c| if c.is_ascii_digit() { '#' } else { c })
                        .collect();
                    *failures.entry(e).or_default() += 1;
                }
            }
            Ok(Some(Err(e))) => *failures.entry(format!("task: {e}")).or_default() += 1,
            Ok(None) => break,
            Err(_) => {
                *failures.entry("unfinished after 300 s".into()).or_default() += set.len();
                set.abort_all();
                break;
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cells = store.list_cells(nb2).await.map(|c| c.len()).unwrap_or(0);
    println!();
    println!(
        "{concurrent} concurrent runs' writes (insert_run, then finish_run with its answer cell): {done} done in {wall:.2} s = {:.0} runs/s ({:.1} ms per run; {:.1} x the baseline commit); cells appended: {cells} of {concurrent}",
        done as f64 / wall,
        wall * 1000.0 / done.max(1) as f64,
        wall * 1000.0 / done.max(1) as f64 / base
    );
    if failures.is_empty() {
        println!("failures: none");
    }
    for (e, n) in &failures {
        println!("failures: {n} x {e}");
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
