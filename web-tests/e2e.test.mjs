// End-to-end tests of the web mirror (choir-web served by choir-daemon) in headless Chromium.
// Each test has its own daemon (fresh data dir) and browser; the terminal desktop (`choir` in
// tmux) joins where a test needs a second client. Run: scripts/e2e-web.sh (or
// `node --test --test-concurrency=1 web-tests/e2e.test.mjs` after building the binaries).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import {
  ARTIFACTS,
  cellSize,
  choirEvents,
  connectionState,
  domWindows,
  drag,
  e2eTest,
  holdServerFrames,
  messageTexts,
  openaiText,
  openaiToolCall,
  pngSize,
  ROOT,
  sleep,
  waitFor,
  waitForAgentIdle,
  waitForLive,
  waitUntil,
} from './lib.mjs';

const execFileP = promisify(execFile);

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

/** Ctrl-a s in `page`: the shell window it opens, and its terminal's selector once it shows a prompt. */
async function openShell(page, daemon) {
  await page.keyboard.press('Control+a');
  await page.keyboard.press('s');
  const shell = await waitUntil(async () => [...(await daemon.windows()).values()].find((w) => w.app === 'shell'), {
    what: 'a shell window in /api/state',
  });
  const terminal = `.window[data-window-id="${shell.id}"] .terminal`;
  await waitFor(page, (sel) => document.querySelector(sel)?.textContent.trim().length > 0, 10_000, {
    arg: terminal,
    what: 'a prompt in the terminal',
  });
  return { shell, terminal };
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

/** The `data-seq`s of the `.message`s of window `windowId`, in DOM order. */
function domMessageSeqs(page, windowId) {
  return page.$$eval(`.window[data-window-id="${windowId}"] .message[data-seq]`, (els) =>
    els.map((el) => Number(el.getAttribute('data-seq'))),
  );
}

/** Scrolls element `selector` to the top and tells the page (a scroll event), as a reader does. */
function scrollToTop(page, selector) {
  return page.evaluate((selector) => {
    const el = document.querySelector(selector);
    el.scrollTop = 0;
    el.dispatchEvent(new Event('scroll'));
  }, selector);
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
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 0, w: 48, h: 14 } });
  await daemon.command({ type: 'chat.post', thread_id: 1, text: 'What does the web mirror show?' });
  await daemon.command({ type: 'window.open', app: 'writer', rect: { x: 50, y: 0, w: 48, h: 14 } });
  await daemon.command({
    type: 'doc.create',
    title: 'Notes',
    content: '# Notes\n\nThe same desktop in the terminal and in the browser.\n',
    window_id: (await onlyWindow(daemon, 'writer')).id,
  });
  await daemon.command({ type: 'window.open', app: 'event_log', rect: { x: 1, y: 15, w: 97, h: 12 } });
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

  // The system's dark setting gives the dark theme, with the same windows.
  const dark = await h.page(browser, daemon, {
    viewport: { width: 1280, height: 800 },
    contextOptions: { colorScheme: 'dark' },
  });
  await waitForLive(dark);
  const background = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [lightBg, darkBg] = [await background(desktop), await background(dark)];
  assert.notEqual(lightBg, darkBg, 'light and dark backgrounds differ');
  const luminance = (rgb) => rgb.match(/\d+/g).slice(0, 3).reduce((sum, v) => sum + Number(v), 0);
  assert.ok(luminance(darkBg) < luminance(lightBg), `dark ${darkBg} is darker than light ${lightBg}`);
  await dark.screenshot({ path: path.join(ARTIFACTS, 'desktop-dark-1280x800.png') });
});

e2eTest('h. older chat messages page in on scroll, each once, while live events keep coming', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 1, w: 70, h: 20 } }); // window 1, thread 1
  const stamp = tag();
  for (let i = 1; i <= 120; i++) {
    await daemon.command({ type: 'chat.post', thread_id: 1, text: `paged ${stamp} #${i}` });
  }
  // The offline agent answers the messages it sees while not busy: the thread holds the 120 and
  // its answers.
  await waitForAgentIdle(daemon);
  const before = await daemon.thread(1);
  assert.equal(before.more, false, 'the whole thread fits in one API page of 500');
  const users = before.messages.filter((m) => m.role === 'user').length;
  assert.equal(users, 120, 'the thread holds the 120 messages posted');
  assert.ok(before.messages.length > 120, `the agent answered too (${before.messages.length} messages)`);

  // What a welcome says of the thread: checked at the end, after what the reader sees.
  const welcome = (await daemon.state()).world.chats.find((c) => c.id === 1);
  const welcomeSays = `/api/state's thread 1: total ${welcome.total}, latest held ${welcome.messages
    .map((m) => m.seq)
    .join(',')}; the log's thread: ${before.messages.length} messages, latest ${before.messages
    .slice(-welcome.messages.length)
    .map((m) => m.seq)
    .join(',')}`;

  const route = holdServerFrames((frame) => frame.type === 'reply' && frame.reply?.type === 'thread.messages');
  const browser = await h.browser();
  const page = await h.page(browser, daemon, { beforeGoto: (p) => route.route(p) });
  await waitForLive(page);
  await waitForWindow(page, 1);
  const list = '#chat-1';

  // The welcome carries only the latest ones; the rest is said to be there.
  const first = await waitFor(
    page,
    () => {
      const seqs = [...document.querySelectorAll('#chat-1 .message[data-seq]')].map((m) => Number(m.dataset.seq));
      return seqs.length > 0 && document.querySelector('#chat-1 .older') ? seqs : null;
    },
    10_000,
    { what: 'the latest messages and a note of older ones' },
  );
  assert.ok(first.length <= 20, `the welcome carries at most 20 messages, the page shows ${first.length}`);
  assert.deepEqual(
    first,
    before.messages.slice(-first.length).map((m) => m.seq),
    `the latest messages of the thread, in order (${welcomeSays})`,
  );
  assert.equal(route.matched, 0, 'no page was asked for before scrolling');

  // A page on its way (its reply held back) while messages keep coming: they show at the
  // bottom at once.
  route.hold = true;
  await scrollToTop(page, list);
  await waitUntil(() => route.held.length === 1, { timeoutMs: 10_000, what: 'the first older page to be asked for' });
  await waitFor(page, () => /loading older/.test(document.querySelector('#chat-1 .older')?.textContent ?? ''), 5000, {
    what: 'the chat to say an older page is loading',
  });
  const live = `live while paging ${stamp}`;
  const [liveSeq] = (await daemon.command({ type: 'chat.post', thread_id: 1, text: live })).seqs;
  await waitForMessage(page, 1, live);
  const during = await domMessageSeqs(page, 1);
  assert.equal(during.at(-1) >= liveSeq && during.includes(liveSeq), true, `the live message (seq ${liveSeq}) is at the bottom: ${during.slice(-3)}`);
  assert.equal(new Set(during).size, during.length, 'nothing is shown twice while the page loads');
  assert.equal(route.held.length, 1, 'the older page was still on its way');
  route.release();

  // Scrolled to the top again and again until nothing more comes.
  let shown = await waitFor(
    page,
    (n) => {
      const count = document.querySelectorAll('#chat-1 .message[data-seq]').length;
      return count > n ? count : null;
    },
    10_000,
    { arg: during.length, what: 'the held page to be taken in' },
  );
  for (let round = 0; round < 30; round++) {
    const state = await page.evaluate(() => ({
      count: document.querySelectorAll('#chat-1 .message[data-seq]').length,
      older: document.querySelector('#chat-1 .older')?.textContent ?? null,
    }));
    if (state.older === null) break;
    await scrollToTop(page, list);
    shown = await waitFor(
      page,
      (n) => {
        const count = document.querySelectorAll('#chat-1 .message[data-seq]').length;
        const older = document.querySelector('#chat-1 .older');
        return count > n || !older ? Math.max(count, 1) : null;
      },
      10_000,
      { arg: state.count, what: `more messages after scrolling to the top (${state.count} shown, "${state.older}")` },
    );
  }
  assert.equal(await page.locator('#chat-1 .older').count(), 0, 'no older messages are left to load');

  // Every message of the thread, once, in order, as the log has it.
  await waitForAgentIdle(daemon);
  const after = await daemon.thread(1);
  const want = after.messages.map((m) => m.seq);
  let seqs = [];
  try {
    await waitFor(page, (n) => document.querySelectorAll('#chat-1 .message[data-seq]').length >= n, 10_000, {
      arg: want.length,
      what: `${want.length} messages in the chat`,
    });
  } catch {
    // compared below, with the difference
  }
  seqs = await domMessageSeqs(page, 1);
  const missing = want.filter((seq) => !seqs.includes(seq));
  const extra = seqs.filter((seq) => !want.includes(seq));
  const twice = seqs.filter((seq, i) => seqs.indexOf(seq) !== i);
  assert.deepEqual(
    { missing, extra, twice },
    { missing: [], extra: [], twice: [] },
    `the chat shows ${seqs.length} messages, the thread has ${want.length} (before the page opened, ${welcomeSays})`,
  );
  assert.deepEqual(seqs, want, 'in seq order');
  const texts = await messageTexts(page, 1);
  assert.deepEqual(texts, after.messages.map((m) => m.text.trim()), 'with their texts');
  assert.equal(welcome.total, before.messages.length, welcomeSays);
});

