// Test support: the querypad server under test (fresh data directory, fake LLM, free port) and
// Debian's headless Chromium driven by playwright-core. Screenshots go to artifacts/.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const artifacts = path.join(here, 'artifacts');
export const bin = process.env.QUERYPAD_BIN || path.join(root, 'target/debug/querypad');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, proc, log) {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`querypad exited with ${proc.exitCode}:\n${log.join('')}`);
    try {
      const r = await fetch(url + '/healthz');
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`querypad did not become healthy at ${url}:\n${log.join('')}`);
}

/**
 * Starts `querypad serve` on a free port with a fresh data directory. `tokenName` creates an
 * API token first (so sign-in is required) and returns it as `token`.
 */
export async function startServer({ llmBaseUrl, tokenName } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'querypad-e2e-'));
  let token = null;
  if (tokenName) {
    const out = execFileSync(bin, ['token', 'create', '--name', tokenName, '--data-dir', dataDir], { encoding: 'utf8' });
    const m = /qp_[A-Za-z0-9_-]+/.exec(out);
    if (!m) throw new Error('no token in the output of `querypad token create`: ' + out);
    token = m[0];
  }
  const port = await freePort();
  const env = { ...process.env, QUERYPAD_LOG: 'warn' };
  if (llmBaseUrl) Object.assign(env, { ANTHROPIC_API_KEY: 'fake', ANTHROPIC_BASE_URL: llmBaseUrl });
  const proc = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', dataDir, '--access-log', 'off'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  proc.stdout.on('data', (d) => log.push(String(d)));
  proc.stderr.on('data', (d) => log.push(String(d)));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, log);
  return {
    url,
    token,
    dataDir,
    log,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => {
            proc.kill('SIGKILL');
            r();
          }, 5000);
          proc.once('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Launches Debian's Chromium headless with a fresh profile (a persistent context, since
 * playwright takes the profile directory that way rather than as --user-data-dir).
 */
export async function launchBrowser() {
  const profile = mkdtempSync(path.join(tmpdir(), 'querypad-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a screenshot of the window (or, with `full`, the whole page) as artifacts/<name>.png. */
export async function shot(page, name, { full = false } = {}) {
  mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, name + '.png');
  await page.screenshot({ path: file, fullPage: full });
  return file;
}
