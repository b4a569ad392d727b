// The page: wires the account, the live stream, the character and the panels together.
// Every string that comes from an event or the server is set with textContent.

import { createApi } from "./api.js";
import { Account, SIGN_OUT_REASONS } from "./account.js";
import { Stream } from "./stream.js";
import { Character } from "./character.js";
import { createLive2DRenderer, webglAvailable } from "./live2d.js";
import { EventsList, relativeTime } from "./events-list.js";
import { Notifier } from "./notify.js";
import { Prefs } from "./prefs.js";
import { SetupPanel, richText } from "./setup.js";
import { EVENT_TYPES } from "./reactions.js";

const DEFAULT_CONFIG = {
  apiBase: "",
  defaultModel: "shizuku",
  models: {},
  live2d: { scripts: [] },
  render: { activeFps: 10, idleFps: 2, activeMs: 4000, throttle: true },
};
const config = { ...DEFAULT_CONFIG, ...(window.LIVE2D_NOTIFY_CONFIG || {}) };
config.render = { ...DEFAULT_CONFIG.render, ...(config.render || {}) };

const STATUS_TEXT = { live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };
const TEST_TITLES = {
  start: "Test: starting a task",
  success: "Test: all tests passed",
  error: "Test: the build failed",
  waiting: "Test: may I run this command?",
  info: "Test: just so you know",
};
const TEST_TOOLS = ["command", "edit", "read", "search", "web", "agent", "mcp"];
const SIGNUP_RETRY_MS = [1000, 2000, 5000, 10000, 30000];

const $ = (selector, root = document) => root.querySelector(selector);
const byTestId = (id) => $(`[data-testid="${id}"]`);

const api = createApi(config.apiBase);
const account = new Account(api);
const stream = new Stream(api, account);
const prefs = new Prefs({ model: config.defaultModel });
const notifier = new Notifier(prefs);
const character = new Character(byTestId("character"));
const events = new EventsList(byTestId("events"), byTestId("events-empty"));
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

// ----- small helpers -----

function announce(text) {
  const region = byTestId("announcer");
  region.textContent = "";
  // A fresh text node after clearing makes screen readers announce repeated texts too.
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

let noticeTimer = 0;
function notice(text, { sticky = false } = {}) {
  const el = byTestId("notice");
  window.clearTimeout(noticeTimer);
  el.textContent = text;
  el.hidden = !text;
  if (text && !sticky) noticeTimer = window.setTimeout(() => (el.hidden = true), 8000);
}

async function copyText(text, button) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // Not a secure context, or no permission: fall back to a selection and execCommand.
    const area = document.createElement("textarea");
    area.value = text;
    area.className = "offscreen";
    area.setAttribute("readonly", "");
    document.body.append(area);
    area.select();
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
  }
  const label = button.textContent;
  button.textContent = ok ? "Copied" : "Select and copy";
  announce(ok ? "Copied to the clipboard." : "Could not copy; select the text and copy it.");
  window.setTimeout(() => (button.textContent = label), 1500);
}

function expiryText(iso) {
  if (!iso) return "";
  const left = Date.parse(iso) - Date.now();
  if (Number.isNaN(left)) return "";
  if (left <= 0) return "expired";
  return `expires ${relativeTime(iso)}`;
}

// ----- character -----

function modelSpec(id) {
  if (id === "custom" && prefs.get("customModelUrl")) return { url: prefs.get("customModelUrl"), moods: {} };
  return config.models[id] || config.models[config.defaultModel] || Object.values(config.models)[0] || null;
}

async function showModel() {
  const note = $(".renderer-note");
  const spec = modelSpec(prefs.get("model"));
  const problem = await character.show(async () => {
    if (!spec) throw new Error("no model configured");
    if (!webglAvailable()) throw new Error("WebGL is not available in this browser");
    return createLive2DRenderer({
      root: byTestId("character"),
      modelUrl: spec.url,
      moods: spec.moods,
      motions: spec.motions,
      view: spec.view,
      scripts: config.live2d.scripts,
      render: config.render,
      reducedMotion,
    });
  });
  note.hidden = !problem;
  note.textContent = problem ? `Showing the simple character: ${problem.message}.` : "";
}