e2eTest('i. the caret stays put when others type', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'doc.create', title: 'caret', content: 'hello world', open: true });
  const writer = await onlyWindow(daemon, 'writer');
  const docId = writer.doc_id;

  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  const area = page.locator(`.window[data-window-id="${writer.id}"] textarea.writer-text`);
  await waitFor(page, (sel) => document.querySelector(sel)?.value === 'hello world', 10_000, {
    arg: `.window[data-window-id="${writer.id}"] textarea.writer-text`,
    what: 'the text area to show "hello world"',
  });
  await area.click();
  await area.evaluate((el) => el.setSelectionRange(5, 5));
  await page.keyboard.type(',');
  assert.equal(await area.inputValue(), 'hello, world');
  const typed = await waitUntil(
    async () => {
      const doc = await daemon.doc(docId);
      return doc.content === 'hello, world' ? doc : null;
    },
    { timeoutMs: 10_000, what: 'the daemon to have "hello, world"' },
  );
  assert.deepEqual(await area.evaluate((el) => [el.selectionStart, el.selectionEnd]), [6, 6], 'the caret after the comma');

  // Someone else inserts at the start: the text area follows, the caret stays after the comma.
  await daemon.command({
    type: 'doc.edit',
    doc_id: docId,
    base_version: typed.version,
    op: [{ insert: 'START ' }, { retain: 'hello, world'.length }],
  });
  await waitFor(page, (sel) => document.querySelector(sel)?.value === 'START hello, world', 10_000, {
    arg: `.window[data-window-id="${writer.id}"] textarea.writer-text`,
    what: 'the text area to show "START hello, world"',
  });
  const caret = await area.evaluate((el) => ({
    start: el.selectionStart,
    end: el.selectionEnd,
    focused: document.activeElement === el,
  }));
  assert.deepEqual(caret, { start: 12, end: 12, focused: true }, 'the caret moved by the 6 characters inserted before it');

  await page.keyboard.type('!');
  assert.equal(await area.inputValue(), 'START hello,! world');
  await waitUntil(async () => (await daemon.doc(docId)).content === 'START hello,! world', {
    timeoutMs: 10_000,
    what: 'the daemon to have "START hello,! world"',
  });
  assert.equal(await area.inputValue(), 'START hello,! world');
});

e2eTest('j. the keyboard alone opens, uses, maximizes and closes windows, and shows the help', async (h) => {
  const daemon = await h.daemon();
  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  assert.equal(await page.locator('#desktop .window').count(), 0, 'no windows to begin with');

  // Ctrl-a c: a chat window, with the keyboard in its input.
  await page.keyboard.press('Control+a');
  await page.keyboard.press('c');
  const chat = await waitUntil(async () => [...(await daemon.windows()).values()].find((w) => w.app === 'chat'), {
    timeoutMs: 10_000,
    what: '/api/state to have a chat window',
  });
  await waitForWindow(page, chat.id);
  await waitFor(
    page,
    (id) => document.activeElement?.matches(`.window[data-window-id="${id}"] textarea.chat-input`),
    5000,
    { arg: chat.id, what: `the focus in window ${chat.id}'s textarea.chat-input` },
  ).catch(async (err) => {
    const active = await page.evaluate(() => {
      const el = document.activeElement;
      return el ? `<${el.tagName.toLowerCase()}${el.className ? ` class="${el.className}"` : ''}>` : 'none';
    });
    err.message += ` (document.activeElement is ${active})`;
    throw err;
  });
  const text = `typed without a mouse ${tag()}`;
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
  await waitForMessage(page, chat.id, text);
  await waitUntil(
    async () => (await daemon.events()).find((e) => e.type === 'chat.user_message' && e.data?.text === text),
    { timeoutMs: 10_000, what: `the log to have a chat.user_message "${text}"` },
  );

  // F1: the help, listing the shortcuts; Escape closes it.
  await page.keyboard.press('F1');
  await page.locator('#help').waitFor({ state: 'visible', timeout: 5000 });
  const help = await page.locator('#help').innerText();
  assert.ok(help.includes('Ctrl-a c'), `the help lists Ctrl-a c: ${help}`);
  await page.keyboard.press('Escape');
  await page.locator('#help').waitFor({ state: 'detached', timeout: 5000 });

  // Ctrl-a z: maximized, filling the desktop; again: back.
  await page.keyboard.press('Control+a');
  await page.keyboard.press('z');
  await waitFor(
    page,
    (id) => document.querySelector(`.window[data-window-id="${id}"]`)?.getAttribute('data-maximized') === 'true',
    5000,
    { arg: chat.id, what: `window ${chat.id} data-maximized=true` },
  );
  assert.equal((await daemon.windows()).get(chat.id).maximized, true, '/api/state: maximized');
  const cell = await cellSize(page);
  const fit = await page.evaluate((id) => {
    const desk = document.querySelector('#desktop').getBoundingClientRect();
    const win = document.querySelector(`.window[data-window-id="${id}"]`).getBoundingClientRect();
    return { desk: { l: desk.left, t: desk.top, w: desk.width, h: desk.height }, win: { l: win.left, t: win.top, w: win.width, h: win.height } };
  }, chat.id);
  assert.ok(
    Math.abs(fit.win.l - fit.desk.l) <= 1 &&
      Math.abs(fit.win.t - fit.desk.t) <= 1 &&
      fit.win.w <= fit.desk.w + 1 &&
      fit.win.h <= fit.desk.h + 1 &&
      fit.desk.w - fit.win.w < cell.w + 1 &&
      fit.desk.h - fit.win.h < cell.h + 1,
    `the maximized window fills #desktop (to a cell): ${JSON.stringify(fit)}`,
  );
  await page.keyboard.press('Control+a');
  await page.keyboard.press('z');
  await waitFor(
    page,
    (id) => document.querySelector(`.window[data-window-id="${id}"]`)?.getAttribute('data-maximized') === 'false',
    5000,
    { arg: chat.id, what: `window ${chat.id} data-maximized=false again` },
  );

  // Ctrl-a m: move mode, said on the taskbar; Shift+ArrowRight moves by five cells, from
  // where the window is shown; Escape ends it. The keymap is the terminal's (choir-desktop).
  const before = (await daemon.windows()).get(chat.id).rect;
  await page.keyboard.press('Control+a');
  await page.keyboard.press('m');
  await waitFor(page, () => document.querySelector('#mode-hint')?.textContent.startsWith('move:'), 5000, {
    what: '#mode-hint to say move mode',
  });
  await page.keyboard.press('Shift+ArrowRight');
  await waitUntil(async () => (await daemon.windows()).get(chat.id).rect.x === before.x + 5, {
    timeoutMs: 10_000,
    what: `/api/state: window ${chat.id} moved five cells right of x=${before.x}`,
  });
  await page.keyboard.press('Escape');
  await waitFor(page, () => !document.querySelector('#mode-hint'), 5000, { what: 'move mode to end' });

  // A binding only the terminal has is refused in the browser's words; nothing is sent.
  const events = (await daemon.events()).length;
  await page.keyboard.press('Control+a');
  await page.keyboard.press('q');
  await waitFor(page, () => document.querySelector('#notice')?.textContent === 'Ctrl-a q is not bound (F1 lists the bindings)', 5000, {
    what: '#notice to say Ctrl-a q is not bound',
  });
  assert.equal((await daemon.events()).length, events, 'Ctrl-a q sent nothing');

  // Ctrl-a x: the focused window closes.
  await page.keyboard.press('Control+a');
  await page.keyboard.press('x');
  await waitFor(page, (id) => !document.querySelector(`.window[data-window-id="${id}"]`), 5000, {
    arg: chat.id,
    what: `window ${chat.id} to be gone`,
  });
  assert.equal((await daemon.windows()).size, 0, '/api/state has no windows left');
});

e2eTest('k. the event log filters, and holds still or follows', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'event_log', rect: { x: 1, y: 1, w: 80, h: 16 } });
  const log = (await onlyWindow(daemon, 'event_log')).id;
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 84, y: 1, w: 40, h: 12 } });
  const chat = (await onlyWindow(daemon, 'chat')).id;
  for (let i = 0; i < 3; i++) await daemon.command({ type: 'chat.post', thread_id: chat, text: `filter me ${i}` });
  for (let i = 0; i < 25; i++) await daemon.command({ type: 'window.move', window_id: chat, x: 84, y: 1 + (i % 5) });
  await waitForAgentIdle(daemon);

  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitForWindow(page, log);
  const rows = `.window[data-window-id="${log}"] .event`;
  const body = `#log-${log}`;
  /** Waits until the log window shows one row per event of the log (each type once per seq). */
  const waitForRows = async (what) => {
    const events = await daemon.events();
    return waitFor(
      page,
      ({ rows, seqs }) => {
        const shown = [...document.querySelectorAll(rows)].map((el) => Number(el.dataset.seq));
        return shown.length === seqs.length && shown.every((seq, i) => seq === seqs[i]) ? shown.length : null;
      },
      10_000,
      { arg: { rows, seqs: events.map((e) => e.seq) }, what },
    );
  };
  await waitForRows('a row for every event of the log');

  // The filter: only chat.user_message rows.
  await page.locator(`.window[data-window-id="${log}"] input.event-filter`).click();
  await page.keyboard.type('chat.user');
  const userMessages = (await daemon.events()).filter((e) => e.type.includes('chat.user')).map((e) => e.seq);
  assert.equal(userMessages.length, 3);
  await waitFor(
    page,
    ({ rows, want }) => {
      const shown = [...document.querySelectorAll(rows)];
      return (
        shown.length === want.length &&
        shown.every((el, i) => el.dataset.type.includes('chat.user') && Number(el.dataset.seq) === want[i])
      );
    },
    5000,
    { arg: { rows, want: userMessages }, what: 'only the chat.user_message rows' },
  );
  await page.locator(`.window[data-window-id="${log}"] input.event-filter`).fill('');
  await waitForRows('every row back once the filter is empty');

  // Following: at the bottom.
  /** The log's scroll offset, its largest, and the first row the reader sees (its seq). */
  const scroll = () =>
    page.evaluate((body) => {
      const el = document.querySelector(body);
      const top = el.getBoundingClientRect().top;
      const first = [...el.querySelectorAll('.event')].find((row) => row.getBoundingClientRect().bottom > top + 1);
      return { top: el.scrollTop, max: el.scrollHeight - el.clientHeight, firstSeen: Number(first?.dataset.seq) };
    }, body);
  await waitFor(page, (body) => {
    const el = document.querySelector(body);
    return el.scrollHeight > el.clientHeight && Math.abs(el.scrollHeight - el.clientHeight - el.scrollTop) <= 2;
  }, 5000, { arg: body, what: 'the log to overflow and be at its bottom' });

  // Not following: the reader's place holds while rows are added.
  const follow = page.locator(`.window[data-window-id="${log}"] input.event-follow`);
  await follow.uncheck();
  await waitForRows('the rows after unchecking follow (it may focus the window)');
  await page.evaluate((body) => {
    const el = document.querySelector(body);
    el.scrollTop = Math.floor((el.scrollHeight - el.clientHeight) / 2);
  }, body);
  const place = await scroll();
  assert.ok(place.top > 0, 'the log can be scrolled to its middle');
  const rowsBefore = await page.locator(rows).count();
  for (let i = 0; i < 8; i++) await daemon.command({ type: 'window.move', window_id: chat, x: 85, y: 1 + i });
  const rowsAfter = await waitForRows('the 8 new rows');
  assert.equal(rowsAfter, rowsBefore + 8);
  const held = await scroll();
  assert.deepEqual(
    { firstSeen: held.firstSeen, scrollTop: held.top },
    { firstSeen: place.firstSeen, scrollTop: place.top },
    `the reader's place holds while rows are added at the end (before: ${JSON.stringify(place)}, after: ${JSON.stringify(held)})`,
  );
  assert.ok(held.max - held.top > 8, 'and it is not at the bottom');

  // Following again: to the bottom.
  await follow.check();
  await waitFor(page, (body) => {
    const el = document.querySelector(body);
    return Math.abs(el.scrollHeight - el.clientHeight - el.scrollTop) <= 2;
  }, 5000, { arg: body, what: 'the log to scroll to its bottom when follow is checked again' });
  await daemon.command({ type: 'window.move', window_id: chat, x: 86, y: 2 });
  await waitForRows('one more row');
  const end = await scroll();
  assert.ok(Math.abs(end.max - end.top) <= 2, `still at the bottom after a new row: ${JSON.stringify(end)}`);
});

