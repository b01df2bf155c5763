// End-to-end tests of the web mirror (choir-web served by choir-daemon) in headless Chromium.
// Each test has its own daemon (fresh data dir) and browser; the terminal desktop (`choir` in
// tmux) joins where a test needs a second client. Run: scripts/e2e-web.sh (or
// `node --test --test-concurrency=1 web-tests/e2e.test.mjs` after building the binaries).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  ARTIFACTS,
  cellSize,
  choirEvents,
  connectionState,
  domWindows,
  drag,
  e2eTest,
  messageTexts,
  pngSize,
  waitFor,
  waitForLive,
  waitUntil,
} from './lib.mjs';

/** A short random tag so texts from one run can't be mistaken for another's. */
const tag = () => Math.random().toString(36).slice(2, 8);

/** Waits for the page to show a window with this id. */
function waitForWindow(page, id, timeoutMs = 10_000) {
  return waitFor(page, (id) => !!document.querySelector(`#desktop .window[data-window-id="${id}"]`), timeoutMs, {
    arg: id,
    what: `.window[data-window-id=${id}]`,
  });
}

/** Waits for a `.message` in window `windowId` whose text is `text`. */
function waitForMessage(page, windowId, text, timeoutMs = 10_000) {
  return waitFor(
    page,
    ({ windowId, text }) =>
      [...document.querySelectorAll(`.window[data-window-id="${windowId}"] .message`)].some(
        (m) => (m.querySelector('.text') ?? m).textContent.trim() === text,
      ),
    timeoutMs,
    { arg: { windowId, text }, what: `a .message "${text}" in window ${windowId}` },
  );
}

/** Waits for the DOM window `id` to carry these data-x/y/w/h values. */
function waitForGeometry(page, id, want, timeoutMs = 10_000) {
  return waitFor(
    page,
    ({ id, want }) => {
      const el = document.querySelector(`#desktop .window[data-window-id="${id}"]`);
      return !!el && Object.entries(want).every(([k, v]) => Number(el.getAttribute(`data-${k}`)) === v);
    },
    timeoutMs,
    { arg: { id, want }, what: `window ${id} with data ${JSON.stringify(want)}` },
  );
}

/** Waits until /api/state has window `id` with these rect values, and returns the window. */
function waitForStateRect(daemon, id, want, timeoutMs = 10_000) {
  return waitUntil(
    async () => {
      const win = (await daemon.windows()).get(id);
      return win && Object.entries(want).every(([k, v]) => win.rect[k] === v) ? win : null;
    },
    { timeoutMs, what: `/api/state window ${id} rect ${JSON.stringify(want)}` },
  );
}

/** The one window of /api/state with this app (fails if there is not exactly one). */
async function onlyWindow(daemon, app) {
  const wins = [...(await daemon.windows()).values()].filter((w) => w.app === app);
  assert.equal(wins.length, 1, `expected one ${app} window, /api/state has ${wins.length}`);
  return wins[0];
}

// ---------------------------------------------------------------------------------------------

e2eTest('a. the page shows the windows that exist, live, and moves the token out of the URL', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 3, y: 2, w: 50, h: 14 } });
  await daemon.command({ type: 'window.open', app: 'event_log' }); // cascaded by the daemon
  const state = await daemon.state();
  const expected = state.world.desktop.windows;
  assert.equal(expected.length, 2);

  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitFor(page, () => document.querySelectorAll('#desktop .window').length === 2, 10_000, {
    what: 'two .window elements',
  });

  const shown = new Map((await domWindows(page)).map((w) => [w.id, w]));
  for (const win of expected) {
    const dom = shown.get(win.id);
    assert.ok(dom, `window ${win.id} (${win.app}) is not in the DOM`);
    assert.equal(dom.app, win.app, `window ${win.id}: data-app`);
    assert.deepEqual(
      { x: dom.x, y: dom.y, w: dom.w, h: dom.h },
      { x: win.rect.x, y: win.rect.y, w: win.rect.w, h: win.rect.h },
      `window ${win.id}: data-x/y/w/h against /api/state`,
    );
    // The app may add to it (a writer shows "<title> — <document>"), but the title is there.
    assert.ok(dom.title?.includes(win.title), `window ${win.id}: .title "${dom.title}" shows "${win.title}"`);
    assert.equal(dom.minimized, String(win.minimized), `window ${win.id}: data-minimized`);
    assert.equal(dom.maximized, String(win.maximized), `window ${win.id}: data-maximized`);
    assert.ok(dom.box.width > 0 && dom.box.height > 0, `window ${win.id} has no size on screen`);
  }
  // The last opened window has the focus.
  assert.equal(shown.get(state.world.desktop.focused)?.focused, 'true', 'the focused window has data-focused=true');

  // The token leaves the address bar (history.replaceState) and lives in sessionStorage.
  await waitFor(page, (token) => !location.href.includes(token) && !location.search.includes('token='), 5000, {
    arg: daemon.token,
    what: 'the token to leave location.href',
  });
  const stored = await page.evaluate(
    (token) => Object.keys(sessionStorage).some((k) => (sessionStorage.getItem(k) ?? '').includes(token)),
    daemon.token,
  );
  assert.ok(stored, 'sessionStorage holds the token');
  assert.equal(await connectionState(page), 'live');
});

