// Benchmark of app windows in the web mirror, headless Chromium against the release daemon;
// prints a Markdown table. In one page: a click on an app's button (the scaffold's counter)
// until the page shows the count it drew after (click → `app.input` → the app's update and
// view in the daemon → `app.view_shown` → the DOM), against a press on another window until
// the page shows that window focused (click → `window.focus` → `window.focused` → the
// DOM), alternating, each timed in the page (performance.now() at the click, a
// MutationObserver at the change).
//
// Usage: node web-tests/bench-apps.mjs [--daemon PATH] [--clicks N]
// (scripts/bench-web.sh --apps runs it against target/release/choir-daemon.)

import path from 'node:path';
import { parseArgs } from 'node:util';

import { DAEMON_BIN, ROOT, launchBrowser, openPage, startDaemon, waitFor } from './lib.mjs';

const { values: opts } = parseArgs({
  options: {
    daemon: { type: 'string', default: DAEMON_BIN },
    clicks: { type: 'string', default: '200' },
  },
});
const CLICKS = Number(opts.clicks);

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
};

/** Runs in the page: clicks `target` and resolves with ms until `changed()` holds. */
function timedClick([clickSel, watchSel, kind, before]) {
  return new Promise((resolve, reject) => {
    const watched = document.querySelector(watchSel);
    const changed = () =>
      kind === 'text' ? watched.textContent !== before : watched.classList.contains('focused');
    const started = performance.now();
    const observer = new MutationObserver(() => {
      if (changed()) {
        observer.disconnect();
        resolve(performance.now() - started);
      }
    });
    observer.observe(document.getElementById('desktop'), { subtree: true, childList: true, characterData: true, attributes: true });
    setTimeout(() => {
      observer.disconnect();
      reject(new Error(`no change of ${watchSel} in 5 s`));
    }, 5000);
    document.querySelector(clickSel).dispatchEvent(new MouseEvent(kind === 'text' ? 'click' : 'mousedown', { bubbles: true }));
  });
}

const daemon = await startDaemon({
  bin: opts.daemon,
  env: { CHOIR_APPS_TARGET_DIR: path.join(ROOT, 'target/tmp/apps') },
});
let browser;
try {
  await daemon.api('/api/apps/counter', {});
  await daemon.api('/api/apps/counter/build', {}, { timeoutMs: 300_000 });
  await daemon.command({ type: 'window.open', app: 'app:counter', rect: { x: 1, y: 1, w: 50, h: 12 } });
  await daemon.command({ type: 'window.open', app: 'event_log', rect: { x: 55, y: 1, w: 50, h: 12 } });
  browser = await launchBrowser();
  const page = await openPage(browser, daemon);
  const app = '.window[data-window-id="1"] .user-app';
  await waitFor(page, (sel) => document.querySelector(sel)?.textContent.includes('pressed 0 times'), 15_000, {
    arg: app,
    what: 'the counter',
  });
  const appClicks = [];
  const focusClicks = [];
  for (let n = 0; n < CLICKS; n += 1) {
    const before = await page.$eval(app, (el) => el.textContent);
    appClicks.push(await page.evaluate(timedClick, [`${app} button[data-app-id=press]`, app, 'text', before]));
    // The event log, opened last, has the focus first.
    const other = n % 2 === 0 ? 1 : 2;
    focusClicks.push(
      await page.evaluate(timedClick, [
        `.window[data-window-id="${other}"]`,
        `.window[data-window-id="${other}"]`,
        'focus',
        '',
      ]),
    );
  }
  const fmt = (ms) => ms.toFixed(1);
  const [a50, a99, f50, f99] = [percentile(appClicks, 0.5), percentile(appClicks, 0.99), percentile(focusClicks, 0.5), percentile(focusClicks, 0.99)];
  console.log(`Command: \`node web-tests/bench-apps.mjs --clicks ${CLICKS}\` — daemon \`${path.relative(ROOT, opts.daemon)}\`\n`);
  console.log('| | app button → its new view in the DOM | a window pressed → shown focused (baseline) | ratio |');
  console.log('|---|---|---|---|');
  console.log(`| p50 (ms) | ${fmt(a50)} | ${fmt(f50)} | ${(a50 / f50).toFixed(2)}× |`);
  console.log(`| p99 (ms) | ${fmt(a99)} | ${fmt(f99)} | ${(a99 / f99).toFixed(2)}× |`);
} finally {
  await browser?.shutdown();
  await daemon.dispose();
}