e2eTest('k2. a chat message draws again only its chat and the event log; what was drawn stays, as windows open', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 1, w: 50, h: 14 } });
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 52, y: 1, w: 50, h: 14 } });
  await daemon.command({ type: 'window.open', app: 'event_log', rect: { x: 1, y: 16, w: 100, h: 10 } });
  const [busy, quiet, log] = [1, 2, 3];
  await daemon.command({ type: 'chat.post', thread_id: quiet, text: 'the quiet chat' });
  await daemon.command({ type: 'chat.post', thread_id: busy, text: 'first in the busy chat' });
  await waitForAgentIdle(daemon);

  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitForMessage(page, busy, 'first in the busy chat');
  await waitForMessage(page, quiet, 'the quiet chat');
  const revision = (id) =>
    page.$eval(`.window[data-window-id="${id}"] > .content`, (el) => Number(el.dataset.revision));
  // Marks on what is drawn now, and a record of every change to the quiet chat's content.
  await page.evaluate(({ busy, quiet }) => {
    for (const m of document.querySelectorAll(`.window[data-window-id="${busy}"] .message`)) m.__before = true;
    window.__quietChanges = 0;
    new MutationObserver((records) => {
      window.__quietChanges += records.length;
    }).observe(document.querySelector(`.window[data-window-id="${quiet}"] > .content`), {
      subtree: true, childList: true, attributes: true, characterData: true,
    });
  }, { busy, quiet });
  const before = { busy: await revision(busy), quiet: await revision(quiet), log: await revision(log) };
  const seqBefore = (await daemon.events()).at(-1).seq;

  for (let i = 0; i < 5; i++) await daemon.command({ type: 'chat.post', thread_id: busy, text: `busy ${i}` });
  await waitForAgentIdle(daemon);
  await waitForMessage(page, busy, 'busy 4');
  const lastSeq = (await daemon.events()).at(-1).seq;
  assert.ok(lastSeq - seqBefore >= 10, 'the posts and the agent\'s answers made events');
  await waitFor(page, ({ log, lastSeq }) =>
    document.querySelector(`.window[data-window-id="${log}"] .event[data-seq="${lastSeq}"]`), 10_000,
  { arg: { log, lastSeq }, what: 'the event log to show the last event' });

  assert.ok((await revision(busy)) > before.busy, 'the busy chat was drawn again');
  assert.ok((await revision(log)) > before.log, 'the event log was drawn again');
  assert.equal(await revision(quiet), before.quiet, 'the quiet chat was not drawn again');
  assert.equal(await page.evaluate(() => window.__quietChanges), 0, 'nothing in the quiet chat changed');
  // The busy chat's earlier messages are the same elements: only the new ones were added.
  const kept = await page.evaluate((busy) => {
    const all = [...document.querySelectorAll(`.window[data-window-id="${busy}"] .message`)];
    return { marked: all.filter((m) => m.__before).length, all: all.length };
  }, busy);
  assert.ok(kept.marked >= 2 && kept.all >= kept.marked + 5, JSON.stringify(kept));

  // A change that may show anywhere (a window focused) draws every window again; the quiet
  // chat still shows its message.
  await daemon.command({ type: 'window.focus', window_id: quiet });
  await waitFor(page, ({ quiet, was }) =>
    Number(document.querySelector(`.window[data-window-id="${quiet}"] > .content`)?.dataset.revision) > was, 10_000,
  { arg: { quiet, was: before.quiet }, what: 'the quiet chat drawn again after the focus moved' });
  await waitForMessage(page, quiet, 'the quiet chat');

  // A window opened: the others are the same elements (their focus and scroll kept).
  await page.evaluate(() => {
    for (const w of document.querySelectorAll('.window')) w.__before = true;
  });
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 60, y: 16, w: 40, h: 10 } });
  await waitForWindow(page, 4);
  const windows = await page.evaluate(() =>
    [...document.querySelectorAll('.window')].map((w) => `${w.dataset.windowId}:${!!w.__before}`).join(' '));
  assert.equal(windows, '1:true 2:true 3:true 4:false');
});

e2eTest('l. tool calls from the browser: approve, deny, and cancel a turn', async (h) => {
  // A model that wants `bash` for "approve"/"deny" messages, `edit_file` for "edit" ones,
  // answers once it has the tool's result, and stalls for "slow" ones.
  const model = await h.modelServer((body, n) => {
    const last = body.messages.at(-1);
    if (last.role === 'tool') {
      const said = String(last.content).trim().split('\n').at(-1);
      return { chunks: openaiText('The tool ', `said: ${said}`) };
    }
    const asked = String(last.content);
    if (asked.includes('approve')) return { chunks: openaiToolCall(`call_ok_${n}`, 'bash', { cmd: 'echo approved-run' }) };
    if (asked.includes('deny')) return { chunks: openaiToolCall(`call_no_${n}`, 'bash', { cmd: 'echo denied-run' }) };
    if (asked.includes('edit')) return { chunks: openaiToolCall(`call_ed_${n}`, 'edit_file', { path: 'notes.md', old: 'teh cat', new: 'the cat' }) };
    if (asked.includes('slow')) return { chunks: [{ choices: [{ index: 0, delta: { role: 'assistant', content: 'Thinking' } }] }], stall: true };
    return { chunks: openaiText('ok') };
  });
  const daemon = await h.daemon({ env: model.env() });
  const agent = await daemon.api('/api/agent');
  assert.equal(agent.provider, 'openai', `the agent uses the model server: ${JSON.stringify(agent)}`);
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 1, w: 90, h: 30 } }); // window 1
  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitForWindow(page, 1);
  const win = page.locator('.window[data-window-id="1"]');
  const send = async (text) => {
    await win.locator('textarea.chat-input').click();
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
    await waitForMessage(page, 1, text);
  };

  // Approved: the command runs, its output is on the card, the answer follows.
  await send('please approve this one');
  const first = win.locator('.tool-card').nth(0);
  await first.locator('button[data-action=approve]').waitFor({ state: 'visible', timeout: 10_000 });
  assert.match(await first.locator('.status').innerText(), /awaiting approval/);
  // The taskbar marks the chat that waits, as the terminal's does; the mark goes once answered.
  const taskbarChat = page.locator('#taskbar .taskbar-window[data-window-id="1"]');
  assert.equal(await taskbarChat.getAttribute('data-attention'), 'true');
  assert.match(await taskbarChat.innerText(), /^1:.* !$/);
  await first.locator('button[data-action=approve]').click();
  await waitFor(page, () => {
    const card = document.querySelectorAll('.window[data-window-id="1"] .tool-card')[0];
    return card?.querySelector('.status')?.textContent.trim() === 'done' && card.querySelector('.output')?.textContent.includes('approved-run');
  }, 10_000, { what: 'the first card done, its output showing approved-run' });
  assert.equal(await first.locator('button[data-action=approve]').count(), 0, 'no approve button on a finished card');
  assert.equal(await taskbarChat.getAttribute('data-attention'), 'false', 'no mark once nothing waits');
  await waitForMessage(page, 1, 'The tool said: approved-run');
  const afterApprove = await daemon.events();
  assert.ok(afterApprove.some((e) => e.type === 'tool.approved'), 'the log has tool.approved');
  assert.ok(
    afterApprove.some((e) => e.type === 'tool.finished' && String(e.data?.output).includes('approved-run')),
    'the log has the command\'s output',
  );

  // Denied: nothing runs, the card says so, the model hears of it.
  await send('now deny this one');
  const second = win.locator('.tool-card').nth(1);
  await second.locator('button[data-action=deny]').waitFor({ state: 'visible', timeout: 10_000 });
  await second.locator('button[data-action=deny]').click();
  await waitFor(page, () => {
    const card = document.querySelectorAll('.window[data-window-id="1"] .tool-card')[1];
    return /^denied/.test(card?.querySelector('.status')?.textContent.trim() ?? '');
  }, 10_000, { what: 'the second card denied' });
  assert.match(await second.locator('.status').innerText(), /denied/);
  assert.equal(await second.locator('.output').count(), 0, 'a denied call has no output');
  await waitForMessage(page, 1, 'The tool said: the call did not run: denied in the browser');
  const afterDeny = await daemon.events();
  const denied = afterDeny.filter((e) => e.type === 'tool.denied');
  assert.equal(denied.length, 1, 'the log has one tool.denied');
  assert.ok(!afterDeny.some((e) => e.type === 'tool.finished' && String(e.data?.output).includes('denied-run')), 'the denied command did not run');

  // An edit waiting for approval shows the diff it would make, in colour; approved, the file
  // changes.
  fs.writeFileSync(path.join(daemon.dir, 'workspace', 'notes.md'), 'teh cat\nsat\n');
  await send('edit the typo');
  const third = win.locator('.tool-card').nth(2);
  await third.locator('button[data-action=approve]').waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await third.locator('.preview .diff-del').innerText(), '-teh cat\n');
  assert.equal(await third.locator('.preview .diff-add').innerText(), '+the cat\n');
  await third.locator('button[data-action=approve]').click();
  await waitUntil(async () => (await daemon.events()).some((e) => e.type === 'tool.finished' && String(e.data?.output).includes('+the cat')), {
    timeoutMs: 10_000,
    what: 'the edit to finish with its diff',
  });
  await waitUntil(async () => (await daemon.events()).filter((e) => e.type === 'chat.turn_completed').length === 3, {
    timeoutMs: 10_000,
    what: 'the edit turn to end',
  });
  assert.equal(await third.locator('.preview').count(), 0, 'the preview goes once decided');
  assert.equal(fs.readFileSync(path.join(daemon.dir, 'workspace', 'notes.md'), 'utf8'), 'the cat\nsat\n');

  // Cancelled: while the model takes its time, Cancel ends the turn.
  await send('a slow one');
  const cancel = win.locator('button[data-action=cancel]');
  await cancel.waitFor({ state: 'visible', timeout: 10_000 });
  await waitFor(page, () => document.querySelector('.window[data-window-id="1"] .message.streaming')?.textContent.includes('Thinking'), 10_000, {
    what: 'the stalled answer streaming in',
  });
  await cancel.click();
  await waitUntil(async () => (await daemon.events()).some((e) => e.type === 'chat.turn_cancelled'), {
    timeoutMs: 10_000,
    what: 'the log to have chat.turn_cancelled',
  });
  await cancel.waitFor({ state: 'detached', timeout: 10_000 });
  await waitFor(page, () => !document.querySelector('.window[data-window-id="1"] .message.streaming'), 5000, {
    what: 'the streaming answer to go',
  });
  await waitUntil(() => model.requests.at(-1)?.closedEarly, { timeoutMs: 10_000, what: 'the daemon to hang up on the stalled stream' });
  // What streamed before the cancel stays, marked.
  await waitFor(page, () => [...document.querySelectorAll('.window[data-window-id="1"] .message[data-ending="Interrupted"]')]
    .some((m) => m.textContent.includes('Thinking') && m.textContent.includes('interrupted')), 5000, {
    what: 'the interrupted answer kept and marked',
  });
  assert.equal(model.requests.length, 7, 'seven model calls: two per tool turn, one cancelled');
  assert.equal(model.requests[0].headers.authorization, 'Bearer sk-mock-0000000000');
});

