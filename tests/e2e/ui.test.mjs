// End-to-end tests of the web UI in Debian's headless Chromium (playwright-core), against the
// real querypad binary with a fake LLM. Run by scripts/e2e.sh; screenshots go to artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeLlm } from './fake-llm.mjs';
import { startServer, launchBrowser, shot } from './harness.mjs';

let fake, server, browser, page;
const pageErrors = [];

before(async () => {
  fake = await startFakeLlm();
  server = await startServer({ llmBaseUrl: fake.baseUrl });
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // Content-Security-Policy violations and script errors show up on the console.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
  page.on('dialog', (d) => d.accept());
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (fake) fake.server.close();
});

/** The cell element whose SQL editor holds `text`. */
function cellWith(text) {
  return page.locator('article.cell').filter({ hasText: text });
}

/** Adds a SQL cell with the button and returns it once it is on the page. */
async function addSqlCell() {
  const n = await page.locator('article.cell').count();
  await page.click('#add-sql');
  await page.waitForFunction((n) => document.querySelectorAll('article.cell .CodeMirror').length > 0 && document.querySelectorAll('article.cell').length === n + 1, n);
  return page.locator('article.cell').last();
}

async function setSql(cell, sql) {
  await cell.locator('.CodeMirror').evaluate((el, v) => el.CodeMirror.setValue(v), sql);
}

test('the UI loads: the demo notebook with its cells, and the schema browser', async () => {
  await page.goto(server.url + '/');
  await page.waitForURL(/#\/notebooks\/\d+/);
  await page.locator('article.cell').first().waitFor();
  assert.match(await page.locator('#notebook-list').innerText(), /Demo/);
  await page.locator('#schema-body .tname', { hasText: 'Album' }).first().waitFor();
  assert.ok((await page.locator('#schema-body .tname').count()) >= 10, 'the Chinook tables are listed');
  assert.ok((await page.locator('.CodeMirror .cm-keyword').count()) > 0, 'SQL is highlighted');
  await shot(page, '01-demo-notebook');
  assert.deepEqual(pageErrors, []);
});

test('create a notebook, run a SELECT on the demo, and see the rows', async () => {
  await page.fill('#new-notebook-title', 'E2E sales');
  await page.click('#new-notebook button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#nb-title')?.value === 'E2E sales');
  assert.equal(await page.locator('#nb-connection').inputValue(), '1', 'the demo connection is chosen');
  const cell = await addSqlCell();
  await setSql(cell, "SELECT 'NULL' AS text_null, NULL AS real_null, 42 AS answer\nUNION ALL SELECT Name, Composer, Milliseconds FROM Track WHERE TrackId <= 5");
  // Ctrl+Enter from the editor runs the cell.
  await cell.locator('.CodeMirror textarea').focus();
  await page.keyboard.press('Control+Enter');
  const grid = cell.locator('table.grid');
  await grid.waitFor();
  assert.match(await cell.locator('.meta').innerText(), /6 rows · [\d.]+ ms/);
  const headers = await grid.locator('th').allInnerTexts();
  assert.deepEqual(headers, ['text_null', 'real_null', 'answer']);
  // The text "NULL" is plain text; SQL NULL is a marked, distinct element.
  const first = grid.locator('tbody tr').first().locator('td');
  assert.equal(await first.nth(0).getAttribute('class'), null);
  assert.match(await first.nth(1).getAttribute('class'), /\bnull\b/);
  assert.equal(await first.nth(1).locator('.null-pill').count(), 1);
  assert.match(await first.nth(2).getAttribute('class'), /\bnum\b/);
  assert.equal(await first.nth(2).evaluate((el) => getComputedStyle(el).textAlign), 'right');
  assert.equal(await grid.locator('th').first().evaluate((el) => getComputedStyle(el).position), 'sticky');
  assert.match(await grid.locator('tbody').innerText(), /For Those About To Rock/);
  await shot(page, '02-select-rows');

  // Copy as CSV: the text "NULL" stays, SQL NULL is an empty field.
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await cell.getByRole('button', { name: 'Copy as CSV' }).click();
  await page.locator('#alert', { hasText: 'Copied 6 rows' }).waitFor();
  const csv = await page.evaluate(() => navigator.clipboard.readText());
  assert.ok(csv.startsWith('text_null,real_null,answer\r\nNULL,,42\r\n'), JSON.stringify(csv.slice(0, 60)));

  // A statement that cannot run says why, in the cell.
  const bad = await addSqlCell();
  await setSql(bad, 'SELEC Name FROM Genre');
  await bad.getByRole('button', { name: 'Run' }).click();
  await bad.locator('.error-box').waitFor();
  assert.match(await bad.locator('.error-box').innerText(), /The query failed/);
  await bad.getByRole('button', { name: /^Delete/ }).click();
  await page.waitForFunction(() => document.querySelectorAll('article.cell').length === 1);

  // An empty result says so.
  await setSql(cell, 'SELECT Name FROM Genre WHERE 1 = 0');
  await cell.getByRole('button', { name: 'Run' }).click();
  await cell.locator('.no-rows').waitFor();

  await setSql(cell, "SELECT 'NULL' AS text_null, NULL AS real_null, 42 AS answer\nUNION ALL SELECT Name, Composer, Milliseconds FROM Track WHERE TrackId <= 5");
  await cell.getByRole('button', { name: 'Run' }).click();
  await cell.locator('.meta', { hasText: '6 rows' }).waitFor();

  // The SQL was saved: a reload shows it.
  await page.reload();
  await page.locator('article.cell .CodeMirror').first().waitFor();
  assert.match(await page.locator('article.cell').last().innerText(), /UNION ALL/);
});

