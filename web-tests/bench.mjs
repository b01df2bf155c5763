// Benchmark of the web mirror in headless Chromium; prints a Markdown table.
//
//   1. Page load to interactive (navigation start → body[data-ready=true] and
//      #connection[data-state=live]) on a daemon whose log holds --events events (default
//      100,000), against the same page on an empty daemon (the baseline) in the same run.
//   2. Event appended → DOM updated while chat messages are posted at --rate per second
//      (default 100, --messages 500 of them): the time from the event's commit (its `ts`) and
//      from just before the POST to the moment a MutationObserver in the page sees the
//      `.message`, p50/p99; the baseline is the POST's own round trip measured in Node.
//
// Usage: node web-tests/bench.mjs [--daemon PATH] [--events N] [--loads N] [--rate N]
//                                 [--messages N] [--concurrency N]
// (scripts/bench-web.sh runs it against target/release/choir-daemon.)

import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { DAEMON_BIN, ROOT, httpRequest, launchBrowser, sleep, startDaemon, waitFor, waitUntil } from './lib.mjs';

const { values: opts } = parseArgs({
  options: {
    daemon: { type: 'string', default: DAEMON_BIN },
    events: { type: 'string', default: '100000' },
    loads: { type: 'string', default: '5' },
    rate: { type: 'string', default: '100' },
    messages: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '32' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(
    'node web-tests/bench.mjs [--daemon PATH] [--events N] [--loads N] [--rate N] [--messages N] [--concurrency N]',
  );
  process.exit(0);
}
const EVENTS = Number(opts.events);
const LOADS = Number(opts.loads);
const RATE = Number(opts.rate);
const MESSAGES = Number(opts.messages);
const CONCURRENCY = Number(opts.concurrency);
for (const [name, value] of Object.entries({ EVENTS, LOADS, RATE, MESSAGES, CONCURRENCY })) {
  if (!Number.isInteger(value) || value < (name === 'EVENTS' ? 0 : 1)) {
    console.error(`bench: --${name.toLowerCase()} must be a whole number`);
    process.exit(2);
  }
}

const fmt = (n, digits = 0) =>
  Number(n).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const log = (msg) => console.error(`bench: ${msg}`); // progress on stderr, the report on stdout

/** Nearest-rank percentile of `values` (0 < p <= 100). */
function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}
const median = (values) => percentile(values, 50);

/** Runs `count` jobs with at most `limit` at once. */
async function pool(count, limit, job) {
  let next = 0;
  const worker = async () => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** The desktop every benchmark page shows: two chat windows and a writer with a document. */
async function setUpDesktop(daemon) {
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 1, w: 60, h: 20 } });
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 63, y: 1, w: 60, h: 20 } });
  await daemon.command({
    type: 'doc.create',
    title: 'Bench notes',
    content: 'A document shown in the benchmark desktop.\n'.repeat(20),
    open: true,
  });
}

/** Waits until the agent answered everything (no busy thread) and the head stays put. */
async function waitForQuiet(daemon, timeoutMs = 300_000) {
  let lastHead = -1;
  return waitUntil(
    async () => {
      const { head, world } = await daemon.state();
      const quiet = head === lastHead && world.chats.every((chat) => !chat.busy);
      lastHead = head;
      return quiet ? head : null;
    },
    { timeoutMs, intervalMs: 300, what: 'the daemon to be quiet' },
  );
}

/**
 * Fills the log to at least `target` events: chat messages posted over HTTP by `CONCURRENCY`
 * keep-alive connections (the API takes one command per request; each post appends one event,
 * and the offline agent's answers add a few more).
 */
async function seed(daemon, target) {
  const started = performance.now();
  let posts = 0;
  let head = await daemon.head();
  while (head < target) {
    const batch = target - head;
    await pool(batch, CONCURRENCY, async (i) => {
      const n = posts + i;
      await daemon.command({
        type: 'chat.post',
        thread_id: 1 + (n % 2),
        text: `seed message ${n}: the quick brown fox jumps over the lazy dog`,
      });
    });
    posts += batch;
    head = await waitForQuiet(daemon);
    log(`seeded ${fmt(head)} events`);
  }
  return { posts, head, ms: performance.now() - started };
}

// Runs in the page before its own scripts: records `performance.now()` (ms since navigation
// start) when the app is first ready and live.
const INTERACTIVE_PROBE = () => {
  const check = () => {
    if (window.__choirInteractive !== undefined) return;
    if (
      document.body?.getAttribute('data-ready') === 'true' &&
      document.querySelector('#connection')?.getAttribute('data-state') === 'live'
    ) {
      window.__choirInteractive = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, attributes: true });
};

/**
 * Loads the page once in a fresh context (so nothing cached but what Chromium shares across
 * contexts). Returns ms from navigation start to interactive, and the welcome frame's size.
 */