e2eTest('m. a tab the browser froze catches up when it wakes, missing nothing', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat' }); // window 1, thread 1
  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  const cdp = await page.context().newCDPSession(page);
  // Frozen as a background tab is: no task of the page runs, its socket is not read.
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  const whileFrozen = `while the tab was frozen ${tag()}`;
  await daemon.command({ type: 'chat.post', thread_id: 1, text: whileFrozen });
  // And the daemon restarts meanwhile: the socket the tab had is gone when it wakes.
  await daemon.stop();
  await daemon.restart();
  const afterRestart = `after the restart ${tag()}`;
  await daemon.command({ type: 'chat.post', thread_id: 1, text: afterRestart });
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  await waitFor(page, () => document.querySelector('#connection')?.getAttribute('data-state') === 'live', 30_000, {
    what: '#connection live again after waking',
  });
  await waitForMessage(page, 1, whileFrozen, 15_000);
  await waitForMessage(page, 1, afterRestart, 15_000);
  const seqs = await domMessageSeqs(page, 1);
  assert.equal(new Set(seqs).size, seqs.length, `no message shown twice (data-seq: ${seqs.join(',')})`);
});

e2eTest('n. a window dragged by touch moves', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'event_log', rect: { x: 2, y: 1, w: 40, h: 12 } });
  const browser = await h.browser();
  const page = await h.page(browser, daemon, { contextOptions: { hasTouch: true } });
  await waitForLive(page);
  await waitForGeometry(page, 1, { x: 2, y: 1, w: 40, h: 12 });
  const cell = await cellSize(page);
  const title = await page.locator('.window[data-window-id="1"] .titlebar .title').boundingBox();
  assert.ok(title, 'the title is on screen');
  const cdp = await page.context().newCDPSession(page);
  const at = (x, y) => [{ x, y, id: 1 }];
  // Near the bar's top edge: a touch near the filter field just below it is snapped to the
  // field by Chromium's touch adjustment, as a finger would be.
  const [x0, y0] = [title.x + 20, title.y + 3];
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(x0, y0) });
  for (let step = 1; step <= 10; step++) {
    const f = step / 10;
    await cdp.send('Input.dispatchTouchEvent', {
      type: 'touchMove',
      touchPoints: at(x0 + f * 7.3 * cell.w, y0 + f * 2.3 * cell.h),
    });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await waitForStateRect(daemon, 1, { x: 9, y: 3, w: 40, h: 12 });
  await waitForGeometry(page, 1, { x: 9, y: 3 });
});

e2eTest('o. a shell window: typed in the browser, vi driven from the terminal desktop, one screen', async (h) => {
  const daemon = await h.daemon();
  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  const t = tag();

  // Ctrl-a s opens a shell window; its terminal gets the keyboard and shows a prompt.
  const { shell, terminal } = await openShell(page, daemon);
  await page.keyboard.type(`echo web-${t}-$((6*7))`);
  await page.keyboard.press('Enter');
  const screenText = (sel) => page.$eval(sel, (el) => [...el.querySelectorAll('.term-row')].map((r) => r.textContent));
  await waitFor(page, ({ sel, want }) => document.querySelector(sel)?.textContent.includes(want), 10_000, {
    arg: { sel: terminal, want: `web-${t}-42` },
    what: 'the echo in the browser',
  });

  // The terminal desktop shows the same shell; vi, driven by tmux send-keys there, writes a file.
  const tui = await h.tui(daemon, { cols: 120, rows: 40 });
  await tui.waitForText(`web-${t}-42`);
  await tui.sendKeys('C-a', String(shell.id));
  await tui.type(`vi note-${t}.txt`);
  await tui.sendKeys('Enter');
  await waitFor(page, (sel) => document.querySelector(sel)?.textContent.includes('~'), 10_000, {
    arg: terminal,
    what: "vi's empty lines (~) in the browser",
  });
  await tui.sendKeys('i');
  await tui.type(`written in vi ${t}`);
  await tui.sendKeys('Escape');
  await tui.type(':wq');
  await tui.sendKeys('Enter');
  const file = path.join(daemon.dir, 'workspace', `note-${t}.txt`);
  await waitUntil(async () => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(`written in vi ${t}`), {
    what: `${file} written by vi`,
  });
  // Back at the prompt, both clients show the screen of before vi (the daemon resends it when
  // vi leaves the alternate screen).
  await tui.waitForText(`web-${t}-42`);
  await waitFor(page, ({ sel, want }) => document.querySelector(sel)?.textContent.includes(want), 10_000, {
    arg: { sel: terminal, want: `web-${t}-42` },
    what: 'the screen of before vi in the browser',
  });
  const rows = await screenText(terminal);
  // (The command line wraps at the terminal's width.)
  assert.ok(rows.join('').includes(`vi note-${t}.txt`), `the browser shows the vi command:\n${rows.join('\n')}`);

  // A paste goes in whole; the shell's output comes back in both.
  await page.locator(terminal).focus();
  await page.evaluate(
    ({ sel, text }) => {
      const data = new DataTransfer();
      data.setData('text', text);
      document.querySelector(sel).dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true }));
    },
    { sel: terminal, text: `echo pasted-${t}` },
  );
  // Bash asks for bracketed paste: the pasted line waits for Enter.
  await page.keyboard.press('Enter');
  await tui.waitForText(`┃pasted-${t}`);

  // A program that asks for the mouse gets a click at the cell under the pointer.
  await page.keyboard.type(`printf '\\033[?1000h\\033[?1006h'; cat -v`);
  await page.keyboard.press('Enter');
  await waitFor(page, (sel) => document.querySelector(sel)?.dataset.mouse === 'true', 10_000, {
    arg: terminal,
    what: 'the program to ask for the mouse',
  });
  const box = await page.locator(terminal).boundingBox();
  const cell = await cellSize(page);
  await page.mouse.click(box.x + 10.5 * cell.w, box.y + 5.5 * cell.h);
  await waitFor(page, ({ sel, want }) => document.querySelector(sel)?.textContent.includes(want), 10_000, {
    arg: { sel: terminal, want: '^[[<0;11;6M' },
    what: 'the click at column 11, row 6 reported to the program',
  });
  await page.keyboard.press('Control+c');
  await page.keyboard.type(`printf '\\033[?1000l\\033[?1006l'; clear`);
  await page.keyboard.press('Enter');
  await waitFor(page, (sel) => document.querySelector(sel)?.dataset.mouse === 'false', 10_000, {
    arg: terminal,
    what: 'the mouse given back',
  });

  // Exit: the window says the shell ended; Enter in the browser starts a new one.
  await page.keyboard.type('exit');
  await page.keyboard.press('Enter');
  await waitFor(page, (sel) => document.querySelector(sel)?.dataset.shellState === 'ended', 10_000, {
    arg: terminal,
    what: 'the shell to end',
  });
  assert.match(await page.locator(`.window[data-window-id="${shell.id}"] .shell-ended`).innerText(), /exited with status 0/);
  await page.keyboard.press('Enter');
  await waitFor(page, (sel) => document.querySelector(sel)?.dataset.shellState === 'running', 10_000, {
    arg: terminal,
    what: 'a new shell',
  });
  await page.keyboard.type(`printf '\\033[1;32mgreen\\033[0m %s\\n' ${t}`);
  await page.keyboard.press('Enter');
  await waitFor(page, ({ sel, want }) => document.querySelector(sel)?.textContent.includes(want), 10_000, {
    arg: { sel: terminal, want: `green ${t}` },
    what: 'coloured output in the new shell',
  });
  const green = await page.$eval(`${terminal} span[style*="font-weight:bold"]`, (el) => getComputedStyle(el).color);
  assert.equal(green, 'rgb(13, 188, 121)', 'bold green is drawn bold and green');
  await page.screenshot({ path: path.join(ARTIFACTS, 'shell-window.png') });
});

