// Helpers for the web mirror's end-to-end tests and benchmark: a real `choir-daemon` in a temp
// data dir, headless Chromium (playwright-core driving /usr/bin/chromium), the `choir` terminal
// desktop inside a tmux server of its own, and the cleanup of all of them.
//
// Every wait here has a timeout, and every process started here is stopped by its pid: by the
// owner's cleanup (a test's `after` hook), or, as a last resort, when this Node process exits.

import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

const execFileP = promisify(execFile);

/** The repository root (this file lives in `<root>/web-tests/`). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where screenshots and failure dumps go. */
export const ARTIFACTS = path.join(ROOT, 'web-tests', 'artifacts');
export const DAEMON_BIN = process.env.CHOIR_DAEMON_BIN || path.join(ROOT, 'target/debug/choir-daemon');
export const CHOIR_BIN = process.env.CHOIR_BIN || path.join(ROOT, 'target/debug/choir');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `what` in the message if `promise` takes longer than `ms`. */
export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `fn` (sync or async) until it returns something truthy, and returns that. Errors thrown
 * by `fn` count as "not yet" (the last one is reported if time runs out), except those made by
 * `fatal()`, which end the wait at once.
 */
export async function waitUntil(fn, { timeoutMs = 10_000, intervalMs = 50, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = value;
    } catch (err) {
      if (err?.fatal) throw err;
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

/** An error that ends a `waitUntil` at once. */
export function fatal(message) {
  const err = new Error(message);
  err.fatal = true;
  return err;
}

// ---------------------------------------------------------------------------------------------
// Last-resort cleanup: whatever is still running when this process exits is killed by pid.

const livePids = new Set();
const liveTmuxSockets = new Set();

function killPid(pid, signal) {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false; // already gone
  }
}

/** Whether `pid` runs (a zombie, exited but not yet reaped by its parent, does not). */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

process.on('exit', () => {
  for (const sock of liveTmuxSockets) spawnSync('tmux', ['-L', sock, 'kill-server'], { timeout: 2000 });
  for (const pid of livePids) killPid(pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  // `process.exit` runs the `exit` handler above.
  process.once(signal, () => process.exit(128 + os.constants.signals[signal]));
}

/** Waits (up to `timeoutMs`) for `pid` to be gone, then SIGKILLs it. For processes we did not spawn. */
async function stopPid(pid, { signal = 'SIGTERM', timeoutMs = 5000 } = {}) {
  if (!killPid(pid, signal)) return;
  try {
    await waitUntil(() => !isAlive(pid), { timeoutMs, intervalMs: 25, what: `pid ${pid} to exit` });
  } catch {
    killPid(pid, 'SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/**
 * One HTTP request with a timeout. Resolves to `{status, text, json, ms}` whatever the status
 * (`json` is undefined when the body is not JSON); rejects on network errors and timeouts.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, agent, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const allHeaders = { ...headers };
    if (payload !== undefined) {
      allHeaders['content-type'] ??= 'application/json';
      allHeaders['content-length'] = Buffer.byteLength(payload);
    }
    const started = performance.now();
    const req = http.request(url, { method, headers: allHeaders, agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json, ms: performance.now() - started });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------------------------
// The daemon

/**
 * The agent's settings in the environment (see choir-daemon/src/agent/config.rs). A daemon
 * started here does not inherit them: a developer's own keys and model must not turn the tests'
 * offline agent into calls to a real provider. A test that wants a model passes them in `env`.
 */
const AGENT_ENV = /^(CHOIR_PROVIDER|CHOIR_MODEL|CHOIR_APPROVAL|OPENAI_[A-Z_]*|ANTHROPIC_[A-Z_]*)$/;

/** A `choir-daemon` on 127.0.0.1 with a data dir of its own. Use `startDaemon`. */
export class Daemon {
  /** `env`: extra environment variables (e.g. the agent's model settings), kept over restarts. */
  constructor(bin, dir, { env = {} } = {}) {
    this.bin = bin;
    this.dir = dir;
    this.env = env;
    this.logPath = path.join(dir, 'daemon.out');
    this.child = null;
    this.url = null;
    this.token = null;
    this.port = null;
    this.pid = null;
    this.agent = null;
  }

  /** Spawns the daemon on `port` (0: any free port) and waits for its `daemon.json`. */
  async start(port = 0, { timeoutMs = 15_000 } = {}) {
    if (this.child) throw new Error('the daemon is already running');
    fs.appendFileSync(this.logPath, `--- choir-web-tests: starting ${this.bin} on port ${port} ---\n`);
    const log = fs.openSync(this.logPath, 'a');
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !AGENT_ENV.test(name)));
    const child = spawn(this.bin, ['--data-dir', this.dir, '--listen', `127.0.0.1:${port}`], {
      stdio: ['ignore', log, log],
      env: { ...inherited, RUST_LOG: process.env.RUST_LOG || 'info', ...this.env },
    });
    fs.closeSync(log);
    await new Promise((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    this.child = child;
    this.pid = child.pid;
    livePids.add(child.pid);
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.exited.then(() => livePids.delete(child.pid));

    // daemon.json appears once the daemon listens; a stale one (of a daemon that did not
    // remove it) has another pid. It may be read half-written: parse errors mean "not yet".
    const info = await waitUntil(
      () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw fatal(`choir-daemon exited (${child.exitCode ?? child.signalCode}) before listening:\n${this.logTail(30)}`);
        }
        const file = path.join(this.dir, 'daemon.json');
        if (!fs.existsSync(file)) return null;
        const parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
        return parsed.pid === child.pid ? parsed : null;
      },
      { timeoutMs, intervalMs: 25, what: 'choir-daemon to write daemon.json' },
    ).catch(async (err) => {
      await this.stop();
      throw err;
    });
    this.url = info.url.replace(/\/+$/, '');
    this.token = info.token;
    this.port = Number(new URL(this.url).port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    return this;
  }

  /** SIGTERM, wait for the exit (SIGKILL after `timeoutMs`). Safe to call when stopped. */
  async stop({ timeoutMs = 10_000 } = {}) {
    const child = this.child;
    this.agent?.destroy();
    this.agent = null;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) {
      killPid(child.pid, 'SIGTERM');
      try {
        await withTimeout(child.exited, timeoutMs, `choir-daemon (pid ${child.pid}) to exit after SIGTERM`);
      } catch {
        killPid(child.pid, 'SIGKILL');
        await withTimeout(child.exited, 5000, `choir-daemon (pid ${child.pid}) to exit after SIGKILL`);
      }
    }
  }

  /** Stops the daemon and starts it again on the same port with the same data dir. */
  async restart({ timeoutMs = 15_000 } = {}) {
    const port = this.port;
    await this.stop();
    await this.start(port, { timeoutMs });
    if (this.port !== port) throw new Error(`the daemon came back on port ${this.port}, not ${port}`);
    return this;
  }

  get running() {
    return this.child !== null;
  }

  /** Stops the daemon and removes its data dir. */
  async dispose() {
    try {
      await this.stop();
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Everything the daemon printed (all starts). */
  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(lines = 60) {
    return this.log().split('\n').slice(-lines).join('\n');
  }

  /** The address a browser opens; `token: null` for none at all. */
  pageUrl(token = this.token) {
    return token === null ? `${this.url}/` : `${this.url}/?token=${encodeURIComponent(token)}`;
  }

  /**
   * Calls the HTTP API with the token: GET without `body`, POST (JSON) with it. Returns the
   * parsed answer; throws (with `.status` and `.body`) on any non-2xx answer.
   */
  async api(apiPath, body, { method, timeoutMs = 10_000 } = {}) {
    if (!this.running) throw new Error(`api ${apiPath}: the daemon is not running`);
    const res = await httpRequest(this.url + apiPath, {
      method: method ?? (body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${this.token}` },
      body,
      agent: this.agent,
      timeoutMs,
    });
    if (res.status < 200 || res.status >= 300) {
      const err = new Error(`${apiPath}: HTTP ${res.status}: ${res.text.slice(0, 500)}`);
      err.status = res.status;
      err.body = res.text;
      throw err;
    }
    return res.json;
  }

  /** `POST /api/commands` → `{seqs: [...]}`. */
  command(command, opts) {
    return this.api('/api/commands', command, opts);
  }

  /** `GET /api/state` → `{head, world}`. */
  state() {
    return this.api('/api/state');
  }

  /** The windows of `/api/state` by id (the API gives them as an array). */
  async windows() {
    const { world } = await this.state();
    return new Map(world.desktop.windows.map((w) => [w.id, w]));
  }

  /** The log's head seq, cheaply (an events page past the end). */
  async head() {
    const page = await this.api(`/api/events?from=${Number.MAX_SAFE_INTEGER}&limit=1`);
    return page.head;
  }

  /** `GET /api/docs/{id}` → `{id, title, content, len, version, rev, recent}`. */
  doc(id) {
    return this.api(`/api/docs/${id}`);
  }

  /** The log's events from `from` on (at most 10,000), `{seq, type, actor, data, ...}` each. */
  async events(from = 1) {
    return (await this.api(`/api/events?from=${from}&limit=10000`)).events;
  }

  /** `GET /api/threads/{id}/messages`: the whole thread (up to 500 messages), oldest first. */
  thread(id, { limit = 500 } = {}) {
    return this.api(`/api/threads/${id}/messages?limit=${limit}`);
  }
}

/**
 * Starts a daemon in a fresh temp data dir. Call `dispose()` (or `stop()`) when done. `env`:
 * extra environment variables (the agent's settings from the caller's own environment are not
 * passed on; see `AGENT_ENV`).
 */
export async function startDaemon({ bin = DAEMON_BIN, env = {}, timeoutMs = 15_000 } = {}) {
  if (!fs.existsSync(bin)) throw new Error(`no daemon binary at ${bin} (build it first)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'choir-web-'));
  const daemon = new Daemon(bin, dir, { env });
  try {
    await daemon.start(0, { timeoutMs });
  } catch (err) {
    await daemon.dispose().catch(() => {});
    throw err;
  }
  return daemon;
}

/** Types of chat events that end an agent's turn. */
const TURN_ENDS = new Set(['chat.turn_completed', 'chat.turn_cancelled', 'chat.turn_failed']);

/**
 * Waits until the agent is done with everything posted: every turn started has ended, and the
 * log's head stayed the same over two looks `settleMs` apart. Returns the log's events.
 */
export async function waitForAgentIdle(daemon, { timeoutMs = 20_000, settleMs = 300 } = {}) {
  let lastHead = -1;
  let lastSeen = 0;
  return waitUntil(
    async () => {
      const events = await daemon.events();
      const head = events.at(-1)?.seq ?? 0;
      const started = events.filter((e) => e.type === 'chat.turn_started').length;
      const ended = events.filter((e) => TURN_ENDS.has(e.type)).length;
      if (head !== lastHead || started !== ended) {
        lastHead = head;
        lastSeen = Date.now();
        return null;
      }
      return Date.now() - lastSeen >= settleMs ? events : null;
    },
    { timeoutMs, intervalMs: 100, what: 'the agent to finish every turn and the log to stay still' },
  );
}

/** `choir events` for the daemon's data dir, parsed (one object per JSONL line). */
export async function choirEvents(daemon, { bin = CHOIR_BIN, timeoutMs = 15_000 } = {}) {
  const { stdout } = await execFileP(bin, ['events'], {
    env: { ...process.env, CHOIR_DATA_DIR: daemon.dir },
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

// ---------------------------------------------------------------------------------------------
// A model server: OpenAI chat completions on the wire, scripted

/** One SSE chunk of a chat completions stream. */
const sseChunk = (data) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

/** The chunks of a streamed text answer, split in `parts`, as the real API sends them. */
export function openaiText(...parts) {
  return [
    ...parts.map((content, i) => ({
      choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content } : { content } }],
    })),
    { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
    { choices: [], usage: { prompt_tokens: 10, completion_tokens: parts.length } },
    '[DONE]',
  ];
}

/** The chunks of one tool call, its JSON arguments split into two pieces. */
export function openaiToolCall(id, name, args) {
  const json = JSON.stringify(args);
  const cut = Math.floor(json.length / 2);
  const piece = (arguments_) => ({
    choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: arguments_ } }] } }],
  });
  return [
    {
      choices: [
        {
          index: 0,
          delta: {
            role: 'assistant',
            content: null,
            tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: '' } }],
          },
        },
      ],
    },
    piece(json.slice(0, cut)),
    piece(json.slice(cut)),
    { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
    { choices: [], usage: { prompt_tokens: 10, completion_tokens: 5 } },
    '[DONE]',
  ];
}

/**
 * An OpenAI-compatible model server on 127.0.0.1 (a free port) answering
 * `POST /v1/chat/completions` with a `text/event-stream`, as the real API does.
 * `respond(body, n)` (the request's parsed JSON, its 0-based number) returns
 * `{chunks, delayMs = 5, stall = false}`: the chunks (objects, or '[DONE]') are sent one by one
 * `delayMs` apart; with `stall`, the stream then stays open, silent, until the client goes.
 * `requests` lists `{body, headers, closedEarly}` (closedEarly: the client hung up before the
 * end). Point a daemon at it with `env` (CHOIR_MODEL, OPENAI_BASE_URL = `url`, OPENAI_API_KEY).
 */
export async function startModelServer(respond) {
  const requests = [];
  const sockets = new Set();
  const timers = new Set();
  const later = (ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `bad JSON: ${err.message}` } }));
      return;
    }
    const record = { body, headers: req.headers, closedEarly: false };
    requests.push(record);
    let reply;
    try {
      reply = await respond(body, requests.length - 1);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `the script failed: ${err.message}` } }));
      return;
    }
    let done = false;
    res.on('close', () => {
      if (!done) record.closedEarly = true;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const chunk of reply.chunks ?? []) {
      await later(reply.delayMs ?? 5);
      if (res.destroyed) return;
      res.write(sseChunk(chunk));
    }
    if (reply.stall) return; // open until the client hangs up (or the server is closed)
    done = true;
    res.end();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    /** The environment that points a daemon's agent at this server. */
    env: (model = 'mock-model') => ({
      CHOIR_PROVIDER: 'openai',
      CHOIR_MODEL: model,
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      OPENAI_API_KEY: 'sk-mock-0000000000',
    }),
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await withTimeout(new Promise((resolve) => server.close(() => resolve())), 5000, 'closing the model server');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The terminal desktop in tmux

let tmuxCount = 0;

/** `choir` (the terminal desktop) in a tmux server of its own. Use `startTui`. */
export class Tui {
  constructor(sock, session = 'e2e') {
    this.sock = sock;
    this.session = session;
    this.serverPid = null;
  }

  tmux(...args) {
    return execFileP('tmux', ['-L', this.sock, ...args], { timeout: 5000, killSignal: 'SIGKILL' });
  }

  /** The visible screen, one string with a line per row. */
  async screen() {
    const { stdout } = await this.tmux('capture-pane', '-p', '-t', this.session);
    return stdout;
  }

  /** Waits for `text` (a string, a RegExp, or a predicate on the screen) and returns the screen. */
  async waitForText(text, { timeoutMs = 10_000 } = {}) {
    const test =
      typeof text === 'function' ? text : text instanceof RegExp ? (s) => text.test(s) : (s) => s.includes(text);
    let last = '';
    try {
      return await waitUntil(
        async () => {
          last = await this.screen();
          return test(last) ? last : null;
        },
        { timeoutMs, intervalMs: 50, what: `the terminal desktop to show ${text}` },
      );
    } catch (err) {
      err.message += `\n--- screen ---\n${last}`;
      throw err;
    }
  }

  /** tmux key names (`C-a`, `Enter`, ...). */
  sendKeys(...keys) {
    return this.tmux('send-keys', '-t', this.session, ...keys);
  }

  /** Literal text. */
  type(text) {
    return this.tmux('send-keys', '-t', this.session, '-l', text);
  }

  /** Kills this tmux server (only ours: its own socket), then makes sure its pid is gone. */
  async kill() {
    await this.tmux('kill-server').catch(() => {});
    if (this.serverPid) {
      await stopPid(this.serverPid, { timeoutMs: 3000 });
      livePids.delete(this.serverPid);
    }
    liveTmuxSockets.delete(this.sock);
  }
}

/**
 * Starts `choir` (the terminal desktop; `args` for another command) for the daemon's data dir (or
 * with `env` instead) inside a new tmux server with a socket name of its own, and waits for its
 * screen to show `ready` (the taskbar's "● live").
 */
export async function startTui(
  daemon,
  { cols = 100, rows = 30, bin = CHOIR_BIN, args = [], env, ready = '● live', timeoutMs = 15_000 } = {},
) {
  if (!fs.existsSync(bin)) throw new Error(`no choir binary at ${bin} (build it first)`);
  const tui = new Tui(`choir-web-e2e-${process.pid}-${++tmuxCount}`);
  liveTmuxSockets.add(tui.sock);
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  // `; sleep 60` keeps the pane (and its last screen) if `choir` exits early.
  const vars = Object.entries(env ?? { CHOIR_DATA_DIR: daemon.dir })
    .map(([name, value]) => `${name}=${q(value)}`)
    .join(' ');
  const command = `env ${vars} TERM=xterm-256color ${[bin, ...args].map(q).join(' ')}; sleep 60`;
  await tui.tmux('-f', '/dev/null', 'new-session', '-d', '-s', tui.session, '-x', cols, '-y', rows, command);
  const { stdout } = await tui.tmux('display-message', '-p', '-t', tui.session, '#{pid}');
  tui.serverPid = Number(stdout.trim()) || null;
  if (tui.serverPid) livePids.add(tui.serverPid);
  try {
    await tui.waitForText(ready, { timeoutMs });
  } catch (err) {
    await tui.kill();
    throw err;
  }
  return tui;
}

// ---------------------------------------------------------------------------------------------
// The browser

/**
 * Launches headless Chromium (as a server, so its pid is known) and connects to it. The result
 * is a playwright `Browser` with `pid` and `shutdown()` (closes it, then kills the pid if needed).
 */
export async function launchBrowser({ timeoutMs = 30_000 } = {}) {
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: timeoutMs,
  });
  const pid = server.process().pid;
  livePids.add(pid);
  let browser;
  try {
    browser = await chromium.connect(server.wsEndpoint(), { timeout: timeoutMs });
  } catch (err) {
    await server.kill().catch(() => {});
    throw err;
  }
  browser.pid = pid;
  browser.shutdown = async () => {
    await withTimeout(browser.close(), 5000, 'closing the browser connection').catch(() => {});
    await withTimeout(server.close(), 5000, 'closing Chromium').catch(() => {});
    await stopPid(pid, { signal: 'SIGKILL', timeoutMs: 3000 });
    livePids.delete(pid);
  };
  return browser;
}

