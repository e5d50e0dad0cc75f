// DOM building blocks with no HTML strings: every piece of user or database text goes in as a
// text node. A small markdown renderer, the result grid, CSV, and SVG bar and line charts.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an element: h('button', {class: 'x', onclick: fn}, 'text', child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Creates an SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

/** Removes every child of `el`, then appends `children`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ---------------------------------------------------------------- markdown

function safeHref(url) {
  const u = url.trim();
  if (/^(https?:|mailto:)/i.test(u) || /^[#/]/.test(u)) return u;
  return null;
}

/** Inline markdown: `code`, **bold**, *italic* / _italic_, [text](url). Returns nodes. */
export function inline(text) {
  const out = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/;
  let rest = text;
  while (rest.length) {
    const m = re.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    if (m.index > 0) out.push(rest.slice(0, m.index));
    const t = m[0];
    if (m[1]) out.push(h('code', null, t.slice(1, -1)));
    else if (m[2]) out.push(h('strong', null, inline(t.slice(2, -2))));
    else if (m[3]) out.push(h('em', null, inline(t.slice(1, -1))));
    else {
      const lm = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(t);
      const href = lm && safeHref(lm[2]);
      if (href) out.push(h('a', { href, rel: 'noopener noreferrer', target: '_blank' }, inline(lm[1])));
      else out.push(t);
    }
    rest = rest.slice(m.index + t.length);
  }
  return out;
}