function buildModelSelect() {
  const select = byTestId("model-select");
  select.replaceChildren();
  for (const [id, model] of Object.entries(config.models)) {
    const option = document.createElement("option");
    option.value = id;
    option.textContent = model.label || id;
    select.append(option);
  }
  if (prefs.get("customModelUrl")) {
    const option = document.createElement("option");
    option.value = "custom";
    option.textContent = "Your own model";
    select.append(option);
  }
  const current = prefs.get("model");
  const usable = (current === "custom" && prefs.get("customModelUrl")) || current in config.models;
  select.value = usable ? current : config.defaultModel;
  select.onchange = () => {
    prefs.set("model", select.value);
    showModel();
  };
  const form = byTestId("own-model-form");
  form.url.value = prefs.get("customModelUrl") || "";
  form.onsubmit = (e) => {
    e.preventDefault();
    const url = form.url.value.trim();
    prefs.set("customModelUrl", url);
    prefs.set("model", url ? "custom" : config.defaultModel);
    buildModelSelect();
    showModel();
  };
}

// ----- account, tokens, snippets -----

function renderTokens() {
  const session = byTestId("session-expiry");
  const expiresAt = account.signedIn ? account.state.session.expiresAt : "";
  session.dataset.expiresAt = expiresAt;
  session.dataset.obtainedAt = account.signedIn ? String(account.state.session.obtainedAt) : "";
  session.textContent = expiresAt ? `This browser's session renews itself; it ${expiryText(expiresAt)}.` : "";

  const primary = account.primaryHook;
  byTestId("hook-token").textContent = primary ? primary.token : "";
  byTestId("copy-token").disabled = !primary;
  const expiry = byTestId("hook-expiry");
  expiry.textContent = primary ? `“${primary.label}”, ${expiryText(primary.expiresAt)}.` : "No hook token: create one below.";
  expiry.classList.toggle("warn", Boolean(primary) && Date.parse(primary.expiresAt) - Date.now() < 3 * 86400000);

  const list = byTestId("token-list");
  list.replaceChildren();
  for (const hook of account.hooks) {
    const li = document.createElement("li");
    li.dataset.tokenId = hook.id;
    const name = document.createElement("span");
    name.className = "token-label";
    name.textContent = hook.label;
    const when = document.createElement("span");
    when.className = "muted";
    when.textContent = expiryText(hook.expiresAt);
    li.append(name, when);
    if (primary && hook.id === primary.id) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "in use";
      li.append(badge);
    } else {
      li.append(button("Use", `Use “${hook.label}” in the snippets`, () => account.usePrimaryHook(hook.id)));
    }
    li.append(button("Copy", `Copy the “${hook.label}” token`, (e) => copyText(hook.token, e.currentTarget)));
    li.append(
      button("Revoke", `Revoke the “${hook.label}” token`, async (e) => {
        e.currentTarget.disabled = true;
        try {
          await account.revokeHook(hook.id);
          announce(`Token “${hook.label}” revoked.`);
        } catch (err) {
          notice(`Could not revoke the token: ${err.message}`);
          e.currentTarget.disabled = false;
        }
      }, "btn-danger"),
    );
    list.append(li);
  }
}

function button(text, label, onClick, extraClass = "") {
  const el = document.createElement("button");
  el.type = "button";
  el.className = `btn btn-small ${extraClass}`.trim();
  el.textContent = text;
  el.setAttribute("aria-label", label);
  el.addEventListener("click", onClick);
  return el;
}

const setup = new SetupPanel(byTestId("snippets"), {
  selected: prefs.get("setupCli"),
  onSelect: (cli) => prefs.set("setupCli", cli),
  copy: copyText,
  button,
});

function renderSnippets() {
  const primary = account.primaryHook;
  if (!primary) {
    setup.clear(richText("p", "Create a hook token first (above).", "muted"));
    return;
  }
  setup.render({ url: api.origin, token: primary.token, tokenLabel: primary.label });
}

let streamUser = null;
let signupAttempt = 0;
let revokingAll = false;

function renderAccount() {
  const main = $("main");
  const signedOut = byTestId("signed-out");
  if (account.signedIn) {
    signedOut.hidden = true;
    main.hidden = false;
    renderTokens();
    renderSnippets();
    if (streamUser !== account.userId) {
      if (streamUser !== null) events.clear();
      stream.stop();
      streamUser = account.userId;
      stream.start();
    }
  } else if (account.signedOut) {
    stream.stop();
    streamUser = null;
    character.ack();
    main.hidden = true;
    signedOut.hidden = false;
    $(".signed-out-reason").textContent = SIGN_OUT_REASONS[account.signedOut.reason] || "Signed out.";
    byTestId("hook-token").textContent = "";
  }
}