e2eTest('b. a chat message typed in the browser reaches the log and the terminal desktop', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat' }); // window 1, thread 1
  const tui = await h.tui(daemon);
  await tui.waitForText('1:Chat');

  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitForWindow(page, 1);

  const text = `hello from the browser ${tag()}`;
  const input = page.locator('.window[data-window-id="1"] textarea.chat-input');
  await input.click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');

  await waitForMessage(page, 1, text);
  const event = await waitUntil(
    async () =>
      (await choirEvents(daemon)).find((e) => e.type === 'chat.user_message' && e.data?.text === text),
    { timeoutMs: 10_000, what: `choir events to list a chat.user_message "${text}"` },
  );
  assert.equal(event.data.thread_id, 1, 'the message went to the chat window\'s thread');
  await tui.waitForText(text);
  // Enter sent the message: nothing of it is left in the input.
  await waitFor(
    page,
    () => document.querySelector('.window[data-window-id="1"] textarea.chat-input')?.value.trim() === '',
    5000,
    { what: 'the chat input to be empty after sending' },
  );
});

e2eTest('c. windows move by API and by dragging, and resize by the handle', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 2, y: 1, w: 40, h: 12 } });
  const id = 1;
  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitForGeometry(page, id, { x: 2, y: 1, w: 40, h: 12 });
  const cell = await cellSize(page);
  const before = (await domWindows(page)).find((w) => w.id === id).box;

  // Moved by the API: the DOM follows, attributes and on-screen position alike.
  await daemon.command({ type: 'window.move', window_id: id, x: 10, y: 5 });
  await waitForGeometry(page, id, { x: 10, y: 5 });
  await waitFor(
    page,
    ({ id, left, top }) => {
      const box = document.querySelector(`.window[data-window-id="${id}"]`).getBoundingClientRect();
      return Math.abs(box.left - left) <= 2 && Math.abs(box.top - top) <= 2;
    },
    5000,
    {
      arg: { id, left: before.left + 8 * cell.w, top: before.top + 4 * cell.h },
      what: `window ${id} to be drawn 8 cells right and 4 down of where it was`,
    },
  );

  // Dragged by its title bar: (5, 3) cells. A third of a cell more, so that whether the app
  // rounds or floors, the result is the same.
  // Grabbed by its title text (away from the buttons), or else near the bar's left end.
  const win = page.locator(`.window[data-window-id="${id}"]`);
  const titleText = win.locator('.titlebar .title');
  const grab = (await titleText.count()) > 0 ? await titleText.boundingBox() : null;
  const bar = await win.locator('.titlebar').boundingBox();
  assert.ok(bar, 'the title bar is on screen');
  const [gx, gy] = grab
    ? [grab.x + Math.min(grab.width / 2, 40), grab.y + grab.height / 2]
    : [bar.x + Math.min(16, bar.width / 4), bar.y + bar.height / 2];
  await drag(page, gx, gy, 5.3 * cell.w, 3.3 * cell.h, {
    beforeRelease: async () => {
      const rect = (await daemon.windows()).get(id).rect;
      assert.deepEqual([rect.x, rect.y], [10, 5], 'the move is sent on release, not during the drag');
    },
  });
  await waitForStateRect(daemon, id, { x: 15, y: 8, w: 40, h: 12 });
  await waitForGeometry(page, id, { x: 15, y: 8 });

  // Resized by the bottom-right handle: (6, 4) cells.
  const handle = await page.locator(`.window[data-window-id="${id}"] .resize-handle`).boundingBox();
  assert.ok(handle, 'the resize handle is on screen');
  await drag(page, handle.x + handle.width / 2, handle.y + handle.height / 2, 6.3 * cell.w, 4.3 * cell.h);
  await waitForStateRect(daemon, id, { x: 15, y: 8, w: 46, h: 16 });
  await waitForGeometry(page, id, { w: 46, h: 16 });
});

