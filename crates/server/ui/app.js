// Querypad's web UI: notebooks with SQL and markdown cells, results as grids and charts, the
// agent with live steps, connections and the schema browser. Plain ES modules, no build step.
// Every piece of user or database text reaches the page as a text node (see render.js).

import { api, get, post, patch, put, del, setCsrf, setUnauthorizedHandler } from './api.js';
import { h, fill, markdown, grid, toCsv, chartPlan, chart } from './render.js';

const $ = (id) => document.getElementById(id);

const state = {
  auth: { auth_required: false, signed_in: false },
  notebooks: [],
  connections: [],
  nb: null,
  results: new Map(), // cell id -> last result run in this page
  charts: new Set(), // cell ids showing a chart
  editors: new Map(), // cell id -> CodeMirror
  pending: new Map(), // cell id -> {timer, source}
  editingMd: new Set(),
  schemaFor: null,
  schema: null,
  run: null, // {id, es}
};

// ------------------------------------------------------------------ messages

let alertTimer = null;
function showError(err) {
  const msg = typeof err === 'string' ? err : err && err.message ? err.message : String(err);
  const el = $('alert');
  fill(el, h('span', null, msg), h('button', { type: 'button', class: 'small', 'aria-label': 'Dismiss', onclick: () => (el.hidden = true) }, '×'));
  el.className = 'alert';
  el.hidden = false;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => (el.hidden = true), 12000);
}

function notify(msg) {
  const el = $('alert');
  fill(el, h('span', null, msg));
  el.className = 'alert ok';
  el.hidden = false;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => (el.hidden = true), 3000);
}

const connName = (id) => {
  const c = state.connections.find((c) => c.id === id);
  return c ? c.name : `connection ${id}`;
};

// ------------------------------------------------------------------ sign-in

function showSignIn() {
  document.body.classList.add('signed-out');
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signout').hidden = true;
  $('signin-token').focus();
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const token = $('signin-token').value.trim();
  $('signin-error').textContent = '';
  try {
    const s = await post('/api/v1/session', { token });
    $('signin-token').value = '';
    state.auth = s;
    setCsrf(s.csrf_token);
    $('signin').hidden = true;
    await start();
  } catch (e) {
    $('signin-error').textContent = e.status === 401 ? 'That token is not valid. Check it and try again.' : e.message;
  }
});

$('signout').addEventListener('click', async () => {
  try {
    await del('/api/v1/session');
  } catch (e) {
    /* signed out either way */
  }
  setCsrf(null);
  showSignIn();
});

setUnauthorizedHandler(() => {
  if (state.auth.auth_required) {
    setCsrf(null);
    showSignIn();
    $('signin-error').textContent = 'Your session has ended. Sign in again.';
  }
});

// ------------------------------------------------------------------ boot and routing

async function boot() {
  try {
    state.auth = await get('/api/v1/session');
  } catch (e) {
    showError(e);
    return;
  }
  if (state.auth.auth_required && !state.auth.signed_in) return showSignIn();
  setCsrf(state.auth.csrf_token);
  await start();
}

async function start() {
  document.body.classList.remove('signed-out');
  $('app').hidden = false;
  $('signout').hidden = !state.auth.auth_required;
  await Promise.all([loadConnections(), loadNotebooks()]);
  await route();
}

window.addEventListener('hashchange', () => route());

async function route() {
  const hash = location.hash || '#/';
  $('nav-connections').removeAttribute('aria-current');
  $('nav-notebooks').removeAttribute('aria-current');
  let m;
  if (hash.startsWith('#/connections')) {
    $('nav-connections').setAttribute('aria-current', 'page');
    return renderConnections();
  }
  $('nav-notebooks').setAttribute('aria-current', 'page');
  if ((m = /^#\/notebooks\/(\d+)/.exec(hash))) return openNotebook(Number(m[1]));
  if (state.notebooks.length) {
    location.replace('#/notebooks/' + state.notebooks[0].id);
    return;
  }
  state.nb = null;
  fill($('main'), h('div', { class: 'empty' }, h('h1', null, 'No notebooks yet'), h('p', null, 'Create one with the form on the left.')));
}

// ------------------------------------------------------------------ notebooks list

async function loadNotebooks() {
  state.notebooks = await get('/api/v1/notebooks');
  renderNotebookList();
}

function renderNotebookList() {
  const current = state.nb && state.nb.id;
  fill($('notebook-list'), state.notebooks.map((nb) =>
    h('li', null, h('a', { href: '#/notebooks/' + nb.id, 'aria-current': nb.id === current ? 'page' : null },
      h('span', { class: 'nb-title' }, nb.title), h('span', { class: 'muted' }, ` ${nb.cell_count} cell${nb.cell_count === 1 ? '' : 's'}`)))));
}

$('new-notebook').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const title = $('new-notebook-title').value.trim();
  if (!title) return;
  try {
    const first = state.connections[0];
    const nb = await post('/api/v1/notebooks', { title, connection_id: first ? first.id : null });
    $('new-notebook-title').value = '';
    await loadNotebooks();
    location.hash = '#/notebooks/' + nb.id;
  } catch (e) {
    showError(e);
  }
});

