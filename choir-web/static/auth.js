// The sign-in, invite and account pages: WebAuthn in the browser, everything else on the
// server (which keeps each ceremony's state; this page holds only its id). Which page this is
// comes from <meta name="choir-page">.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";
const $ = (id) => document.getElementById(id);
const status = $("auth-status");

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// base64url <-> ArrayBuffer: WebAuthn speaks buffers, the server JSON.
function toBuffer(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
}
function toText(buffer) {
  if (!buffer) return null;
  let raw = "";
  for (const byte of new Uint8Array(buffer)) raw += String.fromCharCode(byte);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function post(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
  } catch {
    throw new Error("the server cannot be reached: check your connection and try again");
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
  return answer;
}

function webauthnMissing() {
  if (window.PublicKeyCredential && navigator.credentials) return false;
  say(
    window.isSecureContext
      ? "This browser cannot use passkeys. Use a current Chrome, Edge, Firefox or Safari."
      : "Passkeys work only over https (or on localhost). Open this site by its https address.",
    true,
  );
  return true;
}

// What the browser's authenticator said, as the server reads it.
function credentialJson(credential) {
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults?.() ?? {},
    response: { clientDataJSON: toText(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = toText(response.attestationObject);
    json.response.transports = response.getTransports?.() ?? [];
  } else {
    json.response.authenticatorData = toText(response.authenticatorData);
    json.response.signature = toText(response.signature);
    json.response.userHandle = toText(response.userHandle);
  }
  return json;
}

function failure(err) {
  if (err?.name === "NotAllowedError") return "The passkey prompt was closed or timed out. Try again.";
  if (err?.name === "InvalidStateError") return "This device already has a passkey for this account.";
  return err?.message || String(err);
}

async function register(start) {
  const { ceremony, options } = await post("/auth/register/start", start);
  const publicKey = options.publicKey;
  publicKey.challenge = toBuffer(publicKey.challenge);
  publicKey.user.id = toBuffer(publicKey.user.id);
  for (const excluded of publicKey.excludeCredentials ?? []) excluded.id = toBuffer(excluded.id);
  say("Waiting for your passkey…");
  const credential = await navigator.credentials.create({ publicKey });
  return post("/auth/register/finish", { ceremony, credential: credentialJson(credential) });
}

async function signIn(user) {
  const { ceremony, options } = await post("/auth/signin/start", { user });
  const publicKey = options.publicKey;
  publicKey.challenge = toBuffer(publicKey.challenge);
  for (const allowed of publicKey.allowCredentials ?? []) allowed.id = toBuffer(allowed.id);
  say("Waiting for your passkey…");
  const credential = await navigator.credentials.get({ publicKey });
  return post("/auth/signin/finish", { ceremony, credential: credentialJson(credential) });
}

// Runs `work` with `button` disabled, saying what went wrong.
async function busy(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (err) {
    say(failure(err), true);
  } finally {
    button.disabled = false;
  }
}

function showSignIn() {
  $("signin").hidden = false;
  document.title = "ChoirOS — sign in";
  const input = $("signin-user");
  input.value = localStorage.getItem("choir-user") ?? "";
  input.focus();
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (webauthnMissing()) return;
    const user = input.value.trim();
    busy($("signin-button"), async () => {
      const answer = await signIn(user);
      localStorage.setItem("choir-user", user);
      say("Signed in.");
      location.assign(answer.next || "/");
    });
  });
}

async function showInvite() {
  $("invite").hidden = false;
  document.title = "ChoirOS — register a passkey";
  const invite = location.hash.slice(1);
  // The secret leaves the address bar (history, screenshots), not the page.
  history.replaceState(null, "", location.pathname);
  // Another invite pasted into this tab only changes the fragment: start over with it.
  window.addEventListener("hashchange", () => location.reload());
  if (!invite) {
    $("invite-intro").textContent = "";
    say("This invite link is incomplete: open the whole link you were given.", true);
    return;
  }
  let user;
  try {
    ({ user } = await post("/auth/invite", { invite }));
  } catch (err) {
    $("invite-intro").textContent = "";
    say(failure(err), true);
    return;
  }
  $("invite-intro").textContent = `Welcome, ${user}. Create a passkey to sign in to ChoirOS from this browser.`;
  $("invite-form").hidden = false;
  $("invite-label").focus();
  if (webauthnMissing()) return;
  $("invite-form").addEventListener("submit", (event) => {
    event.preventDefault();
    busy($("invite-button"), async () => {
      const answer = await register({ invite, label: $("invite-label").value });
      localStorage.setItem("choir-user", user);
      say("Passkey created. Opening your desktop…");
      location.assign(answer.next || "/");
    });
  });
}

async function listPasskeys() {
  const response = await fetch("/auth/passkeys", { credentials: "same-origin" });
  if (response.status === 401) return location.assign("/signin");
  const { passkeys } = await response.json();
  const list = $("passkey-list");
  list.replaceChildren();
  for (const key of passkeys) {
    const item = document.createElement("li");
    const used = key.last_used ? `last used ${new Date(key.last_used).toLocaleString()}` : "never used";
    item.textContent = `${key.label}${key.current ? " (this session)" : ""} — added ${new Date(key.created).toLocaleDateString()}, ${used} `;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove passkey ${key.label}`);
    remove.addEventListener("click", () =>
      busy(remove, async () => {
        const warning = key.current
          ? `Remove "${key.label}"? You signed in with it, so this signs you out.`
          : `Remove "${key.label}"? Browsers signed in with it are signed out.`;
        if (!confirm(warning)) return;
        const answer = await post("/auth/passkeys/remove", { id: key.id });
        if (answer.signed_out) return location.assign("/signin");
        say(`Removed "${key.label}".`);
        await listPasskeys();
      }),
    );
    item.append(remove);
    list.append(item);
  }
}

// The model gateway's figures for this user today, when the host has a gateway.
async function showUsage() {
  const response = await fetch("/auth/usage", { credentials: "same-origin" });
  if (!response.ok) return;
  const usage = await response.json();
  if (!usage.gateway) return;
  const number = (n) => Number(n).toLocaleString("en-US");
  const resets = new Date(usage.resets);
  $("usage-text").textContent =
    `Today (UTC): ${number(usage.requests_today)} requests, ` +
    `${number(usage.tokens_today)} of ${number(usage.limits.tokens_per_day)} tokens; ` +
    `at most ${usage.limits.requests_per_minute} requests a minute. ` +
    `The day's count starts again at ${resets.toISOString().slice(11, 16)} UTC.`;
  $("usage").hidden = false;
}

async function showAccount() {
  $("account").hidden = false;
  document.title = "ChoirOS — account";
  $("account-user").textContent = meta("choir-user");
  await listPasskeys().catch((err) => say(failure(err), true));
  await showUsage().catch(() => {});
  $("add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (webauthnMissing()) return;
    busy($("add-button"), async () => {
      await register({ label: $("add-label").value });
      $("add-label").value = "";
      say("Passkey added.");
      await listPasskeys();
    });
  });
  $("signout-button").addEventListener("click", () =>
    busy($("signout-button"), async () => {
      const answer = await post("/auth/signout", {});
      location.assign(answer.next || "/signin");
    }),
  );
}

const pages = { signin: showSignIn, invite: showInvite, account: showAccount };
(pages[meta("choir-page")] ?? showSignIn)();