e2eTest('o2. a shell window scrolls back in the browser: the wheel, a search, a copy to the clipboard', async (h) => {
  const daemon = await h.daemon();
  const browser = await h.browser();
  const page = await h.page(browser, daemon, {
    beforeGoto: (p) => p.context().grantPermissions(['clipboard-read', 'clipboard-write']),
  });
  await waitForLive(page);
  const { terminal } = await openShell(page, daemon);
  // (The window takes the free space: as many rows as fit the page. 400 lines are more.)
  await page.keyboard.type('seq 1 400; echo seq-$((6*7))');
  await page.keyboard.press('Enter');
  await waitFor(page, ({ sel, want }) => document.querySelector(sel)?.textContent.includes(want), 10_000, {
    arg: { sel: terminal, want: 'seq-42' },
    what: 'the end of the seq',
  });
  const rows = () => page.$eval(terminal, (el) => [...el.querySelectorAll('.term-row')].map((r) => r.textContent.trim()));
  assert.ok(!(await rows()).includes('100'), 'line 100 has scrolled off');
  const scrollback = Number(await page.$eval(terminal, (el) => el.dataset.scrollback));
  const rowCount = Number(await page.$eval(terminal, (el) => el.dataset.rows));
  assert.ok(scrollback >= 400 - rowCount, `the window keeps its scrollback: ${scrollback} lines beside ${rowCount} rows`);

  // The wheel over the terminal (bash did not ask for the mouse) scrolls back in copy mode.
  const box = await page.locator(terminal).boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (let turn = 0; turn < 20; turn++) await page.mouse.wheel(0, -100);
  await waitFor(page, (sel) => document.querySelector(sel)?.dataset.copyMode === 'true', 10_000, {
    arg: terminal,
    what: 'copy mode from the wheel',
  });
  // Three lines a turn: the lines 60 back from the end are in view now.
  await waitUntil(async () => (await rows()).some((row) => Number(row) > 100 && Number(row) <= 400 - 60), {
    what: 'older lines in view',
  });

  // A search: the first match above is marked and the hint counts them.
  await page.keyboard.press('?');
  await page.keyboard.type('117');
  await page.keyboard.press('Enter');
  await waitFor(page, () => document.querySelector('#mode-hint')?.textContent.includes('match 1 of 1'), 10_000, {
    what: 'the search counted in the hint',
  });
  // (The copy-mode cursor sits on the match's first cell, a run of its own.)
  const found = await page.$$eval(`${terminal} .found`, (els) => els.map((el) => el.textContent).join(''));
  assert.equal(found, '117');

  // A selection of two lines goes to the clipboard, and copy mode ends.
  await page.keyboard.press('0');
  await page.keyboard.press('v');
  await page.keyboard.press('j');
  await page.keyboard.press('$');
  assert.ok((await page.$$(`${terminal} .selected`)).length > 0, 'the selection is shown');
  await page.keyboard.press('y');
  await waitFor(page, (sel) => document.querySelector(sel)?.dataset.copyMode === 'false', 10_000, {
    arg: terminal,
    what: 'copy mode to end after the copy',
  });
  const copied = await waitUntil(async () => {
    const text = await page.evaluate(() => navigator.clipboard.readText());
    return text === '117\n118' ? text : undefined;
  }, { what: 'the two lines on the clipboard' });
  assert.equal(copied, '117\n118');
  // The keys are the shell's again.
  await page.keyboard.type('echo after-$((2*3))');
  await page.keyboard.press('Enter');
  await waitFor(page, ({ sel, want }) => document.querySelector(sel)?.textContent.includes(want), 10_000, {
    arg: { sel: terminal, want: 'after-6' },
    what: 'typing into the shell after copy mode',
  });
});

e2eTest('o3. a chat that finishes out of sight: a taskbar mark, a system notification, a count in the title', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 1, w: 50, h: 20 } }); // window 1
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 52, y: 1, w: 50, h: 20 } }); // window 2, in front
  const browser = await h.browser();
  const page = await h.page(browser, daemon, {
    beforeGoto: async (p) => {
      await p.context().grantPermissions(['notifications']);
      // The page's notifications, as the browser is asked to show them.
      await p.addInitScript(() => {
        const Real = window.Notification;
        window.shown = [];
        window.Notification = class extends Real {
          constructor(title, options) {
            super(title, options);
            window.shown.push({ title, body: options?.body });
          }
        };
      });
    },
  });
  await waitForLive(page);
  await waitForWindow(page, 2);
  assert.equal(await page.title(), 'ChoirOS');
  // The user looks at window 2; the agent (offline here) answers in window 1.
  await daemon.command({ type: 'chat.post', thread_id: 1, text: 'out of sight' });
  const taskbarChat = page.locator('#taskbar .taskbar-window[data-window-id="1"]');
  await waitFor(page, () => document.querySelector('#taskbar .taskbar-window[data-window-id="1"]')?.dataset.need === 'finished', 10_000, {
    what: 'window 1 marked as finished',
  });
  assert.match(await taskbarChat.innerText(), /^1:.* •$/);
  assert.equal(await page.title(), '(1) ChoirOS');
  const shown = await waitUntil(async () => {
    const list = await page.evaluate(() => window.shown);
    return list.length > 0 ? list : undefined;
  }, { what: 'a system notification' });
  assert.match(shown[0].title, /: done$/);
  assert.equal(shown[0].body, 'the agent finished its turn');
  // Looking at it clears the mark and the count.
  await taskbarChat.click();
  await waitFor(page, () => document.querySelector('#taskbar .taskbar-window[data-window-id="1"]')?.dataset.attention === 'false', 10_000, {
    what: 'the mark gone once window 1 is in front',
  });
  await waitUntil(async () => (await page.title()) === 'ChoirOS', { what: 'the count gone from the title' });
  // A turn that ends in front of the user says nothing.
  await daemon.command({ type: 'chat.post', thread_id: 1, text: 'in sight' });
  await waitForMessage(page, 1, 'in sight');
  const turnsEnded = async () => (await daemon.events()).filter((e) => e.type === 'chat.turn_completed').length;
  await waitUntil(async () => (await turnsEnded()) === 2, { what: 'the second turn to end' });
  // (Drawn after the event came: the page has had it.)
  await waitFor(page, () => document.querySelectorAll('.window[data-window-id="1"] .message').length >= 4, 10_000, {
    what: 'the second answer in window 1',
  });
  assert.equal((await page.evaluate(() => window.shown)).length, 1);
  assert.equal(await taskbarChat.getAttribute('data-attention'), 'false');
});

e2eTest('o4. on a phone a shell window has a key bar and a field that types into it', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'shell', rect: { x: 0, y: 0, w: 50, h: 20 } });
  const browser = await h.browser();
  const page = await h.page(browser, daemon, {
    viewport: { width: 390, height: 844 },
    contextOptions: { isMobile: true, hasTouch: true, deviceScaleFactor: 1 },
  });
  await waitForLive(page);
  const terminal = '.window[data-window-id="1"] .terminal';
  await waitFor(page, (sel) => document.querySelector(sel)?.textContent.trim().length > 0, 10_000, {
    arg: terminal,
    what: 'a prompt in the terminal',
  });
  const bar = page.locator('.window[data-window-id="1"] .key-bar');
  assert.ok(await bar.isVisible(), 'the key bar shows on a touch screen');
  // The field brings up the on-screen keyboard; what is typed there reaches the shell.
  await bar.locator('.key-bar-input').tap();
  await page.keyboard.type('echo phone-$((6*7))');
  await page.keyboard.press('Enter');
  const shows = (want, what) =>
    waitFor(page, ({ sel, want }) => document.querySelector(sel)?.textContent.includes(want), 10_000, {
      arg: { sel: terminal, want },
      what,
    });
  await shows('phone-42', 'the echo typed on the phone');
  assert.equal(await bar.locator('.key-bar-input').inputValue(), '', 'the field stays empty');
  // ↑ recalls the line and Enter runs it again.
  await bar.locator('button[data-key=up]').tap();
  await bar.locator('.key-bar-input').tap();
  await page.keyboard.press('Enter');
  await waitFor(page, (sel) => [...document.querySelectorAll(`${sel} .term-row`)].filter((r) => r.textContent.trim() === 'phone-42').length === 2, 10_000, {
    arg: terminal,
    what: 'the recalled line run again',
  });
  // Ctrl, then c: an interrupt (bash shows ^C).
  await bar.locator('button[data-key=ctrl]').tap();
  assert.equal(await bar.locator('button[data-key=ctrl]').getAttribute('aria-pressed'), 'true');
  await bar.locator('.key-bar-input').tap();
  await page.keyboard.type('c');
  await shows('^C', 'Ctrl-c from the key bar');
  assert.equal(await bar.locator('button[data-key=ctrl]').getAttribute('aria-pressed'), 'false', 'Ctrl is let go after one key');
  // The prefix button: C-a, then c in the field, opens a chat.
  await bar.locator('button[data-key=prefix]').tap();
  await bar.locator('.key-bar-input').tap();
  await page.keyboard.type('c');
  await waitUntil(async () => [...(await daemon.windows()).values()].some((w) => w.app === 'chat'), {
    what: 'a chat window opened from the key bar',
  });
  // On a desktop screen the bar is not shown.
  const desk = await h.page(browser, daemon);
  await waitForLive(desk);
  assert.equal(await desk.locator('.window[data-window-id="1"] .key-bar').isVisible(), false);
});