// ------------------------------------------------------------------ one notebook

async function openNotebook(id, keepScroll) {
  await flushAll();
  let nb;
  try {
    nb = await get('/api/v1/notebooks/' + id);
  } catch (e) {
    if (e.status === 404) {
      fill($('main'), h('div', { class: 'empty' }, h('h1', null, 'Notebook not found'), h('p', null, 'It may have been deleted. Pick another on the left.')));
      return;
    }
    return showError(e);
  }
  const y = window.scrollY;
  state.nb = nb;
  renderNotebookList();
  renderNotebook();
  if (keepScroll) window.scrollTo(0, y);
  loadSchema(nb.connection_id);
}

function renderNotebook() {
  const nb = state.nb;
  state.editors.clear();
  const titleInput = h('input', { id: 'nb-title', value: nb.title, maxlength: '500', required: true });
  const connSelect = h('select', { id: 'nb-connection', onchange: (e) => setConnection(e.target.value) },
    h('option', { value: '' }, '— none —'),
    state.connections.map((c) => h('option', { value: String(c.id), selected: c.id === nb.connection_id }, `${c.name} (${c.kind})`)));
  const header = h('header', { class: 'nb-head' },
    h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); rename(titleInput.value); } },
      h('label', { for: 'nb-title', class: 'sr-only' }, 'Notebook title'),
      titleInput,
      h('button', { type: 'submit' }, 'Rename')),
    h('div', { class: 'row' },
      h('label', { for: 'nb-connection' }, 'Connection'),
      connSelect,
      h('button', { type: 'button', class: 'danger', onclick: deleteNotebook }, 'Delete notebook')));
  const cells = h('div', { class: 'cells', id: 'cells' });
  nb.cells.forEach((c, i) => cells.appendChild(renderCell(c, i)));
  if (!nb.cells.length) cells.appendChild(h('p', { class: 'muted' }, 'This notebook has no cells yet. Add one below, or ask the agent.'));
  const add = h('div', { class: 'row add-cells' },
    h('button', { type: 'button', id: 'add-sql', onclick: () => addCell('sql') }, '+ SQL cell'),
    h('button', { type: 'button', id: 'add-md', onclick: () => addCell('markdown') }, '+ Markdown cell'));
  fill($('main'), h('h1', { class: 'sr-only' }, nb.title), header, cells, add);
  for (const ed of state.editors.values()) ed.refresh();
}

async function rename(title) {
  title = title.trim();
  if (!title) return showError('A notebook needs a title.');
  try {
    state.nb = { ...state.nb, ...(await patch('/api/v1/notebooks/' + state.nb.id, { title })) };
    await loadNotebooks();
    notify('Renamed.');
  } catch (e) {
    showError(e);
  }
}

async function setConnection(value) {
  const connection_id = value ? Number(value) : null;
  try {
    await patch('/api/v1/notebooks/' + state.nb.id, { connection_id });
    state.nb.connection_id = connection_id;
    loadSchema(connection_id);
    notify(connection_id ? `This notebook now runs on ${connName(connection_id)}.` : 'This notebook has no connection.');
  } catch (e) {
    showError(e);
  }
}

async function deleteNotebook() {
  if (!confirm(`Delete the notebook “${state.nb.title}” and all its cells?`)) return;
  try {
    await del('/api/v1/notebooks/' + state.nb.id);
    state.nb = null;
    await loadNotebooks();
    location.hash = state.notebooks.length ? '#/notebooks/' + state.notebooks[0].id : '#/';
    notify('Notebook deleted.');
  } catch (e) {
    showError(e);
  }
}

// ------------------------------------------------------------------ cells

