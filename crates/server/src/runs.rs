//! Runs in progress and recently finished, in memory: their event logs (for SSE with
//! `Last-Event-ID` resume), their cancel tokens, and the final response. The store keeps the
//! permanent record; this registry only serves the live view and is bounded.

use querypad_agent::Event;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A logged event: sequence number (1-based), type, and JSON data.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Sequence number, the SSE `id`.
    pub seq: u64,
    /// Event type, the SSE `event`.
    pub kind: String,
    /// Event data, the SSE `data`.
    pub data: Value,
}

#[derive(Default)]
struct Log {
    events: Vec<Logged>,
    /// Set once the `finished` event (which carries the response) is logged.
    finished: bool,
}

/// One run's live state.
pub struct RunHandle {
    /// Run id.
    pub id: String,
    /// Cancelled by `POST …/cancel` or at shutdown.
    pub cancel: CancellationToken,
    started: tokio::time::Instant,
    log: Mutex<Log>,
    seq_tx: watch::Sender<u64>,
}

impl RunHandle {
    fn new(id: String) -> RunHandle {
        let (seq_tx, _) = watch::channel(0);
        RunHandle {
            id,
            cancel: CancellationToken::new(),
            started: tokio::time::Instant::now(),
            log: Mutex::new(Log::default()),
            seq_tx,
        }
    }

    /// Appends an agent event (the agent's own `finished` is replaced by [`RunHandle::finish`],
    /// which carries the whole response).
    pub fn push(&self, event: &Event) {
        if matches!(event, Event::Finished { .. }) {
            return;
        }
        let mut data = serde_json::to_value(event).unwrap_or(Value::Null);
        if let Some(obj) = data.as_object_mut() {
            obj.remove("type");
            obj.insert(
                "elapsed_ms".into(),
                json!(self.started.elapsed().as_secs_f64() * 1000.0),
            );
        }
        self.append(event.kind().to_string(), data);
    }

    fn append(&self, kind: String, data: Value) {
        let seq = {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            let seq = log.events.len() as u64 + 1;
            log.events.push(Logged { seq, kind, data });
            seq
        };
        self.seq_tx.send_replace(seq);
    }

    /// Records the `finished` event, which carries the final response (kept once, there).
    pub fn finish(&self, response: Value) {
        let data = finished_data(response, Some(self.started.elapsed()));
        let seq = {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            let seq = log.events.len() as u64 + 1;
            log.events.push(Logged {
                seq,
                kind: "finished".into(),
                data,
            });
            log.finished = true;
            seq
        };
        self.seq_tx.send_replace(seq);
    }

    /// The final response, once finished.
    pub fn response(&self) -> Option<Value> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if !log.finished {
            return None;
        }
        log.events.last().map(|e| e.data["result"].clone())
    }

    fn is_finished(&self) -> bool {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).finished
    }

    /// The events so far as JSON (stored with the run, before `finished`).
    pub fn events_json(&self) -> Value {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        Value::Array(
            log.events
                .iter()
                .map(|e| json!({"seq": e.seq, "type": e.kind, "data": e.data}))
                .collect(),
        )
    }

    /// Events after `after`, and whether the run has finished.
    pub fn events_after(&self, after: u64) -> (Vec<Logged>, bool) {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let start = (after as usize).min(log.events.len());
        (log.events[start..].to_vec(), log.finished)
    }

    /// A receiver that changes whenever an event is appended.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.seq_tx.subscribe()
    }

    /// Waits for the response until `deadline`.
    pub async fn wait(&self, deadline: tokio::time::Instant) -> Option<Value> {
        let mut rx = self.subscribe();
        loop {
            if let Some(r) = self.response() {
                return Some(r);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return self.response(),
            }
        }
    }
}

/// The `finished` event's data: status, message, time since the run started (for a replay from
/// the store, the run's own total) and the whole response.
pub fn finished_data(response: Value, elapsed: Option<Duration>) -> Value {
    let elapsed_ms = match elapsed {
        Some(d) => json!(d.as_secs_f64() * 1000.0),
        None => response["timings_ms"]["total"].clone(),
    };
    json!({
        "status": response["status"],
        "message": response["message"],
        "elapsed_ms": elapsed_ms,
        "result": response,
    })
}

/// The registry.
pub struct Runs {
    map: Mutex<HashMap<String, Arc<RunHandle>>>,
    /// Bounds concurrent runs (and so memory).
    pub permits: Arc<tokio::sync::Semaphore>,
    /// Cancels every run at shutdown (children of this token).
    pub shutdown: CancellationToken,
}

/// How long a finished run stays in memory for late SSE readers; after that its events are
/// replayed from the store (where they are durable before the run is marked finished), so this
/// only smooths a reconnect, and short keeps memory flat when thousands of runs end together.
const KEEP_FINISHED: Duration = Duration::from_secs(10);

impl Runs {
    /// A registry allowing `max_concurrent` runs at once.
    pub fn new(max_concurrent: usize) -> Runs {
        Runs {
            map: Mutex::new(HashMap::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(max_concurrent)),
            shutdown: CancellationToken::new(),
        }
    }

    /// Registers a new run with a fresh id.
    pub fn create(&self) -> Arc<RunHandle> {
        let id = new_run_id();
        let mut handle = RunHandle::new(id.clone());
        handle.cancel = self.shutdown.child_token();
        let handle = Arc::new(handle);
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, handle.clone());
        handle
    }

    /// A run still in memory.
    pub fn get(&self, id: &str) -> Option<Arc<RunHandle>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Runs in memory that have not finished.
    pub fn active(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|h| !h.is_finished())
            .count()
    }

    /// Forgets a finished run after a while.
    pub fn expire_later(self: &Arc<Self>, id: String) {
        let runs = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(KEEP_FINISHED).await;
            if let Some(runs) = runs.upgrade() {
                runs.forget(&id);
            }
        });
    }

    /// Drops a run from memory now (its record stays in the store, where readers find it next);
    /// whether it was there.
    pub fn forget(&self, id: &str) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
            .is_some()
    }
}

fn new_run_id() -> String {
    let mut raw = [0u8; 12];
    if getrandom::getrandom(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        raw[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    let mut s = String::from("run_");
    for b in raw {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