async function measureLoad(browser, daemon) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.addInitScript(INTERACTIVE_PROBE);
    let welcomeBytes = null;
    page.on('websocket', (ws) =>
      ws.on('framereceived', ({ payload }) => {
        if (welcomeBytes === null && String(payload).includes('"welcome"')) welcomeBytes = Buffer.byteLength(payload);
      }),
    );
    await page.goto(daemon.pageUrl(), { waitUntil: 'commit', timeout: 60_000 });
    const ms = await waitFor(page, () => window.__choirInteractive, 120_000, { what: 'the page to be ready and live' });
    return { ms, welcomeBytes };
  } finally {
    await context.close();
  }
}

/** `LOADS` loads of each daemon's page, alternating (after one unmeasured warm-up load). */
async function measureLoads(browser, empty, big) {
  await measureLoad(browser, empty);
  const result = { empty: { times: [], welcomeBytes: null }, big: { times: [], welcomeBytes: null } };
  for (let i = 0; i < LOADS; i++) {
    for (const [name, daemon] of [
      ['empty', empty],
      ['big', big],
    ]) {
      const { ms, welcomeBytes } = await measureLoad(browser, daemon);
      result[name].times.push(ms);
      result[name].welcomeBytes ??= welcomeBytes;
    }
  }
  return result;
}

/**
 * Posts `MESSAGES` chat messages at `RATE` per second into a freshly opened chat window while a
 * MutationObserver in the page notes when each `.message` shows. Returns the latencies
 * (append → DOM) and the POSTs' round trips, in ms.
 */
async function measureLiveUpdates(browser, daemon) {
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 10, y: 3, w: 70, h: 24 } });
  const { world } = await daemon.state();
  const windowId = world.desktop.focused; // the window just opened, whose thread has its id
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(daemon.pageUrl(), { waitUntil: 'commit', timeout: 60_000 });
    await waitFor(
      page,
      (id) =>
        document.querySelector('#connection')?.getAttribute('data-state') === 'live' &&
        !!document.querySelector(`.window[data-window-id="${id}"] .chat-messages`),
      60_000,
      { arg: windowId, what: `the page live with chat window ${windowId}` },
    );
    await page.evaluate(() => {
      // seen[i] = Date.now() when the message "bench <i> <sendTimeMs>" first shows.
      window.__benchSeen = {};
      const note = (el, now) => {
        const message = el?.closest?.('.message');
        if (!message) return;
        const match = /^bench (\d+) (\d+)$/.exec((message.querySelector('.text') ?? message).textContent.trim());
        if (match && !(match[1] in window.__benchSeen)) {
          // data-ts: the event's commit time (Unix ms, the daemon's clock: the same machine's).
          window.__benchSeen[match[1]] = { now, committed: Number(message.dataset.ts) };
        }
      };
      new MutationObserver((mutations) => {
        const now = Date.now();
        for (const m of mutations) {
          if (m.type === 'characterData') note(m.target.parentElement, now);
          for (const node of m.addedNodes) {
            if (node.nodeType !== Node.ELEMENT_NODE) {
              note(node.parentElement, now);
              continue;
            }
            note(node, now);
            for (const el of node.querySelectorAll('.message')) note(el, now);
          }
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });

    // Open loop: message i goes at start + i / RATE, whether or not earlier ones were answered.
    const sent = [];
    const rtts = [];
    const inFlight = [];
    const start = performance.now() + 100;
    for (let i = 0; i < MESSAGES; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait); // pacing the load, not waiting for a condition
      const sendTime = Date.now();
      sent[i] = sendTime;
      const t0 = performance.now();
      inFlight.push(
        daemon
          .command({ type: 'chat.post', thread_id: windowId, text: `bench ${i} ${sendTime}` })
          .then(() => rtts.push(performance.now() - t0)),
      );
    }
    await Promise.all(inFlight);
    const seen = await waitFor(
      page,
      (n) => (Object.keys(window.__benchSeen).length >= n ? window.__benchSeen : null),
      60_000,
      { arg: MESSAGES, what: `all ${MESSAGES} bench messages to show` },
    ).catch(async (err) => {
      const got = await page.evaluate(() => Object.keys(window.__benchSeen).length);
      throw new Error(`${err.message} (${got} of ${MESSAGES} showed)`);
    });
    const latencies = sent.map((sendTime, i) => seen[i].now - sendTime);
    const fromCommit = sent.map((_, i) => seen[i].now - seen[i].committed);
    return { latencies, fromCommit, rtts, achievedRate: MESSAGES / ((sent.at(-1) - sent[0]) / 1000) };
  } finally {
    await context.close();
  }
}

// ---------------------------------------------------------------------------------------------