function renderCell(cell, index) {
  const n = state.nb.cells.length;
  const label = `Cell ${index + 1} (${cell.kind === 'sql' ? 'SQL' : 'markdown'})`;
  const tools = h('div', { class: 'cell-tools', role: 'toolbar', 'aria-label': label + ' actions' });
  const body = h('div', { class: 'cell-body' });
  const out = h('div', { class: 'cell-output' });
  const article = h('article', { class: 'cell cell-' + cell.kind, id: 'cell-' + cell.id, 'data-cell-id': cell.id, 'aria-label': label },
    h('div', { class: 'cell-head' },
      h('span', { class: 'cell-kind' }, cell.kind === 'sql' ? 'SQL' : 'Markdown',
        cell.kind === 'sql' && cell.connection_id && cell.connection_id !== state.nb.connection_id
          ? h('span', { class: 'cell-conn' }, ` · runs on ${connName(cell.connection_id)}`) : null),
      tools), body, out);
  if (cell.kind === 'sql') {
    tools.appendChild(h('button', { type: 'button', class: 'primary run', title: 'Run (Ctrl/Cmd+Enter)', onclick: () => runCell(cell.id) }, 'Run'));
    const ta = h('textarea', { 'aria-label': `SQL of cell ${index + 1}` });
    ta.value = cell.source;
    body.appendChild(ta);
    if (window.CodeMirror) {
      const ed = window.CodeMirror.fromTextArea(ta, {
        mode: 'text/x-sql',
        lineNumbers: true,
        viewportMargin: Infinity,
        screenReaderLabel: `SQL of cell ${index + 1}`,
        extraKeys: {
          'Ctrl-Enter': () => runCell(cell.id),
          'Cmd-Enter': () => runCell(cell.id),
          Tab: false,
          'Shift-Tab': false,
        },
      });
      ed.on('change', () => scheduleSave(cell.id, ed.getValue()));
      state.editors.set(cell.id, ed);
    } else {
      ta.addEventListener('input', () => scheduleSave(cell.id, ta.value));
      ta.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          runCell(cell.id);
        }
      });
    }
    renderOutput(cell, out);
  } else {
    const editing = state.editingMd.has(cell.id) || !cell.source.trim();
    if (editing) {
      const ta = h('textarea', { class: 'md-edit', rows: 5, 'aria-label': `Markdown of cell ${index + 1}` });
      ta.value = cell.source;
      ta.addEventListener('input', () => scheduleSave(cell.id, ta.value));
      body.appendChild(ta);
      tools.appendChild(h('button', { type: 'button', onclick: () => { state.editingMd.delete(cell.id); cell.source = ta.value; flushAll().then(() => openNotebook(state.nb.id, true)); } }, 'Done'));
    } else {
      body.appendChild(markdown(cell.source));
      tools.appendChild(h('button', { type: 'button', onclick: () => { state.editingMd.add(cell.id); openNotebook(state.nb.id, true); } }, 'Edit'));
    }
  }
  tools.appendChild(h('button', { type: 'button', class: 'small', 'aria-label': `Move ${label} up`, disabled: index === 0, onclick: () => moveCell(cell.id, -1) }, '↑'));
  tools.appendChild(h('button', { type: 'button', class: 'small', 'aria-label': `Move ${label} down`, disabled: index === n - 1, onclick: () => moveCell(cell.id, 1) }, '↓'));
  tools.appendChild(h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${label}`, onclick: () => deleteCell(cell.id) }, 'Delete'));
  return article;
}

function scheduleSave(cellId, source) {
  const p = state.pending.get(cellId);
  if (p) clearTimeout(p.timer);
  const timer = setTimeout(() => saveCell(cellId), 700);
  state.pending.set(cellId, { timer, source });
}

async function saveCell(cellId) {
  const p = state.pending.get(cellId);
  if (!p) return;
  clearTimeout(p.timer);
  state.pending.delete(cellId);
  try {
    await patch(`/api/v1/notebooks/${state.nb.id}/cells/${cellId}`, { source: p.source });
    const c = state.nb.cells.find((c) => c.id === cellId);
    if (c) c.source = p.source;
  } catch (e) {
    if (e.status !== 404) showError(e);
  }
}

async function flushAll() {
  await Promise.all([...state.pending.keys()].map(saveCell));
}

async function addCell(kind) {
  try {
    const source = kind === 'sql' ? 'SELECT 1;' : '';
    const cell = await post(`/api/v1/notebooks/${state.nb.id}/cells`, { kind, source });
    if (kind === 'markdown') state.editingMd.add(cell.id);
    await openNotebook(state.nb.id, true);
    loadNotebooks().catch(() => {});
    const el = $('cell-' + cell.id);
    if (el) {
      el.scrollIntoView({ block: 'center' });
      const ed = state.editors.get(cell.id);
      if (ed) ed.focus();
      else (el.querySelector('textarea') || el).focus();
    }
  } catch (e) {
    showError(e);
  }
}

async function moveCell(cellId, delta) {
  const ids = state.nb.cells.map((c) => c.id);
  const i = ids.indexOf(cellId);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= ids.length) return;
  [ids[i], ids[j]] = [ids[j], ids[i]];
  try {
    await flushAll();
    await put(`/api/v1/notebooks/${state.nb.id}/cells/order`, { cell_ids: ids });
    await openNotebook(state.nb.id, true);
    const btn = $('cell-' + cellId) && $('cell-' + cellId).querySelector(delta < 0 ? '[aria-label^="Move"][aria-label$="up"]' : '[aria-label^="Move"][aria-label$="down"]');
    if (btn && !btn.disabled) btn.focus();
  } catch (e) {
    showError(e);
  }
}

async function deleteCell(cellId) {
  if (!confirm('Delete this cell?')) return;
  try {
    state.pending.delete(cellId);
    await del(`/api/v1/notebooks/${state.nb.id}/cells/${cellId}`);
    state.results.delete(cellId);
    await openNotebook(state.nb.id, true);
    loadNotebooks().catch(() => {});
    notify('Cell deleted.');
  } catch (e) {
    showError(e);
  }
}

async function runCell(cellId) {
  const el = $('cell-' + cellId);
  if (!el) return;
  const out = el.querySelector('.cell-output');
  const ed = state.editors.get(cellId);
  if (ed) state.pending.set(cellId, { timer: 0, source: ed.getValue() });
  fill(out, h('p', { class: 'muted running', role: 'status' }, 'Running…'));
  el.classList.add('busy');
  const started = performance.now();
  try {
    await saveCell(cellId);
    const res = await post(`/api/v1/notebooks/${state.nb.id}/cells/${cellId}/run`, {});
    res.client_ms = performance.now() - started;
    state.results.set(cellId, res);
  } catch (e) {
    state.results.set(cellId, { error: { code: e.code, message: e.message } });
  } finally {
    el.classList.remove('busy');
  }
  const cell = state.nb.cells.find((c) => c.id === cellId);
  renderOutput(cell, out);
}

function renderOutput(cell, out) {
  const res = state.results.get(cell.id);
  if (!res) {
    const lr = cell.last_run;
    if (lr && lr.error) fill(out, h('p', { class: 'muted' }, `Last run failed: ${lr.error.message || lr.error}`));
    else if (lr) fill(out, h('p', { class: 'muted' }, `Last run: ${lr.row_count} row${lr.row_count === 1 ? '' : 's'}${lr.truncated ? ' (truncated)' : ''} in ${fmtMs(lr.elapsed_ms)}. Run it to see the rows.`));
    else fill(out);
    return;
  }
  fill(out, resultView(cell.id, res));
}

function fmtMs(ms) {
  if (ms === undefined || ms === null) return '?';
  return ms < 1000 ? `${Math.round(ms * 10) / 10} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** The result of a run: meta line, actions, grid or chart; or the error in words. */
function resultView(cellId, res) {
  if (res.error && !(res.rows && res.rows.length)) {
    return h('div', { class: 'result error-box', role: 'alert' }, h('strong', null, 'The query failed. '), res.error.message || String(res.error));
  }
  const count = res.row_count !== undefined ? res.row_count : (res.rows || []).length;
  const meta = h('p', { class: 'meta' },
    h('span', { class: 'row-count' }, `${count} row${count === 1 ? '' : 's'}`),
    ' · ',
    h('span', { class: 'elapsed' }, fmtMs(res.elapsed_ms)),
    res.truncated ? h('span', { class: 'truncated' }, ` · Truncated: only the first ${count} rows are shown. Add a LIMIT or filter to see the rest.`) : null,
    res.limit_added ? h('span', { class: 'muted' }, ' · a LIMIT was added') : null,
    res.rows_affected !== undefined && res.rows_affected !== null ? ` · ${res.rows_affected} rows affected` : null);
  const plan = chartPlan(res);
  const showChart = state.charts.has(cellId) && plan.kind;
  const actions = h('div', { class: 'row result-actions' },
    h('button', { type: 'button', class: 'small', onclick: () => copyCsv(res) }, 'Copy as CSV'),
    h('button', {
      type: 'button', class: 'small chart-toggle', 'aria-pressed': showChart ? 'true' : 'false',
      disabled: !plan.kind, title: plan.kind ? `Show a ${plan.kind} chart` : plan.why,
      onclick: () => { if (state.charts.has(cellId)) state.charts.delete(cellId); else state.charts.add(cellId); const c = state.nb.cells.find((c) => c.id === cellId); renderOutput(c, $('cell-' + cellId).querySelector('.cell-output')); },
    }, showChart ? 'Show table' : plan.kind ? `Chart (${plan.kind})` : 'Chart'));
  const parts = [h('div', { class: 'row spread' }, meta, actions)];
  if (res.error) parts.push(h('p', { class: 'error', role: 'alert' }, `The query stopped part-way: ${res.error.message}`));
  parts.push(showChart ? chart(res, plan) : grid(res));
  return h('div', { class: 'result' }, parts);
}

async function copyCsv(res) {
  const csv = toCsv(res);
  try {
    await navigator.clipboard.writeText(csv);
    notify(`Copied ${res.rows.length} rows as CSV.`);
  } catch (e) {
    // Clipboard refused (e.g. not a secure context): offer the file instead.
    const a = h('a', { href: URL.createObjectURL(new Blob([csv], { type: 'text/csv' })), download: 'result.csv' });
    document.body.appendChild(a);
    a.click();
    a.remove();
    notify('The clipboard is not available here, so the CSV was downloaded instead.');
  }
}

// ------------------------------------------------------------------ agent

const STEP_TEXT = {
  context_built: (d) => `Read the schema: ${d.tables_in_context} of ${d.tables_total} tables and ${d.columns_in_context} columns in context${d.examples ? `, ${d.examples} example${d.examples === 1 ? '' : 's'} from this notebook` : ''}.`,
  llm_call: (d) => (d.error ? `Asking the model failed (try ${d.iteration}): ${d.error}` : `Asked the model (try ${d.iteration}, ${fmtMs(d.ms)}).`),
  tool_called: (d) => (d.error ? `The model's tool ${d.tool} failed: ${d.error}` : `The model looked something up with ${d.tool} (${fmtMs(d.ms)}).`),
  sql_checked: (d) => (d.ok ? 'Checked the SQL: one read-only statement.' : `The SQL was refused: ${d.error}`),
  sql_executed: (d) => (d.error ? `Running the SQL failed: ${d.error}` : `Ran the SQL: ${d.rows} row${d.rows === 1 ? '' : 's'} in ${fmtMs(d.ms)}.`),
  iteration_failed: (d) => `Repairing: ${d.reason}`,
};

function addStep(kind, text, bad) {
  $('agent-steps').appendChild(h('li', { class: 'step step-' + kind + (bad ? ' bad' : ''), 'data-kind': kind }, text));
}

$('agent-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  ask();
});
$('agent-question').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    ask();
  }
});

