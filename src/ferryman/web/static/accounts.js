// Accounts on the page: sign in with a name and a password or a passkey; once in, one's
// own panel (sign out, a passkey, API tokens shown once, a Telegram link code) and, for
// an administrator, the people and the audit. Uses app.js's api() and showError(); its
// own names stay inside this function (app.js has a button() of its own: one global
// scope for both scripts).
(() => {
"use strict";

function b64urlToBytes(text) {
  const plain = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = plain + "=".repeat((4 - (plain.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function bytesToB64url(buffer) {
  let text = "";
  for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// A credential as JSON (the shape py_webauthn reads): its binary parts in base64url.
function credentialJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
  if (r.attestationObject) response.attestationObject = bytesToB64url(r.attestationObject);
  if (r.authenticatorData) response.authenticatorData = bytesToB64url(r.authenticatorData);
  if (r.signature) response.signature = bytesToB64url(r.signature);
  if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
  return { id: credential.id, rawId: bytesToB64url(credential.rawId), type: credential.type, response, clientExtensionResults: {} };
}

async function passkeySignIn() {
  try {
    const { ceremony, options } = await api("POST", "/session/passkey/options", {});
    const publicKey = { ...options, challenge: b64urlToBytes(options.challenge), allowCredentials: [] };
    const credential = await navigator.credentials.get({ publicKey });
    await api("POST", "/session/passkey", { ceremony, credential: credentialJSON(credential) });
    location.reload();
  } catch (e) {
    showError(e);
  }
}

async function addPasskey() {
  const said = document.getElementById("account-said");
  try {
    const { ceremony, options } = await api("POST", "/me/passkeys/options", {});
    const publicKey = {
      ...options,
      challenge: b64urlToBytes(options.challenge),
      user: { ...options.user, id: b64urlToBytes(options.user.id) },
      excludeCredentials: [],
    };
    const credential = await navigator.credentials.create({ publicKey });
    await api("POST", "/me/passkeys", { ceremony, credential: credentialJSON(credential) });
    said.textContent = "Passkey added: next time, Sign in with a passkey.";
  } catch (e) {
    said.textContent = e.info ? `${e.info.message} — ${e.info.next}` : String(e.message || e);
  }
}

async function signIn(event) {
  event.preventDefault();
  try {
    await api("POST", "/session/password", {
      name: document.getElementById("account-name").value,
      password: document.getElementById("account-password").value,
    });
    location.reload();
  } catch (e) {
    showError(e);
  }
}

function button(label, id, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.id = id;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function say(textContent) {
  document.getElementById("account-said").textContent = textContent;
}

async function showPeople(panel) {
  const { users } = await api("GET", "/users");
  const list = document.createElement("ul");
  list.id = "people";
  for (const u of users) {
    const li = document.createElement("li");
    li.dataset.user = u.name;
    const folder = (u.settings || {}).library;
    li.textContent = `${u.name}${u.admin ? " (administrator)" : ""}: ${u.jobs.busy} jobs queued or running${folder ? `; library: ${folder}` : ""} `;
    li.append(button("Library folder…", `library-${u.name}`, async () => {
      const chosen = prompt(`${u.name}'s own library folder on the server (an absolute path; empty: the server's library)`, folder || "");
      if (chosen === null) return;
      try {
        await api("PUT", `/users/${encodeURIComponent(u.name)}/settings`, { library: chosen.trim() });
        location.reload();
      } catch (e) {
        say(e.info ? `${e.info.message} — ${e.info.next}` : String(e));
      }
    }), " ");
    li.append(button("Remove", `remove-${u.name}`, async () => {
      if (!confirm(`Remove ${u.name}? Their jobs stay.`)) return;
      await api("DELETE", `/users/${encodeURIComponent(u.name)}`);
      li.remove();
    }));
    list.append(li);
  }
  const heading = document.createElement("h2");
  heading.textContent = "People";
  const form = document.createElement("form");
  form.id = "add-person";
  form.innerHTML = '<input name="name" type="text" placeholder="name" aria-label="Name" required> <input name="password" type="password" placeholder="password (8 or more)" aria-label="Password" required> <label><input name="admin" type="checkbox"> administrator</label> <button type="submit">Add</button>';
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/users", { name: form.name.value, password: form.password.value, admin: form.admin.checked });
      location.reload();
    } catch (e) {
      say(e.info ? `${e.info.message} — ${e.info.next}` : String(e));
    }
  });
  const { audit } = await api("GET", "/audit?limit=50");
  const log = document.createElement("table");
  log.id = "audit";
  const head = log.insertRow();
  for (const name of ["When", "Who", "What", "Of", "From"]) head.insertCell().textContent = name;
  for (const row of audit) {
    const tr = log.insertRow();
    tr.insertCell().textContent = new Date(row.at * 1000).toLocaleString();
    for (const key of ["actor", "action", "target", "address"]) tr.insertCell().textContent = row[key];
  }
  const auditHeading = document.createElement("h2");
  auditHeading.textContent = "Sign-ins and administrators' actions";
  panel.append(heading, list, form, auditHeading, log);
}

async function showAccount() {
  let me;
  try {
    me = await api("GET", "/me");
  } catch (e) {
    return;
  }
  if (!me.account && !me.signing_in) return; // the open loopback page: as before accounts
  const panel = document.createElement("section");
  panel.id = "account";
  const who = document.createElement("p");
  who.id = "account-who";
  who.textContent = me.account ? `Signed in as ${me.name}${me.admin ? " (administrator)" : ""}` : "Signed in with a server token";
  panel.append(who);
  if (me.account) {
    panel.append(
      button("Sign out", "sign-out", async () => {
        await api("DELETE", "/session");
        location.reload();
      }),
      button("Add a passkey", "add-passkey", addPasskey),
      button("New API token", "new-token", async () => {
        const made = await api("POST", "/me/tokens", { label: "page" });
        say(`Your token (shown once): ${made.token}`);
      }),
      button("Link Telegram", "link-telegram", async () => {
        const made = await api("POST", "/me/telegram", {});
        say(`Send this to the bot within ten minutes: ${made.send}`);
      }),
    );
  }
  const said = document.createElement("p");
  said.id = "account-said";
  said.setAttribute("role", "status");
  panel.append(said);
  document.querySelector("main").append(panel);
  if (me.admin) {
    try {
      await showPeople(panel);
    } catch (e) {
      say(String(e.message || e));
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("signin");
  if (form) {
    form.addEventListener("submit", signIn);
    form.querySelector("button[type=submit]").disabled = false;
    const passkey = document.getElementById("passkey-signin");
    if (window.PublicKeyCredential) {
      passkey.hidden = false;
      passkey.addEventListener("click", passkeySignIn);
    }
    return;
  }
  if (document.getElementById("start")) showAccount();
});
})();
