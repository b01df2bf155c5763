// The hypervisor's web face in headless Chromium: an invite link opened in the browser, a
// passkey created with Chromium's virtual authenticator, the desktop of the user's sandbox,
// a chat message typed there read back over SSH with OpenSSH; sign-out and sign-in by
// keyboard; and the errors a user can meet on the way. Run: scripts/e2e-web.sh.

import assert from 'node:assert/strict';

import { addVirtualAuthenticator, e2eTest, startHypervisor, waitFor, waitForLive, waitUntil } from './lib.mjs';

/** A hypervisor, stopped (with its sandboxes) at cleanup. */
async function hypervisor(h, opts) {
  const hv = await startHypervisor(opts);
  h.defer(`hypervisor pid ${hv.child?.pid}`, () => hv.dispose());
  h.hypervisor = hv;
  return hv;
}

/** A fresh page (own cookies) with a virtual authenticator; its console kept for reports. */
async function passkeyPage(h, browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.choirLog = [];
  page.on('console', (msg) => page.choirLog.push(`[console.${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => page.choirLog.push(`[pageerror] ${err.message}`));
  h.pages.push(page);
  page.authenticator = await addVirtualAuthenticator(page);
  return page;
}

const statusText = (page) => page.locator('#auth-status').textContent();

e2eTest('p1. invite → passkey → desktop → a chat message typed in the browser is in `ssh alice@host choir events`', async (h) => {
  const hv = await hypervisor(h);
  const browser = await h.browser();
  const page = await passkeyPage(h, browser);

  const link = await hv.invite('alice');
  await page.goto(link);
  await page.locator('#invite-form').waitFor();
  assert.match(await page.locator('#invite-intro').textContent(), /Welcome, alice/);
  assert.equal(new URL(page.url()).hash, '', 'the secret left the address bar');
  await page.locator('#invite-label').fill('chromium');
  await page.locator('#invite-button').click();
  await page.waitForURL(`${hv.origin}/`);
  await waitForLive(page, 30_000);
  assert.equal((await page.authenticator.credentials()).length, 1, 'one passkey in the authenticator');
  assert.equal(await page.locator('#account').textContent(), 'alice');

  await page.locator('[data-launch="chat"]').click();
  const input = page.locator('.window textarea.chat-input').first();
  await input.waitFor();
  await input.click();
  const text = `typed in the browser ${Date.now()}`;
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
  const events = await waitUntil(
    async () => {
      const out = await hv.ssh('alice', 'choir events');
      return out.includes(text) ? out : null;
    },
    { timeoutMs: 20_000, intervalMs: 500, what: `ssh alice@host choir events to show "${text}"` },
  );
  const message = events
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
    .find((event) => event.type === 'chat.user_message');
  assert.equal(message.data.text, text);

  // …and what SSH does shows in the open page, live.
  await hv.ssh('alice', `choir --exec bash --arg 'cmd=echo ran-over-ssh'`);
  await page.locator('[data-launch="event_log"]').click();
  await waitFor(page, () => document.body.textContent.includes('tool.finished'), 15_000, {
    what: 'the bash run over SSH in the browser',
  });

  // The account page lists the passkey; signing out ends the session.
  await page.locator('#account').click();
  await page.waitForURL(`${hv.origin}/account`);
  await waitFor(page, () => document.querySelector('#passkey-list li')?.textContent.includes('chromium'), 10_000, {
    what: 'the passkey in the list',
  });
  await page.locator('#signout-button').click();
  await page.waitForURL(`${hv.origin}/signin`);
  await page.goto(`${hv.origin}/`);
  await page.waitForURL(`${hv.origin}/signin`);

  // Sign in again with the keyboard alone: the user name is focused (and remembered).
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'signin-user');
  assert.equal(await page.locator('#signin-user').inputValue(), 'alice');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${hv.origin}/`);
  await waitForLive(page, 30_000);
});

e2eTest('p2. a used, expired or cut invite, an unknown user and a browser without WebAuthn each say so', async (h) => {
  const hv = await hypervisor(h);
  const browser = await h.browser();
  const page = await passkeyPage(h, browser);

  const link = await hv.invite('alice');
  await page.goto(link);
  await page.locator('#invite-button').click();
  await page.waitForURL(`${hv.origin}/`);

  const other = await passkeyPage(h, browser);
  await other.goto(link);
  await waitFor(other, () => /already used/.test(document.querySelector('#auth-status')?.textContent), 10_000, {
    what: 'the used invite refused',
  });
  assert.equal(await other.locator('#invite-form').isHidden(), true);

  const expiring = await hv.invite('alice', ['--expires', '1s']);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  await other.goto(expiring);
  await waitFor(other, () => /expired/.test(document.querySelector('#auth-status')?.textContent), 10_000, {
    what: 'the expired invite refused',
  });

  await other.goto(link.slice(0, -10));
  await waitFor(other, () => /not valid/.test(document.querySelector('#auth-status')?.textContent), 10_000, {
    what: 'the cut invite refused',
  });

  // An unknown name and a known one whose passkey this browser lacks (alice's lives in the
  // first page's authenticator) fail alike: the page cannot tell which names exist.
  const refusal = async (user) => {
    await other.goto(`${hv.origin}/signin`);
    await other.locator('#signin-user').fill(user);
    await other.keyboard.press('Enter');
    await waitFor(other, () => document.querySelector('#auth-status')?.classList.contains('error'), 20_000, {
      what: `the sign-in as ${user} refused`,
    });
    assert.equal(new URL(other.url()).pathname, '/signin');
    return (await other.textContent('#auth-status')).replaceAll(user, 'NAME');
  };
  assert.equal(await refusal('mallory'), await refusal('alice'));

  const old = await browser.newContext();
  const bare = await old.newPage();
  h.pages.push(Object.assign(bare, { choirLog: [] }));
  await bare.addInitScript(() => {
    delete window.PublicKeyCredential;
  });
  await bare.goto(await hv.invite('alice'));
  await bare.locator('#invite-form').waitFor();
  assert.match(await statusText(bare), /cannot use passkeys/);
});