e2eTest('o5. a chat is searched with the keys of copy mode: Ctrl-a [, a search back, n', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 1, w: 60, h: 14 } });
  await daemon.command({ type: 'chat.post', thread_id: 1, text: 'the needle is in the first message' });
  // (Nine posts and their nine answers: all held by the page, whose welcome brings the last 20.)
  for (let n = 0; n < 6; n++) await daemon.command({ type: 'chat.post', thread_id: 1, text: `filler ${n}` });
  await daemon.command({ type: 'chat.post', thread_id: 1, text: 'another needle, near the end' });
  await daemon.command({ type: 'chat.post', thread_id: 1, text: 'the last one' });
  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitForMessage(page, 1, 'the last one');
  await page.locator('.window[data-window-id="1"] textarea.chat-input').click();
  await page.keyboard.press('Control+a');
  await page.keyboard.press('[');
  await page.keyboard.type('needle');
  await page.keyboard.press('Enter');
  const current = () => page.$eval('.window[data-window-id="1"] .message.found-current .text', (el) => el.textContent);
  await waitFor(page, () => document.querySelector('#mode-hint')?.textContent.includes('match 2 of 2'), 10_000, {
    what: 'the newest match, counted in the hint',
  });
  assert.equal(await current(), 'another needle, near the end');
  const marks = await page.$$eval('.window[data-window-id="1"] .message mark', (els) => els.map((el) => el.textContent));
  assert.deepEqual(marks, ['needle', 'needle']);
  // n: the older one, scrolled into view.
  await page.keyboard.press('n');
  await waitFor(page, () => document.querySelector('#mode-hint')?.textContent.includes('match 1 of 2'), 10_000, {
    what: 'the older match',
  });
  assert.equal(await current(), 'the needle is in the first message');
  const inView = await page.$eval('.window[data-window-id="1"] .message.found-current', (el) => {
    const box = el.getBoundingClientRect();
    const pane = el.closest('.chat-messages').getBoundingClientRect();
    return box.top >= pane.top - 1 && box.top < pane.bottom;
  });
  assert.ok(inView, 'the match is scrolled into view');
  // Nothing went into the message field; q leaves and typing is the field's again.
  assert.equal(await page.locator('.window[data-window-id="1"] textarea.chat-input').inputValue(), '');
  await page.keyboard.press('q');
  await page.keyboard.type('typed after');
  assert.equal(await page.locator('.window[data-window-id="1"] textarea.chat-input').inputValue(), 'typed after');
});

e2eTest('o6. the event log is searched with the same keys', async (h) => {
  const daemon = await h.daemon();
  await daemon.command({ type: 'window.open', app: 'event_log', rect: { x: 1, y: 1, w: 100, h: 12 } });
  await daemon.command({ type: 'window.open', app: 'chat', rect: { x: 1, y: 14, w: 40, h: 8 } });
  await daemon.command({ type: 'chat.post', thread_id: 2, text: 'a haystack with one needle' });
  for (let n = 0; n < 8; n++) await daemon.command({ type: 'chat.post', thread_id: 2, text: `hay ${n}` });
  await daemon.command({ type: 'chat.post', thread_id: 2, text: 'the second needle' });
  const browser = await h.browser();
  const page = await h.page(browser, daemon);
  await waitForLive(page);
  await waitFor(page, () => document.querySelectorAll('.window[data-window-id="1"] .event').length >= 20, 10_000, {
    what: 'the events in the log window',
  });
  // The log window in front, then Ctrl-a [ and a search back.
  await page.locator('.window[data-window-id="1"] .titlebar').click();
  await waitUntil(async () => (await daemon.api('/api/state')).world.desktop.focused === 1, { what: 'the log focused' });
  // In the page too: keys go to the window the page has in front.
  await waitFor(page, () => document.querySelector('.window[data-window-id="1"]')?.dataset.focused === 'true', 10_000, {
    what: 'the page to show the log in front',
  });
  await page.keyboard.press('Control+a');
  await page.keyboard.press('[');
  await page.keyboard.type('needle');
  await page.keyboard.press('Enter');
  await waitFor(page, () => document.querySelector('#mode-hint')?.textContent.includes('match 2 of 2'), 10_000, {
    what: 'the newest event holding it, counted',
  });
  const current = () => page.$eval('.window[data-window-id="1"] .event.found-current .data', (el) => el.textContent);
  assert.match(await current(), /the second needle/);
  await page.keyboard.press('n');
  await waitFor(page, () => document.querySelector('#mode-hint')?.textContent.includes('match 1 of 2'), 10_000, {
    what: 'the older one',
  });
  assert.match(await current(), /a haystack with one needle/);
  // The filter field took none of the keys.
  assert.equal(await page.locator('.window[data-window-id="1"] .event-filter').inputValue(), '');
  await page.keyboard.press('q');
  await waitFor(page, () => !document.querySelector('#mode-hint')?.textContent.includes('match'), 10_000, {
    what: 'the search left',
  });
});

e2eTest('p. a read-only share watches live in the browser and the terminal, every change refused, then revoked', async (h) => {
  const daemon = await h.daemon();
  const t = tag();
  await daemon.command({ type: 'window.open', app: 'chat' });
  // Said before the share was made: a share shows the present, so its holder never sees it.
  await daemon.command({ type: 'chat.post', thread_id: 1, text: `before ${t}` });
  for (let i = 0; !(await daemon.events(1)).some((e) => e.type === 'chat.turn_completed'); i++) {
    assert.ok(i < 100, 'the answer to the first message never came');
    await sleep(100);
  }
  const { share, token } = await daemon.api('/api/shares', { read_only: true, label: `e2e ${t}` });
  assert.ok(token.startsWith('chs_'));
  await daemon.command({ type: 'chat.post', thread_id: 1, text: `shared ${t}` });

  const browser = await h.browser();
  const page = await h.page(browser, daemon, { token });
  await waitFor(page, () => document.querySelector('#connection')?.dataset.readOnly === 'true', 15_000, {
    what: 'the page saying it watches read-only',
  });
  assert.match(await page.textContent('#connection'), /watching \(read-only\)/);
  await waitFor(page, (want) => document.body.textContent.includes(want), 10_000, {
    arg: `shared ${t}`,
    what: 'the chat message in the watching page',
  });
  assert.ok(!(await page.textContent('body')).includes(`before ${t}`), 'a message from before the share is shown');
  // Live: the owner moves the window, the watcher sees it move.
  await daemon.command({ type: 'window.move', window_id: 1, x: 9, y: 4 });
  await waitFor(page, () => document.querySelector('.window[data-window-id="1"]')?.dataset.x === '9', 10_000, {
    what: 'the window at its new place',
  });

  // The terminal desktop with the same token.
  const tui = await h.tui(daemon, {
    env: { CHOIR_URL: daemon.url, CHOIR_TOKEN: token },
    ready: 'watching (read-only)',
  });
  await tui.waitForText(`shared ${t}`);

  // Every way of changing something is refused, and nothing reaches the log.
  const head = await daemon.head();
  await page.keyboard.press('Control+a');
  await page.keyboard.press('c');
  await waitFor(page, () => document.querySelector('#notice')?.textContent.includes('read_only'), 10_000, {
    what: 'the refusal of a new window in the page',
  });
  await page.locator('.window[data-window-id="1"] textarea').fill(`typed by a watcher ${t}`);
  await page.keyboard.press('Enter');
  await tui.sendKeys('C-a', 'c');
  await tui.waitForText('read-only share');
  await tui.type(`typed in the terminal ${t}`);
  await tui.sendKeys('Enter');
  await sleep(500);
  assert.equal(await daemon.head(), head, 'a watcher changed the log');
  const events = await daemon.events(1);
  assert.ok(!events.some((e) => JSON.stringify(e).includes('typed')), 'nothing typed reached the log');

  // Revoked: both are cut off at once.
  await daemon.api(`/api/shares/${share.id}`, undefined, { method: 'DELETE' });
  await waitFor(page, () => document.querySelector('#connection')?.dataset.state === 'refused', 5_000, {
    what: 'the page cut off',
  });
  assert.match(await page.textContent('body'), /revoked/);
  await tui.waitForText('revoked', { timeoutMs: 5_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'share-revoked.png') });
});

