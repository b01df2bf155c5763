// A browser through a load balancer while the hypervisor behind it dies: driven by
// hypervisor/tests/swarm.rs (scripts/e2e-swarm.sh), which gives the page's origin and an
// invite link, and says on stdin when it has killed the hypervisor holding the page.
//
//   node web-tests/failover.mjs ORIGIN INVITE-LINK
//
// In headless Chromium, with its virtual authenticator: registers a passkey by the invite,
// waits for the desktop to be live, opens a chat window, prints `live WINDOWS`; then, once
// stdin says `killed`, waits for the page to lose its socket and come back live by itself
// (through the other hypervisor), checks the window is still there and that a new one opens,
// and prints `carried on WINDOWS`. Any failure exits non-zero, saying what it waited for.

import readline from 'node:readline';

import { addVirtualAuthenticator, domWindows, launchBrowser, waitFor, waitForLive } from './lib.mjs';

const [origin, link] = process.argv.slice(2);
if (!origin || !link) {
  console.error('usage: node web-tests/failover.mjs ORIGIN INVITE-LINK');
  process.exit(2);
}

const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));

const browser = await launchBrowser();
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const log = [];
  page.on('console', (msg) => log.push(`[console.${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => log.push(`[pageerror] ${err.message}`));
  process.on('exit', () => failed && console.error(log.slice(-30).join('\n')));
  await addVirtualAuthenticator(page);

  await page.goto(link);
  await page.locator('#invite-form').waitFor();
  await page.locator('#invite-label').fill('chromium');
  await page.locator('#invite-button').click();
  await page.waitForURL(`${origin}/`);
  await waitForLive(page, 60_000);
  const chats = () => page.evaluate(() => document.querySelectorAll('#desktop .window[data-app="chat"]').length);
  const first = (await chats()) + 1;
  await page.locator('[data-launch="chat"]').click();
  await waitFor(page, (n) => document.querySelectorAll('#desktop .window[data-app="chat"]').length === n, 30_000, {
    arg: first,
    what: `${first} chat windows`,
  });
  // Every state the connection goes through from here on.
  await page.evaluate(() => {
    window.choirStates = [];
    const connection = document.querySelector('#connection');
    new MutationObserver(() => window.choirStates.push(connection.getAttribute('data-state'))).observe(connection, {
      attributes: true,
      attributeFilter: ['data-state'],
    });
  });
  const before = (await domWindows(page)).map((w) => w.id);
  console.log(`live ${before.length}`);

  if ((await nextLine()) !== 'killed') throw new Error('stdin did not say `killed`');
  await waitFor(
    page,
    () =>
      window.choirStates.some((state) => state !== 'live') &&
      document.querySelector('#connection')?.getAttribute('data-state') === 'live',
    60_000,
    { what: 'the socket lost, then live again' },
  );
  const after = (await domWindows(page)).map((w) => w.id);
  if (before.some((id) => !after.includes(id))) {
    throw new Error(`windows were lost across the failover: ${before} before, ${after} after`);
  }
  await page.locator('[data-launch="chat"]').click();
  await waitFor(page, (n) => document.querySelectorAll('#desktop .window[data-app="chat"]').length === n, 30_000, {
    arg: first + 1,
    what: 'one more chat window, opened through the other hypervisor',
  });
  const states = await page.evaluate(() => window.choirStates);
  console.log(`carried on ${(await domWindows(page)).length} (${states.join(' → ')})`);
} catch (err) {
  failed = true;
  console.error(`failover: ${err.stack ?? err}`);
} finally {
  lines.close();
  await browser.shutdown();
}
process.exit(failed ? 1 : 0);