test('rename and delete a notebook', async () => {
  await page.fill('#new-notebook-title', 'Scratch');
  await page.click('#new-notebook button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#nb-title')?.value === 'Scratch');
  await page.fill('#nb-title', 'Scratch renamed');
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.locator('#notebook-list a', { hasText: 'Scratch renamed' }).waitFor();
  await page.getByRole('button', { name: 'Delete notebook' }).click();
  await page.waitForFunction(() => !document.querySelector('#notebook-list').innerText.includes('Scratch'));
  // Back to the notebook of the previous test.
  await page.locator('#notebook-list a', { hasText: 'E2E sales' }).click();
  await page.waitForFunction(() => document.querySelector('#nb-title')?.value === 'E2E sales');
});

test('markdown cells render, and user text never becomes HTML', async () => {
  await page.click('#add-md');
  const cell = page.locator('article.cell').last();
  const ta = cell.locator('textarea.md-edit');
  await ta.fill('## Notes\nSome **bold** and `code` <img src=x onerror="window.__xss=1">\n\n- one\n- [two](javascript:alert(1))');
  await cell.getByRole('button', { name: 'Done' }).click();
  const md = page.locator('article.cell').last().locator('.md');
  await md.locator('h3').waitFor();
  assert.equal(await md.locator('strong').innerText(), 'bold');
  assert.equal(await md.locator('li').count(), 2);
  assert.equal(await md.locator('img').count(), 0, 'no <img> from user text');
  assert.equal(await md.locator('a').count(), 0, 'a javascript: link is not a link');
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  // Move it up above the SQL cell, then delete it.
  const before = await page.locator('article.cell').count();
  await page.locator('article.cell').last().getByRole('button', { name: /Move .* up/ }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('article.cell')].at(-1)?.classList.contains('cell-sql'));
  await page.locator('article.cell.cell-markdown').last().getByRole('button', { name: /^Delete/ }).click();
  await page.waitForFunction((n) => document.querySelectorAll('article.cell').length === n - 1, before);
});