e2eTest('q. a replay in the browser: the slider, the buttons and the keys show past moments, read-only', async (h) => {
  const daemon = await h.daemon();
  const t = tag();
  await daemon.command({ type: 'window.open', app: 'chat' });
  for (let i = 1; i <= 5; i++) await daemon.command({ type: 'window.move', window_id: 1, x: i * 3, y: 2 });
  await daemon.command({ type: 'chat.post', thread_id: 1, text: `then ${t}` });
  for (let i = 6; i <= 8; i++) await daemon.command({ type: 'window.move', window_id: 1, x: i * 3, y: 2 });
  // The agent (offline) answers the message: the log's end once it has.
  await waitForAgentIdle(daemon);
  const head = await daemon.head();
  const events = await daemon.events(1);
  const message = events.find((e) => e.type === 'chat.user_message').seq;
  const movedTo = (seq) => {
    let x = null;
    for (const e of events) if (e.seq <= seq && e.type === 'window.moved') x = e.data.x;
    return x;
  };

  const browser = await h.browser();
  const page = await h.page(browser, daemon, { token: daemon.token });
  await page.goto(`${daemon.pageUrl()}&at=3`);
  const waitSeq = (seq) =>
    waitFor(page, (want) => document.querySelector('#timeline')?.dataset.seq === String(want), 10_000, {
      arg: seq,
      what: `the replay at seq ${seq}`,
    });
  const windowX = () => page.$eval('.window[data-window-id="1"]', (el) => Number(el.dataset.x));
  await waitSeq(3);
  assert.equal(await page.$eval('#timeline', (el) => Number(el.dataset.head)), head);
  assert.equal(await windowX(), movedTo(3), 'the window where it was at seq 3');
  assert.ok(!(await page.textContent('#desktop')).includes(`then ${t}`), 'no message yet at seq 3');

  // The slider to the message's seq: the message shows, and later moves do not.
  await page.locator('#timeline-slider').fill(String(message));
  await waitSeq(message);
  await waitFor(page, (want) => document.querySelector('#desktop').textContent.includes(want), 10_000, {
    arg: `then ${t}`,
    what: 'the message at its moment',
  });
  assert.equal(await windowX(), movedTo(message));
  // Keys: an event back, then the next chat message or tool call, then now.
  await page.keyboard.press('ArrowLeft');
  await waitSeq(message - 1);
  await page.keyboard.press('n');
  await waitSeq(message);
  await page.click('button[title^="now"]');
  await waitSeq(head);
  assert.equal(await windowX(), movedTo(head));
  await page.click('button[title^="the start"]');
  await waitSeq(0);
  assert.equal(await page.$$eval('.window', (els) => els.length), 0, 'nothing at the start');

  // Read-only: a new window is not asked for, and the log does not grow.
  await page.keyboard.press('Control+a');
  await page.keyboard.press('c');
  await waitFor(page, () => document.querySelector('#notice')?.textContent.includes('replay is read-only'), 10_000, {
    what: 'the replay saying it is read-only',
  });
  assert.equal(await daemon.head(), head);
  await page.screenshot({ path: path.join(ARTIFACTS, 'replay.png') });
});

// ---------------------------------------------------------------------------------------------
// Mail, against real servers (scripts/mail-servers.sh: Dovecot, an SMTP server delivering into
// it)

/** Starts the mail servers in a directory of the test's own; their settings. Stopped at cleanup. */
async function mailServers(h) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'choir-web-mail-'));
  const script = path.join(ROOT, 'scripts', 'mail-servers.sh');
  h.defer(`mail servers in ${dir}`, async () => {
    await execFileP(script, ['stop', dir], { timeout: 20_000 }).catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const { stdout } = await execFileP(script, ['start', dir], { timeout: 120_000, maxBuffer: 1 << 20 });
  const vars = {};
  for (const line of stdout.split('\n')) {
    const found = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (found) vars[found[1]] = found[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return vars;
}

/** Sends a message to alice from bob through the SMTP server (Python's smtplib, as any client). */
async function mailToAlice(vars, subject, body) {
  const script = `
import os, smtplib
from email.message import EmailMessage
m = EmailMessage()
m["From"], m["To"], m["Subject"] = os.environ["FROM"], os.environ["TO"], os.environ["SUBJECT"]
m.set_content(os.environ["BODY"])
host, port = os.environ["URL"].split("://")[1].rstrip("/").split(":")
with smtplib.SMTP(host, int(port), timeout=10) as smtp:
    smtp.login(os.environ["LOGIN"], os.environ["PASSWORD"])
    smtp.send_message(m)
`;
  await execFileP('python3', ['-c', script], {
    timeout: 15_000,
    env: {
      ...process.env,
      FROM: vars.CHOIR_MAIL_ADDRESS2,
      TO: vars.CHOIR_MAIL_ADDRESS,
      SUBJECT: subject,
      BODY: body,
      URL: vars.CHOIR_SMTP_URL,
      LOGIN: vars.CHOIR_MAIL_USER2,
      PASSWORD: vars.CHOIR_MAIL_PASSWORD2,
    },
  });
}

e2eTest(
  'm1 mail: a message sent over SMTP shows up live in the browser and the terminal, opens, and is answered in the writer',
  async (h) => {
    const vars = await mailServers(h);
    const daemon = await h.daemon();
    const browser = await h.browser();
    const page = await h.page(browser, daemon, { viewport: { width: 1280, height: 800 } });
    await waitForLive(page);
    const tui = await h.tui(daemon, { cols: 120, rows: 34 });

    // C-a i opens a mail window, on the inbox.
    await page.keyboard.press('Control+a');
    await page.keyboard.press('i');
    const mail = await waitUntil(async () => [...(await daemon.windows()).values()].find((w) => w.app === 'mail'), {
      what: 'a mail window in /api/state',
    });
    const win = `.window[data-window-id="${mail.id}"]`;

    // No account yet: the window says so and its form adds one (a wrong password first).
    await page.click(`${win} button[data-action=add-account]`);
    const fill = async (password) => {
      for (const [name, value] of Object.entries({
        CHOIR_MAIL_ADDRESS: vars.CHOIR_MAIL_ADDRESS,
        CHOIR_MAIL_USER: vars.CHOIR_MAIL_USER,
        CHOIR_MAIL_PASSWORD: password,
        CHOIR_IMAP_URL: vars.CHOIR_IMAP_URL,
        CHOIR_SMTP_URL: vars.CHOIR_SMTP_URL,
      })) {
        await page.fill(`${win} input[name=${name}]`, value);
      }
      await page.press(`${win} input[name=CHOIR_SMTP_URL]`, 'Enter');
    };
    await fill('not-her-password');
    await waitFor(page, () => document.querySelector('#notice')?.textContent.includes('refused the user name or password'),
      20_000, { what: 'the refused login said' });
    await page.click(`${win} button[data-action=add-account]`);
    await fill(vars.CHOIR_MAIL_PASSWORD);
    await waitFor(page, (sel) => document.querySelector(`${sel} .mail-head`)?.textContent.includes('INBOX'), 15_000, {
      arg: win,
      what: 'the inbox in the mail window',
    });
    await tui.waitForText(`${vars.CHOIR_MAIL_ADDRESS} · INBOX`);

    // Mail sent now comes into both clients by itself.
    const subject = `Lunch ${tag()}?`;
    await mailToAlice(vars, subject, 'Noon at the usual place?\n\nBob');
    await waitFor(page, ([sel, subject]) => [...document.querySelectorAll(`${sel} .mail-row.unseen .mail-subject`)]
      .some((el) => el.textContent === subject), 20_000, { arg: [win, subject], what: 'the new message in the list' });
    await tui.waitForText(subject, { timeoutMs: 10_000 });

    // / searches the folder; Esc twice leaves the field, then the search.
    const head = () => page.$eval(`${win} .mail-head`, (el) => el.textContent);
    await page.keyboard.press('/');
    await page.keyboard.type(subject);
    await page.keyboard.press('Enter');
    await waitFor(page, ([sel, subject]) => document.querySelector(`${sel} .mail-head`)?.textContent.includes(`found for “${subject}”`)
      && document.querySelectorAll(`${sel} .mail-row`).length === 1, 15_000, { arg: [win, subject], what: 'the search found' });
    await tui.waitForText('found for');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await waitFor(page, (sel) => !document.querySelector(`${sel} .mail-head`)?.textContent.includes('found for'), 15_000, {
      arg: win,
      what: 'the folder as it is again',
    });
    assert.match(await head(), /INBOX · 1–1 of 1$/);

    // A click opens it, in both clients (what a window shows is desktop state).
    await page.click(`${win} .mail-row[data-uid]`);
    await waitFor(page, (sel) => document.querySelector(`${sel} .mail-text`)?.textContent.includes('Noon at the usual place?'),
      15_000, { arg: win, what: 'the message text' });
    await tui.waitForText('Noon at the usual place?');
    const row = await page.$eval(`${win} .mail-row[data-uid]`, (el) => [...el.classList]);
    assert.ok(!row.includes('unseen'), `an opened message is read: ${row}`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'mail-window.png') });
    // And on a phone-sized screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await waitFor(page, (sel) => document.querySelector(`${sel} .mail-text`)?.getBoundingClientRect().width <= 390, 5_000, {
      arg: win,
      what: 'the message fitted to a phone',
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'mail-phone-390x844.png') });
    await page.setViewportSize({ width: 1280, height: 800 });

    // r answers it in a writer window, addressed to bob, quoting him.
    await page.keyboard.press('r');
    const writer = await waitUntil(async () => [...(await daemon.windows()).values()].find((w) => w.app === 'writer'), {
      what: 'a writer window for the answer',
    });
    await waitFor(page, ([id, to]) => {
      const text = document.querySelector(`.window[data-window-id="${id}"] textarea`)?.value ?? '';
      return text.startsWith(`From: `) && text.includes(`To: ${to}`) && text.includes('> Noon at the usual place?');
    }, 10_000, { arg: [writer.id, vars.CHOIR_MAIL_ADDRESS2], what: 'the answer in the writer' });

    // Send goes out through alice's SMTP server, and both clients say so.
    await page.click(`.window[data-window-id="${writer.id}"] button[data-action=send-mail]`);
    await waitFor(page, (to) => document.querySelector('#notice')?.textContent.includes(`to ${to}`), 20_000, {
      arg: vars.CHOIR_MAIL_ADDRESS2,
      what: 'the notice that the answer was sent',
    });
    await tui.waitForText(`to ${vars.CHOIR_MAIL_ADDRESS2}`);
    const events = await daemon.events();
    assert.ok(!JSON.stringify(events).includes(vars.CHOIR_MAIL_PASSWORD), 'the password is not in the log');
    const sent = events.filter((event) => event.type === 'mail.sent');
    assert.equal(sent.length, 1);
    assert.equal(sent[0].data.subject, `Re: ${subject}`);
  },
  { timeout: 150_000 },
);