/**
 * Opens the web mirror in a fresh browser context (so a fresh sessionStorage). `token`: the
 * daemon's by default, a string for another, `null` for none. The page collects its console
 * output and errors in `page.choirLog` for failure reports. `beforeGoto(page)` runs before the
 * page is opened (to route its socket, say). Does not wait for the app: see `waitForLive`.
 */
export async function openPage(
  browser,
  daemon,
  { token, viewport = { width: 1280, height: 800 }, contextOptions = {}, beforeGoto, timeoutMs = 15_000 } = {},
) {
  const context = await browser.newContext({ viewport, ...contextOptions });
  const page = await context.newPage();
  if (beforeGoto) await beforeGoto(page);
  page.setDefaultTimeout(timeoutMs);
  page.choirLog = [];
  page.on('console', (msg) => page.choirLog.push(`[console.${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => page.choirLog.push(`[pageerror] ${err.message}`));
  page.on('requestfailed', (req) => page.choirLog.push(`[requestfailed] ${req.url()} ${req.failure()?.errorText}`));
  const response = await page.goto(daemon.pageUrl(token === undefined ? daemon.token : token), {
    waitUntil: 'domcontentloaded',
    timeout: timeoutMs,
  });
  // No app to test: a daemon built without the web mirror answers 503 (an HTML note), one
  // that does not serve it at all 404 (JSON), one that wants a token for it 401. The app
  // itself is served with 200 whatever the token (it checks the token on the socket).
  const type = response?.headers()['content-type'] ?? '';
  if (response && (response.status() >= 500 || (response.status() >= 400 && !type.includes('text/html')))) {
    throw new Error(
      `GET ${new URL(page.url()).pathname} answered ${response.status()} ${type}: ${(await response.text()).slice(0, 200)}\n` +
        'The page must be served at / with or without a token: build choir-web (scripts/build-web.sh), then choir-daemon.',
    );
  }
  return page;
}

/**
 * Waits for `predicate` (a function run in the page, given `arg`) to return something truthy,
 * and returns that value (as JSON).
 */
export async function waitFor(page, predicate, timeoutMs = 10_000, { arg, what } = {}) {
  try {
    const handle = await page.waitForFunction(predicate, arg, { timeout: timeoutMs });
    const value = await handle.jsonValue();
    await handle.dispose();
    return value;
  } catch (err) {
    throw new Error(`page: ${what ?? predicate.toString().slice(0, 200)}: ${err.message.split('\n')[0]}`);
  }
}

/**
 * Routes a page's socket through the test (pass `route` to `openPage`'s `beforeGoto`): frames
 * from the daemon go on to the page, except those for which `match(parsedFrame)` is true while
 * `hold` is on: they wait in `held` until `release()`. `matched` counts the matching frames.
 */
export function holdServerFrames(match) {
  const control = {
    hold: false,
    held: [],
    matched: 0,
    client: null,
    release() {
      this.hold = false;
      for (const frame of this.held.splice(0)) this.client?.send(frame);
    },
    async route(page) {
      await page.routeWebSocket(/\/ws$/, (ws) => {
        control.client = ws;
        const server = ws.connectToServer();
        server.onMessage((frame) => {
          let parsed = null;
          try {
            parsed = JSON.parse(String(frame));
          } catch {
            // not JSON: passed on
          }
          if (parsed && match(parsed)) {
            control.matched += 1;
            if (control.hold) {
              control.held.push(frame);
              return;
            }
          }
          ws.send(frame);
        });
      });
    },
  };
  return control;
}

/** Waits for the first welcome to be rendered and the connection to be live. */
export function waitForLive(page, timeoutMs = 15_000) {
  return waitFor(
    page,
    () =>
      document.body?.getAttribute('data-ready') === 'true' &&
      document.querySelector('#connection')?.getAttribute('data-state') === 'live',
    timeoutMs,
    { what: 'body[data-ready=true] and #connection[data-state=live]' },
  );
}

/** `#connection`'s data-state. */
export function connectionState(page) {
  return page.evaluate(() => document.querySelector('#connection')?.getAttribute('data-state') ?? null);
}

/** A desktop cell's size in CSS pixels, from `#desktop[data-cell-w][data-cell-h]`. */
export async function cellSize(page) {
  const cell = await page.evaluate(() => {
    const desktop = document.querySelector('#desktop');
    return { w: Number(desktop?.getAttribute('data-cell-w')), h: Number(desktop?.getAttribute('data-cell-h')) };
  });
  if (!(cell.w > 0 && cell.h > 0)) throw new Error(`#desktop has no usable data-cell-w/h: ${JSON.stringify(cell)}`);
  return cell;
}

/** Every `.window` as the page shows it: its data attributes, title and box. */
export function domWindows(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('#desktop .window')].map((el) => {
      const num = (name) => Number(el.getAttribute(name));
      const box = el.getBoundingClientRect();
      return {
        id: num('data-window-id'),
        app: el.getAttribute('data-app'),
        x: num('data-x'),
        y: num('data-y'),
        w: num('data-w'),
        h: num('data-h'),
        focused: el.getAttribute('data-focused'),
        minimized: el.getAttribute('data-minimized'),
        maximized: el.getAttribute('data-maximized'),
        title: el.querySelector('.title')?.textContent.trim() ?? null,
        box: { left: box.left, top: box.top, width: box.width, height: box.height },
      };
    }),
  );
}

/** The texts of `.message` elements (optionally only those with `data-role=role`) in window `id`. */
export function messageTexts(page, windowId, role) {
  return page.evaluate(
    ({ windowId, role }) => {
      const sel = `.window[data-window-id="${windowId}"] .message${role ? `[data-role="${role}"]` : ''}`;
      return [...document.querySelectorAll(sel)].map((m) => (m.querySelector('.text') ?? m).textContent.trim());
    },
    { windowId, role },
  );
}

/** Presses the mouse at (x, y), moves by (dx, dy) in `steps`, and releases. */
export async function drag(page, x, y, dx, dy, { steps = 12, beforeRelease } = {}) {
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx, y + dy, { steps });
  if (beforeRelease) await beforeRelease();
  await page.mouse.up();
}