const command = `node ${path.relative(process.cwd(), process.argv[1])} ${process.argv.slice(2).join(' ')}`.trim();
let big;
let empty;
let browser;
try {
  log(`daemon ${opts.daemon}`);
  big = await startDaemon({ bin: opts.daemon });
  empty = await startDaemon({ bin: opts.daemon });
  // Fail now, not after seeding, if this daemon was built without the web mirror.
  const probe = await httpRequest(`${empty.url}/`);
  if (probe.status !== 200) {
    throw new Error(
      `GET / answered ${probe.status}: ${probe.text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 200)}\n` +
        'Build choir-web (scripts/build-web.sh), then the daemon (cargo build --release -p choir-daemon).',
    );
  }
  await setUpDesktop(big);
  await setUpDesktop(empty);
  const emptyHead = await waitForQuiet(empty);

  log(`seeding ${fmt(EVENTS)} events (${CONCURRENCY} concurrent keep-alive connections)...`);
  const seeded = await seed(big, EVENTS);

  browser = await launchBrowser();
  log(`page loads (${LOADS} of each, alternating)...`);
  const { empty: base, big: loaded } = await measureLoads(browser, empty, big);

  log(`live updates: ${MESSAGES} messages at ${RATE}/s...`);
  const live = await measureLiveUpdates(browser, empty);

  const baseMs = median(base.times);
  const bigMs = median(loaded.times);
  const range = (times) => `${fmt(Math.min(...times))}–${fmt(Math.max(...times))}`;
  const bytes = (n) => (n === null ? '?' : `${fmt(n / 1024, 1)} KiB`);
  const out = [
    '## Web mirror (headless Chromium)',
    '',
    `Command: \`${command}\` — daemon \`${path.relative(ROOT, opts.daemon) || opts.daemon}\`, ` +
      `Chromium ${browser.version()}, ${os.cpus().length} CPUs, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `Seeding: ${fmt(seeded.head)} events (${fmt(seeded.posts)} \`chat.post\` over HTTP, one command per request, ` +
      `${CONCURRENCY} concurrent keep-alive connections, plus the offline agent's answers) in ` +
      `${fmt(seeded.ms / 1000, 1)} s (${fmt(seeded.head / (seeded.ms / 1000))} events/s).`,
    '',
    '| Measurement | Baseline | Result | Ratio |',
    '|---|---:|---:|---:|',
    `| Page load → ready and live, median of ${LOADS} (ms) | ${fmt(baseMs)} (empty log, ${emptyHead} events; range ${range(base.times)}) | ` +
      `${fmt(bigMs)} (${fmt(seeded.head)} events; range ${range(loaded.times)}) | ${fmt(bigMs / baseMs, 2)}× |`,
    `| Welcome frame size | ${bytes(base.welcomeBytes)} | ${bytes(loaded.welcomeBytes)} | ` +
      `${base.welcomeBytes && loaded.welcomeBytes ? `${fmt(loaded.welcomeBytes / base.welcomeBytes, 2)}×` : ''} |`,
    `| Event committed → DOM at ${RATE} posts/s, p50 (ms) | ${fmt(percentile(live.rtts, 50), 1)} (POST round trip) | ` +
      `${fmt(percentile(live.fromCommit, 50), 1)} | ${fmt(percentile(live.fromCommit, 50) / percentile(live.rtts, 50), 2)}× |`,
    `| Event committed → DOM at ${RATE} posts/s, p99 (ms) | ${fmt(percentile(live.rtts, 99), 1)} (POST round trip) | ` +
      `${fmt(percentile(live.fromCommit, 99), 1)} | ${fmt(percentile(live.fromCommit, 99) / percentile(live.rtts, 99), 2)}× |`,
    `| POST sent → DOM at ${RATE} posts/s, p50 (ms) | ${fmt(percentile(live.rtts, 50), 1)} (POST round trip) | ` +
      `${fmt(percentile(live.latencies, 50), 1)} | ${fmt(percentile(live.latencies, 50) / percentile(live.rtts, 50), 2)}× |`,
    `| POST sent → DOM at ${RATE} posts/s, p99 (ms) | ${fmt(percentile(live.rtts, 99), 1)} (POST round trip) | ` +
      `${fmt(percentile(live.latencies, 99), 1)} | ${fmt(percentile(live.latencies, 99) / percentile(live.rtts, 99), 2)}× |`,
    '',
    `Event → DOM: ${MESSAGES} messages \`bench <i> <sendTimeMs>\` posted open-loop at ${RATE}/s ` +
      `(achieved ${fmt(live.achievedRate, 1)}/s) into a chat window of the empty daemon; "committed" runs from ` +
      "the event's commit time (its `ts`, the `.message`'s `data-ts`; whole milliseconds) and \"POST sent\" from just " +
      'before the POST (Node), both to when a MutationObserver in the page saw the `.message` (`Date.now()`, ' +
      'one machine, one clock); the offline agent answers each, so the page also receives its events.',
  ];
  console.log(out.join('\n'));
} catch (err) {
  console.error(`bench: FAILED: ${err.stack ?? err}`);
  for (const [name, daemon] of [
    ['100k', big],
    ['empty', empty],
  ]) {
    if (daemon) console.error(`--- ${name} daemon output (last 30 lines) ---\n${daemon.logTail(30)}`);
  }
  process.exitCode = 1;
} finally {
  await browser?.shutdown();
  await big?.dispose();
  await empty?.dispose();
}