async function ask() {
  const query = $('agent-question').value.trim();
  if (!query) return $('agent-question').focus();
  if (!state.nb) return showError('Open a notebook first: the answer is added to it as a new cell.');
  const connection_id = state.nb.connection_id;
  if (!connection_id) return showError('Choose the notebook’s connection first (at the top of the notebook).');
  if (state.run) return;
  fill($('agent-steps'));
  fill($('agent-answer'));
  let run;
  try {
    run = await post('/api/v1/agent/runs', { query, connection_id, notebook_id: state.nb.id });
  } catch (e) {
    fill($('agent-answer'), h('p', { class: 'error' }, e.message));
    return;
  }
  $('agent-ask').disabled = true;
  $('agent-cancel').hidden = false;
  addStep('started', `Started on ${connName(connection_id)}.`);
  const es = new EventSource(run.events_url);
  state.run = { id: run.run_id, es, notebookId: state.nb.id };
  for (const kind of Object.keys(STEP_TEXT)) {
    es.addEventListener(kind, (e) => {
      const d = JSON.parse(e.data);
      addStep(kind, STEP_TEXT[kind](d), d.error || d.ok === false || kind === 'iteration_failed');
    });
  }
  es.addEventListener('finished', (e) => {
    es.close();
    finishRun(JSON.parse(e.data));
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED && state.run && state.run.es === es) {
      endRun();
      fill($('agent-answer'), h('p', { class: 'error' }, 'Lost the live progress. The answer is still stored: reload the notebook in a moment.'));
    }
  };
}

