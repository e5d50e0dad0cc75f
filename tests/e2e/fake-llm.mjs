// A fake Anthropic Messages API for the browser tests: every call answers with a `submit_sql`
// tool call, so any question becomes SQL on the Chinook demo. The SQL depends on a word in the
// last user message: "genre" → tracks per genre (a bar chart), "impossible" → an empty answer
// (the run fails), "slowly" → the same after 8 s, anything else → the genre names. Prints {"base_url": ...} on stdout.
import http from 'node:http';

function lastUserText(body) {
  const msgs = Array.isArray(body.messages) ? body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.map((b) => b.text || '').join(' ');
  }
  return '';
}

/** The tool call the fake answers for a request body. */
export function replyFor(body) {
  const text = lastUserText(body).toLowerCase();
  let input;
  if (text.includes('impossible')) input = { sql: '', explanation: 'The schema has nothing about that.' };
  else if (text.includes('genre'))
    input = {
      sql: 'SELECT g.Name AS genre, count(*) AS tracks FROM Track t JOIN Genre g ON g.GenreId = t.GenreId GROUP BY g.Name ORDER BY tracks DESC',
      explanation: 'Counts tracks per genre.',
    };
  else input = { sql: 'SELECT Name FROM Genre ORDER BY Name', explanation: 'Lists the genre names.' };
  return {
    id: 'msg_fake_1',
    type: 'message',
    role: 'assistant',
    model: body.model || 'fake',
    content: [{ type: 'tool_use', id: 'toolu_1', name: 'submit_sql', input }],
    stop_reason: 'tool_use',
    stop_sequence: null,
    usage: { input_tokens: 100, output_tokens: 20 },
  };
}

/** Starts the fake on a free loopback port; resolves to {server, baseUrl}. */
export function startFakeLlm() {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url.endsWith('/v1/messages')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'no such route' } }));
        return;
      }
      let body = {};
      try {
        body = JSON.parse(raw);
      } catch {
        /* answer anyway */
      }
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(replyFor(body)));
      };
      // "slowly" in the question: answer after 8 s, so a test can cancel the run meanwhile.
      if (lastUserText(body).toLowerCase().includes('slowly')) setTimeout(answer, 8000);
      else answer();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, baseUrl: `http://127.0.0.1:${server.address().port}` }));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { baseUrl } = await startFakeLlm();
  console.log(JSON.stringify({ base_url: baseUrl }));
}