/** Reads a PNG's width and height from its header. */
export function pngSize(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('ascii', 1, 4) !== 'PNG') throw new Error(`${file} is not a PNG`);
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

// ---------------------------------------------------------------------------------------------
// Tests: a harness per test that owns its processes and reports on failure.

/** What one test started; `close()` stops it all (last started, first stopped). */
export class Harness {
  constructor(name) {
    this.name = name;
    this.slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
    this.passed = false;
    this.cleanups = [];
    this.daemons = [];
    this.pages = [];
    this.tuis = [];
  }

  /** Registers `fn` to run at cleanup. */
  defer(what, fn) {
    this.cleanups.push({ what, fn });
  }

  async daemon(opts) {
    const daemon = await startDaemon(opts);
    this.daemons.push(daemon);
    this.defer(`daemon pid ${daemon.pid}`, () => daemon.dispose());
    return daemon;
  }

  /** A scripted model server (see `startModelServer`), closed at cleanup. */
  async modelServer(respond) {
    const server = await startModelServer(respond);
    this.defer(`model server ${server.url}`, () => server.close());
    return server;
  }

  async browser(opts) {
    const browser = await launchBrowser(opts);
    this.defer(`browser pid ${browser.pid}`, () => browser.shutdown());
    return browser;
  }