test('the agent answers with live steps and a new cell; a chart is drawn', async () => {
  const cellsBefore = await page.locator('article.cell').count();
  await page.fill('#agent-question', 'How many tracks are there per genre?');
  await page.click('#agent-ask');
  await page.locator('#agent-steps li[data-kind=finished]').waitFor();
  const steps = await page.locator('#agent-steps li').allInnerTexts();
  const live = await page.locator('#agent-steps li[data-kind=context_built], #agent-steps li[data-kind=llm_call], #agent-steps li[data-kind=sql_checked], #agent-steps li[data-kind=sql_executed]').count();
  assert.ok(live >= 3, `at least three live steps, got: ${steps.join(' | ')}`);
  assert.match(await page.locator('#agent-answer').innerText(), /Answered/);
  await page.waitForFunction((n) => document.querySelectorAll('article.cell').length === n + 1, cellsBefore);
  const cell = page.locator('article.cell').last();
  assert.match(await cell.innerText(), /tracks are there per genre/);
  await cell.locator('table.grid').waitFor();
  await shot(page, '03-agent-answer');

  const toggle = cell.locator('button.chart-toggle');
  assert.match(await toggle.innerText(), /Chart \(bar\)/);
  await toggle.click();
  const svg = cell.locator('figure.chart svg[data-kind=bar]');
  await svg.waitFor();
  assert.ok((await svg.locator('rect.bar').count()) >= 10, 'bars are drawn');
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  await cell.scrollIntoViewIfNeeded();
  await shot(page, '04-chart');

  // A line chart for time → number, from a cell run by hand.
  const lineCell = await addSqlCell();
  await setSql(lineCell, "SELECT date(InvoiceDate, 'start of month') AS month, sum(Total) AS revenue FROM Invoice GROUP BY 1 ORDER BY 1 LIMIT 24");
  await lineCell.getByRole('button', { name: 'Run' }).click();
  await lineCell.locator('table.grid').waitFor();
  await lineCell.locator('button.chart-toggle').click();
  await lineCell.locator('figure.chart svg[data-kind=line] path.line').waitFor();
  await lineCell.scrollIntoViewIfNeeded();
  await shot(page, '05-line-chart');
});

test('a question the agent cannot answer is reported in words with what to do', async () => {
  await page.fill('#agent-question', 'Something impossible about the weather');
  await page.click('#agent-ask');
  await page.locator('#agent-steps li[data-kind=finished]').waitFor();
  const answer = await page.locator('#agent-answer').innerText();
  assert.match(answer, /No answer|Partial answer/);
  assert.match(answer, /Rephrase|Read it before trusting it/);
  await shot(page, '06-agent-failed');
});

test('a run can be cancelled from the panel', async () => {
  await page.fill('#agent-question', 'List the genres slowly');
  await page.click('#agent-ask');
  const cancel = page.locator('#agent-cancel');
  await cancel.waitFor();
  await page.locator('#agent-steps li[data-kind=context_built]').waitFor();
  assert.equal(await page.locator('#agent-steps li[data-kind=finished]').count(), 0, 'steps show while the run is still going');
  const started = Date.now();
  await cancel.click();
  await page.locator('#agent-steps li[data-kind=finished]').waitFor();
  assert.ok(Date.now() - started < 6000, 'the run ended before the slow model answered');
  assert.match(await page.locator('#agent-answer').innerText(), /Cancelled/);
  assert.equal(await cancel.isVisible(), false);
  assert.equal(await page.locator('#agent-ask').isEnabled(), true);
  await shot(page, '07-agent-cancelled');
});

test('add a connection and test it; a broken one says why', async () => {
  const demo = await (await page.request.get(server.url + '/api/v1/connections/1')).json();
  await page.click('#nav-connections');
  await page.locator('#conn-form').waitFor();
  await page.fill('#conn-name', 'Chinook copy');
  await page.selectOption('#conn-kind', 'sqlite');
  await page.fill('#conn-path', demo.path);
  await page.click('#conn-form button[type=submit]');
  const row = page.locator('tr', { hasText: 'Chinook copy' });
  await row.waitFor();
  await row.getByRole('button', { name: 'Test Chinook copy' }).click();
  await row.locator('.test-status.ok').waitFor();
  assert.match(await row.locator('.test-status').innerText(), /OK: .*sqlite/i);

  // PostgreSQL fields, a write-only password, and an unreachable port.
  await page.fill('#conn-name', 'Nowhere');
  await page.selectOption('#conn-kind', 'postgres');
  assert.equal(await page.locator('#conn-path').isVisible(), false);
  await page.fill('#conn-host', '127.0.0.1');
  await page.fill('#conn-port', '1');
  await page.fill('#conn-database', 'x');
  await page.fill('#conn-username', 'reader');
  await page.fill('#conn-password', 'secret');
  assert.equal(await page.locator('#conn-password').getAttribute('type'), 'password');
  await page.click('#conn-form button[type=submit]');
  const bad = page.locator('tr', { hasText: 'Nowhere' });
  await bad.locator('td', { hasText: 'stored' }).waitFor();
  assert.doesNotMatch(await page.content(), /secret/);
  await bad.getByRole('button', { name: 'Test Nowhere' }).click();
  await bad.locator('.test-status.bad').waitFor();
  await shot(page, '08-connections');

  // Edit: the password stays write-only (empty field, "stored" hint).
  await bad.getByRole('button', { name: 'Edit Nowhere' }).click();
  await page.locator('#conn-form-title', { hasText: 'Edit Nowhere' }).waitFor();
  assert.equal(await page.locator('#conn-password').inputValue(), '');
  assert.match(await page.locator('#conn-password').getAttribute('placeholder'), /stored/);
  await page.fill('#conn-name', 'Nowhere renamed');
  await page.click('#conn-form button[type=submit]');
  await page.locator('tr', { hasText: 'Nowhere renamed' }).waitFor();
  await page.locator('tr', { hasText: 'Nowhere renamed' }).getByRole('button', { name: /^Delete/ }).click();
  await page.waitForFunction(() => !document.body.innerText.includes('Nowhere renamed'));
});