e2eTest(
  'c1 calendar: an event added in the browser shows in both clients, moves an hour, shows as a week, and is deleted',
  async (h) => {
    const vars = await mailServers(h);
    const daemon = await h.daemon();
    await daemon.api('/api/mail/accounts', {
      CHOIR_IMAP_URL: vars.CHOIR_IMAP_URL,
      CHOIR_SMTP_URL: vars.CHOIR_SMTP_URL,
      CHOIR_MAIL_USER: vars.CHOIR_MAIL_USER,
      CHOIR_MAIL_PASSWORD: vars.CHOIR_MAIL_PASSWORD,
      CHOIR_MAIL_ADDRESS: vars.CHOIR_MAIL_ADDRESS,
      CHOIR_CALDAV_URL: vars.CHOIR_CALDAV_URL,
    });
    const browser = await h.browser();
    const page = await h.page(browser, daemon, { viewport: { width: 1280, height: 800 } });
    await waitForLive(page);
    const tui = await h.tui(daemon, { cols: 120, rows: 34 });

    await page.keyboard.press('Control+a');
    await page.keyboard.press('a');
    const cal = await waitUntil(async () => [...(await daemon.windows()).values()].find((w) => w.app === 'calendar'), {
      what: 'a calendar window in /api/state',
    });
    const win = `.window[data-window-id="${cal.id}"]`;
    await waitFor(page, ([sel, who]) => document.querySelector(`${sel} .mail-head`)?.textContent.startsWith(who), 15_000, {
      arg: [win, vars.CHOIR_MAIL_ADDRESS],
      what: 'this week in the calendar window',
    });
    await tui.waitForText('agenda');

    // New: the form's day is today (this week is shown); times are the browser's.
    const title = `Review ${tag()}`;
    await page.click(`${win} button[data-action=new-event]`);
    await page.fill(`${win} input[name=title]`, title);
    await page.fill(`${win} input[name=from]`, '15:00');
    await page.fill(`${win} input[name=to]`, '16:00');
    await page.press(`${win} input[name=to]`, 'Enter');
    const shown = (want) => waitFor(page, ([sel, title, want]) => [...document.querySelectorAll(`${sel} .calendar-event`)]
      .some((el) => el.querySelector('.calendar-title')?.textContent === title
        && el.querySelector('.calendar-time')?.textContent === want), 20_000,
      { arg: [win, title, want], what: `the event at ${want}` });
    await shown('15:00–16:00');
    await tui.waitForText(title);

    // Selected, J moves it an hour later, in both clients.
    await page.click(`${win} .calendar-event:has-text("${title}")`);
    await page.keyboard.press('J');
    await shown('16:00–17:00');
    await tui.waitForText(`16:00–17:00 ${title}`);

    // The week view, for the whole desktop.
    await page.click(`${win} button[data-action=toggle-view]`);
    await waitFor(page, (sel) => document.querySelector(`${sel} .calendar-week`) !== null, 10_000, {
      arg: win,
      what: 'the week view',
    });
    await tui.waitForText('week');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'calendar-week.png') });

    // d asks, d again deletes.
    await page.click(`${win} .calendar-event:has-text("${title}")`);
    await page.keyboard.press('d');
    await waitFor(page, () => document.querySelector('#notice')?.textContent.includes('press d again'), 10_000, {
      what: 'the delete asking for a second press',
    });
    await page.keyboard.press('d');
    await waitFor(page, ([sel, title]) => ![...document.querySelectorAll(`${sel} .calendar-title`)]
      .some((el) => el.textContent === title), 20_000, { arg: [win, title], what: 'the event gone' });
    await tui.waitForText((screen) => !screen.includes(title));
  },
  { timeout: 150_000 },
);

e2eTest(
  'ap1 apps: the example timer in the browser and tmux, allowed its store, started by a click and a key, rebuilt while it runs',
  async (h) => {
    const daemon = await h.daemon({ env: { CHOIR_APPS_TARGET_DIR: path.join(ROOT, 'target/tmp/apps') } });
    fs.cpSync(path.join(ROOT, 'apps/timer'), path.join(daemon.dir, 'workspace/apps/timer'), { recursive: true });
    const built = await daemon.api('/api/apps/timer/build', {}, { timeoutMs: 300_000 });
    assert.equal(built.changed, true);
    await daemon.command({ type: 'window.open', app: 'app:timer', rect: { x: 2, y: 1, w: 60, h: 14 } });
    const timer = await onlyWindow(daemon, 'app:timer');
    const browser = await h.browser();
    const page = await h.page(browser, daemon, { viewport: { width: 1280, height: 800 } });
    await waitForLive(page);
    const tui = await h.tui(daemon, { cols: 100, rows: 30 });
    const win = `.window[data-window-id="${timer.id}"] .user-app`;
    const showing = (text, what = text) =>
      waitFor(page, ([sel, text]) => document.querySelector(sel)?.textContent.includes(text), 15_000, {
        arg: [win, text],
        what,
      });
    await showing('Pomodoro  25:00');
    await tui.waitForText('Pomodoro  25:00');

    // The store is asked for in both clients; Allow in the browser answers for all.
    await showing('timer asks to keep its own data');
    await tui.waitForText('timer asks to keep its own data');
    // A question takes an answer once it has been shown a second.
    await sleep(1100);
    await page.click(`${win} button[data-action=allow]`);
    await waitFor(page, (sel) => document.querySelector(`${sel} .app-ask`) === null, 10_000, {
      arg: win,
      what: 'the question gone once answered',
    });
    await showing('paused · 0 sessions done');
    await tui.waitForText((screen) => !screen.includes('asks to') && screen.includes('paused · 0 sessions done'));

    // The buttons are buttons: a click starts it; the countdown runs in both clients.
    const roles = await page.$$eval(`${win} button[data-app-id]`, (els) => els.map((el) => el.textContent.trim()));
    assert.deepEqual(roles, ['Start', 'Reset', '-5 min', '+5 min']);
    await page.click(`${win} button[data-app-id=start]`);
    await showing('running · 0 sessions done');
    await showing('Pomodoro  24:5', 'the countdown moving');
    await tui.waitForText('Pomodoro  24:5');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'app-timer.png') });

    // Rebuilt with other words while it runs: the window stays and goes on counting.
    const lib = path.join(daemon.dir, 'workspace/apps/timer/src/lib.rs');
    fs.writeFileSync(lib, fs.readFileSync(lib, 'utf8').replace('Pomodoro  {clock}', 'Tomato  {clock}'));
    const rebuilt = await daemon.api('/api/apps/timer/build', {}, { timeoutMs: 300_000 });
    assert.notEqual(rebuilt.version, built.version);
    await showing('Tomato  24:', 'the new version, still counting');
    await showing('running');
    await tui.waitForText('Tomato  24:');
    assert.equal((await daemon.windows()).size, 1, 'the window stayed open');

    // A key from the page goes to the app as the terminal's does: space pauses it.
    await page.click(`#desktop .window[data-window-id="${timer.id}"] .titlebar`);
    await page.keyboard.press(' ');
    await showing('paused · 0 sessions done');
    await tui.waitForText('paused · 0 sessions done');

    // On a phone-sized screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await waitFor(page, (sel) => document.querySelector(sel)?.getBoundingClientRect().width <= 390, 5_000, {
      arg: win,
      what: 'the app fitted to a phone',
    });
    await page.screenshot({ path: path.join(ARTIFACTS, 'app-phone-390x844.png') });
    const events = await daemon.events();
    assert.ok(events.some((event) => event.type === 'app.input' && 'tick' in event.data.input), 'ticks are recorded');
  },
  { timeout: 240_000 },
);

e2eTest(
  'ap2 apps: the tool dashboard asks to read the log, then counts tool calls in a table, in both clients',
  async (h) => {
    const daemon = await h.daemon({ env: { CHOIR_APPS_TARGET_DIR: path.join(ROOT, 'target/tmp/apps') } });
    fs.cpSync(path.join(ROOT, 'apps/tool-dashboard'), path.join(daemon.dir, 'workspace/apps/tool-dashboard'), {
      recursive: true,
    });
    await daemon.api('/api/apps/tool-dashboard/build', {}, { timeoutMs: 300_000 });
    await daemon.command({ type: 'window.open', app: 'app:tool-dashboard', rect: { x: 2, y: 1, w: 70, h: 20 } });
    const dashboard = await onlyWindow(daemon, 'app:tool-dashboard');
    const browser = await h.browser();
    const page = await h.page(browser, daemon, { viewport: { width: 1280, height: 800 } });
    await waitForLive(page);
    const tui = await h.tui(daemon, { cols: 100, rows: 30 });
    const win = `.window[data-window-id="${dashboard.id}"] .user-app`;
    await waitFor(page, (sel) => document.querySelector(`${sel} .app-ask`)?.textContent.includes('read the event log'), 15_000, {
      arg: win,
      what: 'the question',
    });
    await tui.waitForText('tool-dashboard asks to read the event log');
    await sleep(1100);
    await page.click(`${win} button[data-action=allow]`);
    await tui.waitForText('Tool calls  0 in all');
    for (let n = 0; n < 2; n += 1) await daemon.api('/api/tools/list_files', {});
    await page.click(`${win} button[data-app-id=refresh]`);
    const cells = () =>
      page.$$eval(`${win} table.app-table:last-of-type tbody td`, (els) => els.map((el) => el.textContent));
    await waitFor(page, (sel) => document.querySelector(sel)?.textContent.includes('2 in all'), 15_000, {
      arg: win,
      what: 'two calls counted',
    });
    assert.deepEqual(await cells(), ['list_files', '2']);
    const headers = await page.$$eval(`${win} table.app-table th`, (els) => els.map((el) => el.textContent));
    assert.deepEqual(headers, ['hour (UTC)', 'calls', 'tool', 'calls']);
    await tui.waitForText('list_files 2');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'app-dashboard.png') });

    // The taskbar's launcher offers the installed app: a click opens another window of it.
    const launcher = 'button[data-launch="app:tool-dashboard"]';
    assert.equal(await page.getAttribute(launcher, 'aria-label'), 'new tool-dashboard window');
    await page.click(launcher);
    await waitFor(page, () => document.querySelectorAll('.window .user-app').length === 2, 15_000, {
      what: 'a second dashboard window',
    });
    const apps = [...(await daemon.windows()).values()].filter((w) => w.app === 'app:tool-dashboard');
    assert.equal(apps.length, 2);
  },
  { timeout: 240_000 },
);