  async page(browser, daemon, opts) {
    const page = await openPage(browser, daemon, opts);
    this.pages.push(page);
    return page;
  }

  async tui(daemon, opts) {
    const tui = await startTui(daemon, opts);
    this.tuis.push(tui);
    this.defer(`tmux server ${tui.sock}`, () => tui.kill());
    return tui;
  }

  /** On failure, what helps to debug: screenshots, page logs, the terminal screen, daemon output. */
  async report() {
    const dir = path.join(ARTIFACTS, 'failures');
    fs.mkdirSync(dir, { recursive: true });
    const out = [`\n===== FAILED: ${this.name} =====`];
    for (const [i, page] of this.pages.entries()) {
      const file = path.join(dir, `${this.slug}-page${i + 1}.png`);
      try {
        await withTimeout(page.screenshot({ path: file, timeout: 5000 }), 6000, 'failure screenshot');
        out.push(`page ${i + 1} (${page.url()}): screenshot ${path.relative(ROOT, file)}`);
      } catch (err) {
        out.push(`page ${i + 1}: no screenshot (${err.message})`);
      }
      if (page.choirLog.length) out.push(`--- page ${i + 1} console (last 40) ---`, ...page.choirLog.slice(-40));
    }
    for (const [i, tui] of this.tuis.entries()) {
      const screen = await tui.screen().catch((err) => `(no screen: ${err.message})`);
      out.push(`--- terminal desktop ${i + 1} ---`, screen);
    }
    for (const [i, daemon] of this.daemons.entries()) {
      const file = path.join(dir, `${this.slug}-daemon${i + 1}.log`);
      fs.writeFileSync(file, daemon.log());
      out.push(`--- daemon ${i + 1} output (last 60 lines; all in ${path.relative(ROOT, file)}) ---`, daemon.logTail(60));
    }
    console.error(out.join('\n'));
  }