test('works on a narrow window and by keyboard', async () => {
  await page.goto(server.url + '/#/notebooks/1');
  await page.locator('article.cell').first().waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling on a narrow window (overflow ${overflow}px)`);
  await shot(page, '09-narrow', { full: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  // Every input has a label.
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.offsetParent !== null && !el.closest('.CodeMirror'))
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
      .map((el) => el.id || el.outerHTML.slice(0, 60)));
  assert.deepEqual(unlabelled, []);
  // Tab reaches the Run button of the first SQL cell.
  await page.focus('#nb-title');
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.classList.contains('run'));
  }
  assert.ok(reached, 'Run is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.locator('article.cell table.grid').first().waitFor();
  assert.deepEqual(pageErrors, []);
});

test('with an API token configured: sign in, cookie session, CSRF enforced', async () => {
  const secured = await startServer({ tokenName: 'e2e', llmBaseUrl: fake.baseUrl });
  const b = await launchBrowser();
  try {
    const p = await b.context.newPage();
    p.setDefaultTimeout(15_000);
    await p.goto(secured.url + '/');
    await p.locator('#signin-token').waitFor();
    assert.equal((await p.request.get(secured.url + '/api/v1/notebooks')).status(), 401);
    await shot(p, '10-sign-in');
    await p.fill('#signin-token', 'qp_wrong');
    await p.click('#signin-form button[type=submit]');
    await p.locator('#signin-error', { hasText: 'not valid' }).waitFor();
    await p.fill('#signin-token', secured.token);
    await p.click('#signin-form button[type=submit]');
    await p.locator('article.cell').first().waitFor();
    const cookies = await b.context.cookies();
    const session = cookies.find((c) => c.name === 'querypad_session');
    assert.ok(session, 'a session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await p.evaluate(() => document.cookie), '', 'the page cannot read the cookie');
    // A state-changing request with the cookie but without the CSRF header is refused.
    const forged = await p.evaluate(async () => {
      const r = await fetch('/api/v1/notebooks', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ title: 'forged' }) });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.error.code, 'csrf_failed');
    // The page itself can change things (it sends the token), and run SQL.
    await p.locator('article.cell.cell-sql').first().getByRole('button', { name: 'Run' }).click();
    await p.locator('article.cell table.grid').first().waitFor();
    await p.fill('#new-notebook-title', 'Signed-in notebook');
    await p.click('#new-notebook button[type=submit]');
    await p.waitForFunction(() => document.querySelector('#nb-title')?.value === 'Signed-in notebook');
    // The agent's live steps arrive over EventSource with the cookie session.
    await p.fill('#agent-question', 'Which media types are there?');
    await p.click('#agent-ask');
    await p.locator('#agent-steps li[data-kind=finished]').waitFor();
    assert.match(await p.locator('#agent-answer').innerText(), /Answered/);
    assert.ok((await p.locator('#agent-steps li').count()) >= 4);
    await shot(p, '11-signed-in');
    // Sign out ends the session.
    await p.click('#signout');
    await p.locator('#signin-token').waitFor();
    assert.equal((await p.request.get(secured.url + '/api/v1/notebooks')).status(), 401);
  } finally {
    await b.close();
    await secured.stop();
  }
});
