// The HTTP API as seen from the page: JSON in and out, the error contract turned into
// exceptions with a code and a message, and the session's CSRF token sent on every
// state-changing request (the session cookie itself is HttpOnly and never touched here).

let csrfToken = null;
let onUnauthorized = () => {};

/** An error answered by the server: `{"error":{"code","message"}}` plus the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function setCsrf(token) {
  csrfToken = token || null;
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** Sends a request; resolves to the parsed JSON body (or null for 204). */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (csrfToken && method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server could not be reached. Is querypad still running?');
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new ApiError(res.status, 'bad_response', `The server answered something that is not JSON (HTTP ${res.status}).`);
    }
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const e = new ApiError(res.status, err.code || 'http_' + res.status, err.message || `HTTP ${res.status}`);
    if (res.status === 401 && path !== '/api/v1/session') onUnauthorized(e);
    throw e;
  }
  return data;
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b === undefined ? {} : b);
export const patch = (p, b) => api('PATCH', p, b);
export const put = (p, b) => api('PUT', p, b);
export const del = (p) => api('DELETE', p);