/** Block markdown: headings, paragraphs, fenced code, bullet and numbered lists, rules. */
export function markdown(src) {
  const root = h('div', { class: 'md' });
  const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  let para = [];
  const flush = () => {
    if (para.length) root.appendChild(h('p', null, inline(para.join(' '))));
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (/^```/.test(line)) {
      flush();
      const code = [];
      i++;
      while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
      i++;
      root.appendChild(h('pre', null, h('code', null, code.join('\n'))));
      continue;
    }
    if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      flush();
      root.appendChild(h('h' + Math.min(6, m[1].length + 1), null, inline(m[2].replace(/\s+#+\s*$/, ''))));
      i++;
      continue;
    }
    if (/^\s*([-*_])\s*\1\s*\1[\s\-*_]*$/.test(line)) {
      flush();
      root.appendChild(h('hr'));
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      flush();
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length && (m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]))) {
        list.appendChild(h('li', null, inline(m[2])));
        i++;
      }
      root.appendChild(list);
      continue;
    }
    if (/^\s*>\s?/.test(line)) {
      flush();
      const quote = [];
      while (i < lines.length && /^\s*>\s?/.test(lines[i])) quote.push(lines[i++].replace(/^\s*>\s?/, ''));
      root.appendChild(h('blockquote', null, inline(quote.join(' '))));
      continue;
    }
    if (!line.trim()) {
      flush();
      i++;
      continue;
    }
    para.push(line.trim());
    i++;
  }
  flush();
  return root;
}

// ---------------------------------------------------------------- values

const NUMERIC_TYPE = /int|numeric|decimal|real|float|double|number|money|serial/i;
const TIME_TYPE = /date|time/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

export function isNumericColumn(col, rows, idx) {
  if (NUMERIC_TYPE.test(col.db_type || '')) return true;
  let seen = 0;
  for (const r of rows) {
    const v = r[idx];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number') return false;
    seen++;
  }
  return seen > 0;
}

function isTimeColumn(col, rows, idx) {
  if (TIME_TYPE.test(col.db_type || '')) return true;
  let seen = 0;
  for (const r of rows) {
    const v = r[idx];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string' || !ISO_TIME.test(v)) return false;
    seen++;
  }
  return seen > 0;
}

function display(v) {
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// ---------------------------------------------------------------- grid

/** The result grid: sticky header, NULL distinct from the text "NULL", numbers right-aligned. */
export function grid(result) {
  const cols = result.columns || [];
  const rows = result.rows || [];
  const numeric = cols.map((c, i) => isNumericColumn(c, rows, i));
  const head = h('thead', null, h('tr', null, cols.map((c, i) =>
    h('th', { scope: 'col', class: numeric[i] ? 'num' : null, title: c.db_type || null }, c.name))));
  const body = h('tbody');
  for (const r of rows) {
    const tr = document.createElement('tr');
    for (let i = 0; i < cols.length; i++) {
      const v = r[i];
      if (v === null || v === undefined) {
        tr.appendChild(h('td', { class: 'null' + (numeric[i] ? ' num' : '') }, h('span', { class: 'null-pill', title: 'SQL NULL (no value)' }, 'NULL')));
      } else {
        tr.appendChild(h('td', { class: numeric[i] ? 'num' : null }, display(v)));
      }
    }
    body.appendChild(tr);
  }
  return h('div', { class: 'grid-wrap', tabindex: '0', role: 'region', 'aria-label': 'Result rows' },
    h('table', { class: 'grid' }, head, body),
    rows.length ? null : h('p', { class: 'no-rows muted' }, 'The query ran and returned no rows.'));
}

/** The result as CSV (RFC 4180): NULL becomes an empty field. */
export function toCsv(result) {
  const esc = (v) => {
    if (v === null || v === undefined) return '';
    const t = display(v);
    return /[",\r\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  };
  const lines = [(result.columns || []).map((c) => esc(c.name)).join(',')];
  for (const r of result.rows || []) lines.push(r.map(esc).join(','));
  return lines.join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------- charts

/**
 * Which chart suits a result: `{kind: 'bar'|'line', x, y}` or `{kind: null, why}`.
 * Bar: a text column then a number column; line: a date/time column then a number column.
 */
export function chartPlan(result) {
  const cols = result.columns || [];
  const rows = result.rows || [];
  if (cols.length < 2 || rows.length === 0) return { kind: null, why: 'A chart needs at least two columns and one row.' };
  const y = cols.findIndex((c, i) => i > 0 && isNumericColumn(c, rows, i));
  if (y < 0) return { kind: null, why: 'A chart needs a number column after the first column.' };
  const xCandidates = cols.map((_, i) => i).filter((i) => i !== y);
  const timeX = xCandidates.find((i) => isTimeColumn(cols[i], rows, i));
  if (timeX !== undefined) return { kind: 'line', x: timeX, y };
  const catX = xCandidates.find((i) => !isNumericColumn(cols[i], rows, i));
  if (catX !== undefined) return { kind: 'bar', x: catX, y };
  return { kind: 'bar', x: xCandidates[0], y };
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(n) {
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, '') + 'M';
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1).replace(/\.0$/, '') + 'k';
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

const trim = (t, n) => (t.length > n ? t.slice(0, n - 1) + '…' : t);

/** Draws the chart planned by `chartPlan` as an SVG figure. */
export function chart(result, plan) {
  const cols = result.columns;
  const MAX = plan.kind === 'bar' ? 40 : 500;
  const pts = [];
  for (const r of result.rows) {
    const yv = Number(r[plan.y]);
    if (r[plan.y] === null || !Number.isFinite(yv)) continue;
    pts.push({ x: r[plan.x] === null ? 'NULL' : display(r[plan.x]), y: yv });
    if (pts.length >= MAX) break;
  }
  if (plan.kind === 'line') pts.sort((a, b) => (a.x < b.x ? -1 : a.x > b.x ? 1 : 0));
  const W = 720, H = 300, L = 56, R = 16, T = 16, B = plan.kind === 'bar' ? 84 : 48;
  const iw = W - L - R, ih = H - T - B;
  const minY = Math.min(0, ...pts.map((p) => p.y));
  const maxY = niceMax(Math.max(...pts.map((p) => p.y), 0));
  const yPos = (v) => T + ih - ((v - minY) / (maxY - minY || 1)) * ih;
  const title = `${plan.kind === 'bar' ? 'Bar' : 'Line'} chart of ${cols[plan.y].name} by ${cols[plan.x].name}`;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, class: 'chart-svg', 'data-kind': plan.kind });
  svg.appendChild(s('title', null, title));
  for (let k = 0; k <= 4; k++) {
    const v = minY + ((maxY - minY) * k) / 4;
    const y = yPos(v);
    svg.appendChild(s('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'gridline' }));
    svg.appendChild(s('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, fmt(v)));
  }
  svg.appendChild(s('line', { x1: L, x2: L, y1: T, y2: T + ih, class: 'axis' }));
  svg.appendChild(s('line', { x1: L, x2: W - R, y1: yPos(0), y2: yPos(0), class: 'axis' }));
  if (plan.kind === 'bar') {
    const step = iw / Math.max(1, pts.length);
    const bw = Math.max(2, step * 0.7);
    pts.forEach((p, i) => {
      const x = L + i * step + (step - bw) / 2;
      const y0 = yPos(0), y1 = yPos(p.y);
      const bar = s('rect', { x, y: Math.min(y0, y1), width: bw, height: Math.max(1, Math.abs(y0 - y1)), class: 'bar' });
      bar.appendChild(s('title', null, `${p.x}: ${p.y}`));
      svg.appendChild(bar);
      const lx = x + bw / 2, ly = T + ih + 12;
      svg.appendChild(s('text', { x: lx, y: ly, transform: `rotate(-40 ${lx} ${ly})`, 'text-anchor': 'end', class: 'tick' }, trim(p.x, 14)));
    });
  } else {
    const xPos = (i) => L + (pts.length > 1 ? (i / (pts.length - 1)) * iw : iw / 2);
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${xPos(i).toFixed(1)},${yPos(p.y).toFixed(1)}`).join(' ');
    svg.appendChild(s('path', { d, class: 'line' }));
    pts.forEach((p, i) => {
      const c = s('circle', { cx: xPos(i), cy: yPos(p.y), r: pts.length > 60 ? 1.5 : 3, class: 'dot' });
      c.appendChild(s('title', null, `${p.x}: ${p.y}`));
      svg.appendChild(c);
    });
    const ticks = Math.min(6, pts.length);
    for (let k = 0; k < ticks; k++) {
      const i = ticks === 1 ? 0 : Math.round((k * (pts.length - 1)) / (ticks - 1));
      const anchor = ticks > 1 && k === 0 ? 'start' : ticks > 1 && k === ticks - 1 ? 'end' : 'middle';
      svg.appendChild(s('text', { x: xPos(i), y: T + ih + 18, 'text-anchor': anchor, class: 'tick' }, trim(pts[i].x, 16)));
    }
  }
  const note = result.rows.length > pts.length && plan.kind === 'bar' ? ` (first ${pts.length} rows)` : '';
  return h('figure', { class: 'chart' }, svg, h('figcaption', null, title + note));
}