function endRun() {
  state.run = null;
  $('agent-ask').disabled = false;
  $('agent-cancel').hidden = true;
}

$('agent-cancel').addEventListener('click', async () => {
  if (!state.run || state.run.cancelled) return;
  state.run.cancelled = true;
  addStep('cancel', 'Cancelling…');
  try {
    await post(`/api/v1/agent/runs/${state.run.id}/cancel`);
  } catch (e) {
    if (e.code !== 'run_finished') showError(e);
  }
});

const ADVICE = {
  degraded: 'This is the last SQL that ran, not a checked answer. Read it before trusting it; ask again with the table or column names, or edit the cell.',
  failed: 'Nothing usable came back. Rephrase the question (name the tables or columns you mean), check the connection under Connections, or write the SQL in a cell yourself.',
  cancelled: 'You cancelled the run. Ask again when you are ready; any SQL it had run is shown above.',
};

async function finishRun(d) {
  const notebookId = state.run && state.run.notebookId;
  const cancelled = state.run && state.run.cancelled;
  endRun();
  const r = d.result || {};
  const status = cancelled && (d.status || r.status) !== 'succeeded' ? 'cancelled' : d.status || r.status;
  const words = { succeeded: 'Answered', degraded: 'Partial answer', failed: 'No answer', cancelled: 'Cancelled' }[status] || status;
  addStep('finished', `${words} in ${fmtMs(d.elapsed_ms)}.`, status !== 'succeeded');
  const message = d.message || r.message || '';
  const box = h('div', { class: 'answer-box status-' + status },
    h('p', null, message.startsWith(words) ? null : h('strong', { class: 'status' }, words + '. '), message),
    status !== 'succeeded' ? h('p', { class: 'advice' }, ADVICE[status] || ADVICE.failed) : null,
    r.explanation ? h('p', { class: 'muted' }, r.explanation) : null,
    r.sql ? h('pre', { class: 'sql' }, h('code', null, r.sql)) : null,
    r.cell_id ? h('p', null, h('a', { href: '#cell-' + r.cell_id, onclick: (e) => { e.preventDefault(); focusCell(r.cell_id); } }, 'Go to the new cell')) : null);
  fill($('agent-answer'), box);
  if (r.cell_id && state.nb && state.nb.id === notebookId) {
    if (r.columns && r.columns.length) {
      state.results.set(r.cell_id, {
        columns: r.columns, rows: r.rows, row_count: r.row_count, truncated: r.truncated,
        elapsed_ms: r.timings_ms && r.timings_ms.sql,
      });
    }
    await openNotebook(notebookId, true);
    await loadNotebooks();
    focusCell(r.cell_id);
  }
}