  async close() {
    if (!this.passed) await this.report().catch((err) => console.error(`failure report failed: ${err.stack}`));
    for (const { what, fn } of this.cleanups.reverse()) {
      try {
        await withTimeout(Promise.resolve().then(fn), 20_000, `cleanup: ${what}`);
      } catch (err) {
        console.error(`cleanup of ${what} failed: ${err.message}`);
      }
    }
    this.cleanups = [];
  }
}

/**
 * A `node:test` test with a harness: `fn(h)` gets a fresh `Harness`; whatever it started is
 * stopped in an `after` hook, which also runs when the test fails or times out (and then reports).
 */
export function e2eTest(name, fn, { timeout = 60_000 } = {}) {
  return test(name, { timeout }, async (t) => {
    const h = new Harness(name);
    t.after(() => h.close());
    await fn(h, t);
    h.passed = true;
  });
}

// ---------------------------------------------------------------------------------------------
// The hypervisor: users with SSH keys, the web server with passkey sign-in, sandboxes

export const HYPERVISOR_BIN = process.env.CHOIR_HYPERVISOR_BIN || path.join(ROOT, 'target/debug/choir-hypervisor');

/**
 * A real `choir-hypervisor serve` on a fresh data dir, SSH and web on 127.0.0.1 (port 0), each
 * user with a fresh OpenSSH key. `origin` is where the browser goes (http://localhost:PORT).
 */