e2eTest('d. the browser and the terminal desktop typing into one document agree', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'doc.create', title: 'shared', content: '', open: true });
  const writer = await onlyWindow(daemon, 'writer');
  const docId = writer.doc_id;
  assert.ok(docId, 'the writer window shows the new document');

  // The terminal desktop opens with the writer focused (the last opened window).
  const tui = await h.tui(daemon, { cols: 100, rows: 30 });
  await tui.waitForText('shared · saved');

  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  const textarea = page.locator(`.window[data-window-id="${writer.id}"] textarea.writer-text`);
  await textarea.click();

  // Disjoint alphabets: each author's characters can be picked back out of the merged text.
  const fromBrowser = 'browser-typed-this-line';
  const fromTui = 'TMUX_WROTE_4321';
  const typeInTui = async () => {
    for (const ch of fromTui) {
      await tui.type(ch);
      await new Promise((resolve) => setTimeout(resolve, 20)); // a typist's pace
    }
  };
  await Promise.all([page.keyboard.type(fromBrowser, { delay: 20 }), typeInTui()]);

  // Idle: the daemon's text, the textarea and the terminal all show the same full text.
  const want = fromBrowser.length + fromTui.length;
  let last;
  await waitUntil(
    async () => {
      const doc = await daemon.doc(docId);
      const value = await textarea.inputValue();
      const screen = await tui.screen();
      last = { daemon: doc.content, browser: value, screen };
      return (
        doc.content.length === want &&
        value === doc.content &&
        screen.includes(doc.content) &&
        screen.includes('shared · saved')
      );
    },
    { timeoutMs: 20_000, intervalMs: 100, what: 'the daemon, the browser and the terminal to agree' },
  ).catch((err) => {
    err.message += `\n${JSON.stringify({ daemon: last?.daemon, browser: last?.browser })}`;
    throw err;
  });

  const text = last.daemon;
  assert.equal(text.replace(/[^a-z-]/g, ''), fromBrowser, `the browser's keystrokes, in order, once (in "${text}")`);
  assert.equal(text.replace(/[^A-Z0-9_]/g, ''), fromTui, `the terminal's keystrokes, in order, once (in "${text}")`);
  assert.equal(last.browser, text);
});

e2eTest('e. a daemon restart mid-session reconnects and loses nothing', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat' }); // window 1, thread 1
  const early = `before the restart ${tag()}`;
  await daemon.command({ type: 'chat.post', thread_id: 1, text: early });

  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitForMessage(page, 1, early);

  await daemon.stop();
  const down = await waitFor(
    page,
    () => {
      const state = document.querySelector('#connection')?.getAttribute('data-state');
      return state && state !== 'live' ? state : null;
    },
    10_000,
    { what: '#connection to leave "live" once the daemon stopped' },
  );
  assert.ok(['connecting', 'reconnecting', 'offline'].includes(down), `state while the daemon is down: ${down}`);

  await daemon.restart();
  await waitFor(page, () => document.querySelector('#connection')?.getAttribute('data-state') === 'live', 30_000, {
    what: '#connection to be live again after the restart',
  });

  const late = `after the restart ${tag()}`;
  await daemon.command({ type: 'chat.post', thread_id: 1, text: late });
  await waitForMessage(page, 1, late);

  const texts = await messageTexts(page, 1, 'user');
  assert.equal(texts.filter((t) => t === early).length, 1, `"${early}" is shown exactly once`);
  assert.equal(texts.filter((t) => t === late).length, 1, `"${late}" is shown exactly once`);
  const seqs = await page.$$eval('.window[data-window-id="1"] .message[data-seq]', (els) =>
    els.map((el) => el.getAttribute('data-seq')),
  );
  assert.equal(new Set(seqs).size, seqs.length, `no message is shown twice (data-seq: ${seqs.join(',')})`);
});