function focusCell(id) {
  const el = $('cell-' + id);
  if (!el) return;
  el.scrollIntoView({ block: 'start', behavior: 'smooth' });
  el.classList.add('flash');
  setTimeout(() => el.classList.remove('flash'), 2000);
}

// ------------------------------------------------------------------ schema browser

async function loadSchema(connectionId, refresh) {
  const body = $('schema-body');
  state.schemaFor = connectionId;
  if (!connectionId) {
    state.schema = null;
    fill(body, h('p', { class: 'muted' }, 'Choose a connection for this notebook to see its tables.'));
    return;
  }
  fill(body, h('p', { class: 'muted' }, 'Reading the schema…'));
  try {
    const sc = await get(`/api/v1/connections/${connectionId}/schema${refresh ? '?refresh=true' : ''}`);
    if (state.schemaFor !== connectionId) return;
    state.schema = sc;
    renderSchema();
  } catch (e) {
    if (state.schemaFor === connectionId) fill(body, h('p', { class: 'error' }, e.message));
  }
}

function renderSchema() {
  const sc = state.schema;
  if (!sc) return;
  const q = $('schema-filter').value.trim().toLowerCase();
  const tables = sc.tables.filter((t) => !q || t.name.toLowerCase().includes(q) || t.columns.some((c) => c.name.toLowerCase().includes(q)));
  const list = h('ul', { class: 'tables' }, tables.map((t) => {
    const fk = new Map();
    for (const f of t.foreign_keys || []) f.columns.forEach((c, i) => fk.set(c, `${f.ref_table}.${f.ref_columns[i] || ''}`));
    const name = t.schema && t.schema !== 'public' && t.schema !== 'main' ? `${t.schema}.${t.name}` : t.name;
    return h('li', null, h('details', { open: q ? true : null },
      h('summary', null, h('span', { class: 'tname' }, name), h('span', { class: 'muted' }, ` ${t.kind || 'table'}${t.row_estimate !== null && t.row_estimate !== undefined ? ` · ~${t.row_estimate} rows` : ''}`)),
      h('ul', { class: 'columns' }, t.columns.map((c) => h('li', null,
        h('span', { class: 'cname' }, c.name), ' ',
        h('span', { class: 'ctype' }, c.data_type),
        (t.primary_key || []).includes(c.name) ? h('span', { class: 'key pk', title: 'primary key' }, 'PK') : null,
        fk.has(c.name) ? h('span', { class: 'key fk', title: 'foreign key to ' + fk.get(c.name) }, '→ ' + fk.get(c.name)) : null,
        c.nullable ? null : h('span', { class: 'muted' }, ' not null'))))));
  }));
  fill($('schema-body'), h('p', { class: 'muted' }, `${connName(sc.connection_id)}: ${sc.tables.length} tables`), list);
}

