// The console's one way to the hub's API. The operator's key lives in sessionStorage — this
// tab only, gone when it closes — and goes out as a bearer token on every call; no cookie is
// ever set, so a request another site makes the browser send carries no credential. The key is
// never written to the console, the page or the address.

const KEY = 'yjshub.operator-key';

export function operatorKey() {
  return sessionStorage.getItem(KEY) || '';
}

export function setOperatorKey(k) {
  if (k) sessionStorage.setItem(KEY, k);
  else sessionStorage.removeItem(KEY);
}

// ApiError is an answer other than 2xx, or no answer. summary says it in Chinese; detail is
// the API's own message and problems (its error shape: {"error": {status, code, message, problems}}).
export class ApiError extends Error {
  constructor(status, body, path) {
    const e = (body && body.error) || {};
    super(e.message || 'HTTP ' + status);
    this.status = status;
    this.code = e.code || '';
    this.problems = e.problems || [];
    this.path = path;
    this.summary = summaryOf(status, this.code);
    const zh = this.problems.map((p) => p.message_zh || (p.path ? p.path + '：' : '') + p.message).filter(Boolean);
    this.detail = [e.message, ...zh].filter(Boolean).join('；');
  }
}

function summaryOf(status, code) {
  switch (true) {
    case status === 0: return '无法连接到枢纽';
    case status === 401: return '未登录或密钥无效（401）';
    case status === 403: return '此密钥无权执行该操作（403）';
    case status === 404: return '未找到（404）';
    case status === 409: return '状态冲突（409）';
    case status === 422: return '请求有误（422）';
    case status === 429: return '请求过于频繁，请稍候（429）';
    case status === 503: return '枢纽繁忙或未就绪，请稍候（503）';
    case status >= 500: return '枢纽内部错误（' + status + '）';
    default: return '请求失败（' + status + (code ? ' ' + code : '') + '）';
  }
}

let onDenied = () => {};

// whenDenied sets what happens on a 401, and on a 403 unless the call allows it: the app sends
// the operator back to sign in with the message.
export function whenDenied(f) {
  onDenied = f;
}

// call fetches /api/v1 + path and returns the decoded JSON. opts: method, body (JSON),
// allow403 (a refusal the page shows itself, such as a search by holder without the grant),
// noKey (probe without the stored key), signal.
export async function call(path, opts = {}) {
  const headers = {Accept: 'application/json'};
  const k = opts.key !== undefined ? opts.key : operatorKey();
  if (k && !opts.noKey) headers.Authorization = 'Bearer ' + k;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method: opts.method || 'GET', headers, body, cache: 'no-store', credentials: 'omit',
      redirect: 'error', signal: opts.signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, {error: {message: String(e.message || e)}}, path);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data, path);
    if (!opts.quiet && (res.status === 401 || (res.status === 403 && !opts.allow403))) onDenied(err);
    throw err;
  }
  return data;
}

// orNull returns the answer, or null when the route is not there (404): a figure the hub
// does not serve yet is shown as 暂无数据, not as an error.
export async function orNull(path, opts) {
  try {
    return await call(path, opts);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

// once caches the answers that do not change while the hub runs (the catalogue).
const cache = new Map();
export function once(path) {
  if (!cache.has(path)) {
    const p = call(path).catch((e) => {
      cache.delete(path);
      throw e;
    });
    cache.set(path, p);
  }
  return cache.get(path);
}

// departmentNames maps department codes to their Chinese names, from the public catalogue.
export async function departmentNames() {
  const d = await once('/departments');
  return Object.fromEntries((d.departments || []).map((x) => [x.code, x.name]));
}

// q builds a query string from the values given, leaving out empty ones.
export function q(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

// seg escapes one path segment. ':' stays as it is: it is valid in a path, connector names
// hold one (restpush:tobacco), and the hub's router matches the path as sent.
export function seg(s) {
  return encodeURIComponent(s).replaceAll('%3A', ':');
}