e2eTest('f. a wrong or missing token gets an error page, not the desktop', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat' });
  const browser = await h.browser();

  for (const [label, token] of [
    ['a wrong token', 'wrong'],
    ['no token', null],
  ]) {
    const page = await h.page(browser, daemon, { token });
    await page.locator('#error-page').waitFor({ state: 'visible', timeout: 15_000 });
    const text = await page.locator('#error-page').innerText();
    assert.match(text, /token/i, `with ${label}, the error page mentions the token: "${text}"`);
    assert.equal(await page.locator('#desktop .window').count(), 0, `with ${label}, no window is shown`);
    assert.ok(!(await page.locator('#desktop').isVisible()), `with ${label}, no desktop is shown`);
    const state = await connectionState(page);
    assert.notEqual(state, 'live', `with ${label}, #connection is not live`);
    await page.context().close();
  }
});

e2eTest('g. screenshots: desktop 1280x800 and phone 390x844', async (h) => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 1, w: 58, h: 18 } });
  await daemon.command({ type: 'chat.post', thread_id: 1, text: 'What does the web mirror show?' });
  await daemon.command({ type: 'window.open', app: 'writer', rect: { x: 61, y: 1, w: 56, h: 18 } });
  await daemon.command({
    type: 'doc.create',
    title: 'Notes',
    content: '# Notes\n\nThe same desktop in the terminal and in the browser.\n',
    window_id: (await onlyWindow(daemon, 'writer')).id,
  });
  await daemon.command({ type: 'window.open', app: 'event_log', rect: { x: 1, y: 20, w: 116, h: 12 } });
  const browser = await h.browser();

  const desktop = await h.page(browser, daemon, { viewport: { width: 1280, height: 800 } });
  await waitForLive(desktop);
  await waitFor(desktop, () => document.querySelectorAll('#desktop .window').length === 3, 10_000, {
    what: 'three windows',
  });
  await waitForMessage(desktop, 1, 'What does the web mirror show?');
  // The agent's answer and the event log's history are in before the picture is taken.
  await waitFor(desktop, () => document.querySelector('.message[data-role=assistant]') && document.querySelectorAll('.event-log .event').length >= 8, 10_000, {
    what: "the agent's answer and the log's history",
  });
  const desktopPng = path.join(ARTIFACTS, 'desktop-1280x800.png');
  await desktop.screenshot({ path: desktopPng });
  assert.deepEqual(pngSize(desktopPng), { width: 1280, height: 800 });

  const phone = await h.page(browser, daemon, {
    viewport: { width: 390, height: 844 },
    contextOptions: { isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
  });
  await waitForLive(phone);
  // Windows become full-screen cards: one is visible and spans (nearly) the whole width.
  const card = await waitFor(
    phone,
    () =>
      [...document.querySelectorAll('#desktop .window')]
        .map((el) => ({ el, box: el.getBoundingClientRect(), style: getComputedStyle(el) }))
        .filter(({ box, style }) => box.width > 0 && box.height > 0 && style.visibility !== 'hidden')
        .map(({ el, box }) => ({ id: el.getAttribute('data-window-id'), left: box.left, width: box.width }))
        .find(({ left, width }) => width >= 0.9 * innerWidth && left >= -1 && left + width <= innerWidth + 1) ?? null,
    10_000,
    { what: 'a visible .window filling the phone\'s width' },
  );
  assert.ok(card.width >= 351, `the card is ${card.width}px wide`);
  await waitFor(phone, () => document.querySelectorAll('.event-log .event').length >= 8, 10_000, {
    what: "the log's history",
  });
  const phonePng = path.join(ARTIFACTS, 'phone-390x844.png');
  await phone.screenshot({ path: phonePng });
  assert.deepEqual(pngSize(phonePng), { width: 390, height: 844 });
});