$('schema-filter').addEventListener('input', renderSchema);
$('schema-refresh').addEventListener('click', () => loadSchema(state.schemaFor, true));

// ------------------------------------------------------------------ connections

async function loadConnections() {
  state.connections = await get('/api/v1/connections');
}

async function renderConnections(editing) {
  await flushAll();
  state.nb = null;
  renderNotebookList();
  try {
    await loadConnections();
  } catch (e) {
    return showError(e);
  }
  const rows = state.connections.map((c) => {
    const where = c.kind === 'sqlite' ? c.path : `${c.username ? c.username + '@' : ''}${c.host}${c.port ? ':' + c.port : ''}/${c.database || ''}`;
    const status = h('span', { class: 'test-status', role: 'status', id: 'test-status-' + c.id });
    return h('tr', { 'data-connection-id': c.id },
      h('td', null, c.name), h('td', null, c.kind), h('td', { class: 'wrap' }, where || ''),
      h('td', null, c.has_password ? 'stored' : '—'),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small', 'aria-label': `Test ${c.name}`, onclick: () => testConnection(c, status) }, 'Test'),
        h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${c.name}`, onclick: () => renderConnections(c) }, 'Edit'),
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${c.name}`, onclick: () => deleteConnection(c) }, 'Delete'),
        status));
  });
  fill($('main'),
    h('h1', null, 'Connections'),
    h('div', { class: 'table-scroll' }, h('table', { class: 'list' },
      h('thead', null, h('tr', null, ['Name', 'Kind', 'Where', 'Password', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows))),
    connectionForm(editing));
}

function field(id, label, input, hint) {
  return h('div', { class: 'field', id: 'field-' + id }, h('label', { for: id }, label), input, hint ? h('small', { class: 'muted', id: id + '-hint' }, hint) : null);
}

function connectionForm(c) {
  const editing = !!c;
  const v = c || { kind: 'sqlite', tls_mode: 'prefer' };
  const kind = h('select', { id: 'conn-kind', name: 'kind', disabled: editing },
    [['sqlite', 'SQLite file'], ['postgres', 'PostgreSQL'], ['mysql', 'MySQL / MariaDB']].map(([k, t]) => h('option', { value: k, selected: v.kind === k }, t)));
  const tls = h('select', { id: 'conn-tls', name: 'tls_mode' },
    ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'].map((t) => h('option', { value: t, selected: v.tls_mode === t }, t)));
  const input = (id, name, val, extra) => h('input', { id, name, value: val === null || val === undefined ? '' : String(val), ...extra });
  const pw = input('conn-password', 'password', '', {
    type: 'password', autocomplete: 'new-password',
    placeholder: editing && v.has_password ? 'stored — leave empty to keep it' : '',
    'aria-describedby': 'conn-password-hint',
  });
  const clearPw = h('input', { type: 'checkbox', id: 'conn-clear-password', name: 'clear_password' });
  const form = h('form', { class: 'card conn-form', id: 'conn-form', 'aria-labelledby': 'conn-form-title' },
    h('h2', { id: 'conn-form-title' }, editing ? `Edit ${v.name}` : 'Add a connection'),
    h('div', { class: 'grid2' },
      field('conn-name', 'Name', input('conn-name', 'name', v.name, { required: true, maxlength: '200' })),
      field('conn-kind', 'Kind', kind),
      field('conn-path', 'SQLite file path', input('conn-path', 'path', v.path, { placeholder: '/srv/data/app.db' })),
      field('conn-host', 'Host', input('conn-host', 'host', v.host, { placeholder: 'db.internal' })),
      field('conn-port', 'Port', input('conn-port', 'port', v.port, { inputmode: 'numeric', placeholder: 'default' })),
      field('conn-database', 'Database', input('conn-database', 'database', v.database)),
      field('conn-username', 'User', input('conn-username', 'username', v.username, { autocomplete: 'off' })),
      field('conn-password', 'Password', pw, 'Write-only: stored encrypted and never shown again.'),
      editing && v.has_password ? h('div', { class: 'field check', id: 'field-conn-clear' }, clearPw, h('label', { for: 'conn-clear-password' }, 'Remove the stored password')) : null,
      field('conn-tls', 'TLS', tls)),
    h('div', { class: 'field check' }, h('input', { type: 'checkbox', id: 'conn-writes', name: 'allow_writes', checked: !!v.allow_writes }),
      h('label', { for: 'conn-writes' }, 'Allow statements that write (otherwise sessions are read-only)')),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'primary' }, editing ? 'Save changes' : 'Add connection'),
      editing ? h('button', { type: 'button', onclick: () => renderConnections() }, 'Cancel') : null),
    h('p', { class: 'error', id: 'conn-error', role: 'alert' }));
  const sync = () => {
    const k = kind.value;
    for (const id of ['conn-host', 'conn-port', 'conn-database', 'conn-username', 'conn-password', 'conn-tls', 'conn-clear']) {
      const f = form.querySelector('#field-' + id);
      if (f) f.hidden = k === 'sqlite';
    }
    form.querySelector('#field-conn-path').hidden = k !== 'sqlite';
  };
  kind.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const val = (id) => form.querySelector('#' + id).value.trim();
    const k = kind.value;
    const body = { name: val('conn-name') };
    if (k === 'sqlite') body.path = val('conn-path');
    else {
      const port = val('conn-port');
      if (port && !/^\d+$/.test(port)) {
        form.querySelector('#conn-error').textContent = 'The port must be a number.';
        return;
      }
      Object.assign(body, {
        host: val('conn-host'), port: port ? Number(port) : null, database: val('conn-database'),
        username: val('conn-username') || null, tls_mode: tls.value,
      });
      const p = pw.value;
      if (p) body.password = p;
      else if (editing && clearPw.checked) body.password = null;
    }
    body.allow_writes = form.querySelector('#conn-writes').checked;
    try {
      if (editing) {
        await patch('/api/v1/connections/' + c.id, body);
        notify(`Saved ${body.name}.`);
      } else {
        body.kind = k;
        if (body.port === null) delete body.port;
        if (body.username === null) delete body.username;
        const created = await post('/api/v1/connections', body);
        notify(`Added ${created.name}. Test it with its Test button.`);
      }
      pw.value = '';
      await renderConnections();
    } catch (e) {
      form.querySelector('#conn-error').textContent = e.message;
    }
  });
  return form;
}

async function testConnection(c, status) {
  fill(status, 'Testing…');
  status.className = 'test-status';
  try {
    const r = await post(`/api/v1/connections/${c.id}/test`);
    fill(status, `OK: ${r.flavor} ${r.version} (${fmtMs(r.rtt_ms)})`);
    status.className = 'test-status ok';
  } catch (e) {
    fill(status, `Failed: ${e.message}`);
    status.className = 'test-status bad';
  }
}

async function deleteConnection(c) {
  if (!confirm(`Delete the connection “${c.name}”? Notebooks using it lose their connection.`)) return;
  try {
    await del('/api/v1/connections/' + c.id);
    notify(`Deleted ${c.name}.`);
    await renderConnections();
  } catch (e) {
    showError(e);
  }
}

window.addEventListener('beforeunload', () => {
  // Best effort: save what is still waiting.
  for (const [id, p] of state.pending) {
    if (state.nb) api('PATCH', `/api/v1/notebooks/${state.nb.id}/cells/${id}`, { source: p.source }).catch(() => {});
  }
});

boot();