async function signUpWithRetry() {
  try {
    await account.ensure();
    signupAttempt = 0;
    notice("");
  } catch (err) {
    const wait = Math.max(err.retryAfter * 1000 || 0, SIGNUP_RETRY_MS[Math.min(signupAttempt, SIGNUP_RETRY_MS.length - 1)]);
    signupAttempt += 1;
    notice(`Could not start a session (${err.message}). Trying again in ${Math.round(wait / 1000)} s.`, { sticky: true });
    window.setTimeout(signUpWithRetry, wait);
  }
}

// ----- wiring -----

function wireStatus() {
  const status = byTestId("status");
  stream.addEventListener("state", (e) => {
    status.dataset.state = e.detail;
    $(".status-text", status).textContent = STATUS_TEXT[e.detail];
  });
}

function onAgentEvent(event) {
  if (!EVENT_TYPES.includes(event.type)) event.type = "info";
  events.add(event);
  character.react(event);
  notifier.onEvent(event);
  announce(`${event.type}${event.tool ? ` (${event.tool})` : ""}: ${event.title || "no title"}`);
}

function wireStream() {
  stream.addEventListener("agent", (e) => onAgentEvent(e.detail));
  stream.addEventListener("reset", () => events.addGap("Some events were missed while disconnected."));
  stream.addEventListener("revoked", () => {
    if (!revokingAll) account.signOut("revoked");
  });
}

let progressTool = 0;
function wireTestButtons() {
  for (const btn of document.querySelectorAll('[data-testid="test-event"]')) {
    btn.addEventListener("click", async () => {
      const result = byTestId("test-result");
      const hook = account.primaryHook;
      if (!hook) {
        result.textContent = "Create a hook token first.";
        return;
      }
      const type = btn.dataset.type;
      const body = { type, title: TEST_TITLES[type] };
      if (type === "progress") {
        body.tool = TEST_TOOLS[progressTool++ % TEST_TOOLS.length];
        body.title = `Test: using the ${body.tool} tool`;
      }
      try {
        const data = await api.request("POST", "/api/events", { token: hook.token, body });
        result.textContent = `Sent ${/^[aeiou]/.test(type) ? "an" : "a"} ${type} event (id ${data && data.id}).`;
      } catch (err) {
        result.textContent =
          err.status === 401 ? `The “${hook.label}” token was refused (${err.code}). Use or create another one.` : `Not sent: ${err.message}`;
      }
    });
  }
}

function wireTokens() {
  byTestId("copy-token").addEventListener("click", (e) => {
    const hook = account.primaryHook;
    if (hook) copyText(hook.token, e.currentTarget);
  });
  byTestId("new-token-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const label = form.label.value.trim();
    if (!label) return;
    try {
      await account.createHook(label);
      form.reset();
      announce(`Token “${label}” created.`);
    } catch (err) {
      notice(`Could not create the token: ${err.message}`);
    }
  });
  const confirm = byTestId("revoke-all-confirm");
  byTestId("revoke-all").addEventListener("click", () => {
    confirm.hidden = false;
    byTestId("revoke-all-yes").focus();
  });
  $('[data-action="revoke-all-cancel"]').addEventListener("click", () => {
    confirm.hidden = true;
    byTestId("revoke-all").focus();
  });
  byTestId("revoke-all-yes").addEventListener("click", async (e) => {
    e.currentTarget.disabled = true;
    revokingAll = true;
    try {
      await account.revokeAll();
      confirm.hidden = true;
    } catch (err) {
      notice(`Could not revoke: ${err.message}`);
    } finally {
      revokingAll = false;
      e.currentTarget.disabled = false;
    }
  });
  byTestId("start-again").addEventListener("click", async (e) => {
    e.currentTarget.disabled = true;
    try {
      await account.startAgain();
      $("#tokens-heading").focus();
    } catch (err) {
      notice(`Could not start again: ${err.message}`);
    } finally {
      e.currentTarget.disabled = false;
    }
  });
}

function wirePrefs() {
  const notifications = byTestId("pref-notifications");
  const sound = byTestId("pref-sound");
  const note = $(".prefs-note");
  notifications.checked = notifier.notificationsOn;
  notifications.disabled = !Notifier.supported;
  sound.checked = Boolean(prefs.get("sound"));
  notifications.addEventListener("change", async () => {
    note.textContent = await notifier.setNotifications(notifications.checked);
    notifications.checked = notifier.notificationsOn;
  });
  sound.addEventListener("change", () => notifier.setSound(sound.checked));
}

function start() {
  wireStatus();
  wireStream();
  wireTestButtons();
  wireTokens();
  wirePrefs();
  buildModelSelect();
  account.addEventListener("change", renderAccount);
  showModel();
  signUpWithRetry();
  window.setInterval(() => account.signedIn && renderTokens(), 60000);
}

start();