export class Hypervisor {
  constructor(dir) {
    this.dir = dir;
    this.logPath = path.join(dir, 'hypervisor.out');
    this.child = null;
    this.origin = null;
    this.sshPort = null;
  }

  cli(args, { timeoutMs = 15_000 } = {}) {
    return execFileP(HYPERVISOR_BIN, ['--data-dir', this.dir, ...args], { timeout: timeoutMs });
  }

  async addUser(name) {
    const key = path.join(this.dir, `${name}-key`);
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key], { timeout: 10_000 });
    await this.cli(['user', 'add', name, '--ssh-key', `${key}.pub`]);
  }

  async start(args = [], { timeoutMs = 30_000 } = {}) {
    const base = 3_000_000_000 + 1000 * Math.floor(Math.random() * 100_000);
    const log = fs.openSync(this.logPath, 'a');
    const child = spawn(
      HYPERVISOR_BIN,
      ['--data-dir', this.dir, 'serve', '--ssh-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0',
        '--uid-range', `${base}-${base + 999}`, ...args],
      { stdio: ['ignore', 'pipe', log], env: { ...process.env, CHOIR_LOG: process.env.CHOIR_LOG || 'info' } },
    );
    fs.closeSync(log);
    this.child = child;
    livePids.add(child.pid);
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.exited.then(() => livePids.delete(child.pid));
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      fs.appendFileSync(this.logPath, chunk);
    });
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw fatal(`choir-hypervisor exited (${child.exitCode}):\n${this.log()}`);
        const web = out.match(/web on (\S+) /);
        const ssh = out.match(/SSH on \S+:(\d+)/);
        if (!web || !ssh) return null;
        this.origin = web[1];
        this.sshPort = Number(ssh[1]);
        return true;
      },
      { timeoutMs, intervalMs: 25, what: 'choir-hypervisor to announce its web and SSH addresses' },
    );
    return this;
  }

  /** `user invite NAME ARGS`: the one-time link. */
  async invite(name, args = []) {
    const { stdout } = await this.cli(['user', 'invite', name, ...args]);
    return stdout.trim();
  }

  /** `ssh NAME@127.0.0.1 COMMAND` with OpenSSH and the user's key: its stdout. */
  async ssh(name, command, { timeoutMs = 30_000 } = {}) {
    const { stdout } = await execFileP(
      'ssh',
      ['-i', path.join(this.dir, `${name}-key`), '-p', String(this.sshPort), '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
        `${name}@127.0.0.1`, command],
      { timeout: timeoutMs },
    );
    return stdout;
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGTERM (the hypervisor stops every sandbox), SIGKILL after `timeoutMs`; then the dir goes. */
  async dispose({ timeoutMs = 20_000 } = {}) {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      killPid(child.pid, 'SIGTERM');
      try {
        await withTimeout(child.exited, timeoutMs, `choir-hypervisor (pid ${child.pid}) to stop`);
      } catch {
        killPid(child.pid, 'SIGKILL');
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A hypervisor with `users` registered (SSH keys), serving. */
export async function startHypervisor({ users = ['alice'], args = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'choir-hv-'));
  // Sandbox users (uids of their own under root) walk down to their data dirs.
  fs.chmodSync(dir, 0o711);
  const hypervisor = new Hypervisor(dir);
  try {
    for (const user of users) await hypervisor.addUser(user);
    if (process.getuid?.() !== 0 && users.length > 1) args = [...args, '--unsafe-shared-uid'];
    return await hypervisor.start(args);
  } catch (err) {
    await hypervisor.dispose();
    throw err;
  }
}

/**
 * Chromium's virtual authenticator on `page` (CDP `WebAuthn.addVirtualAuthenticator`): a
 * platform passkey that verifies its user and answers without a prompt.
 */
export async function addVirtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    cdp,
    authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}
