// The composition root: builds the page's objects and wires them together; the behaviour lives in
// the modules (one per thing the page holds). Every string from an event or the server is set as text.

import { readConfig } from "./page-config.js";
import { $, byTestId } from "./dom.js";
import { createApi } from "./api.js";
import { Account } from "./account.js";
import { AccountView } from "./account-view.js";
import { keepSigningUp } from "./signup.js";
import { Stream } from "./stream.js";
import { StatusPill } from "./status-pill.js";
import { Character } from "./character.js";
import { ModelPicker } from "./model-picker.js";
import { WaitingBanner } from "./waiting-banner.js";
import { EventsList } from "./events-list.js";
import { Announcer } from "./announcer.js";
import { Notice } from "./notice.js";
import { copyText } from "./clipboard.js";
import { TabTitle } from "./tab-title.js";
import { Notifier } from "./notify.js";
import { Prefs } from "./prefs.js";
import { PrefsPanel } from "./prefs-panel.js";
import { TokensPanel } from "./tokens-panel.js";
import { SnippetsView } from "./snippets-view.js";
import { TestEvents } from "./test-events.js";
import { AgentSessions } from "./agents.js";
import { AgentCards } from "./agent-cards.js";
import { Spotlight } from "./spotlight.js";
import { open as openSealed } from "./seal.js";
import { EVENT_TYPES } from "./reactions.js";
import { ServerList } from "./server-list.js";
import { DevicesPanel } from "./devices-panel.js";
import { PairingView } from "./pairing-view.js";
import { PairingClaim } from "./pairing.js";
import { InstallPanel } from "./install-command.js";
import { Approvals } from "./approvals.js";
import { ApprovalCards } from "./approval-cards.js";
import { ApprovalAlerts } from "./approval-alerts.js";
import { UserKeyPanel } from "./user-key.js";
import { decisionProof } from "./seal.js";
import { CLIS } from "./clis.gen.js";
import { listenForApprovals, registerServiceWorker, showApproval } from "./service-worker.js";
import { PushSwitch } from "./push-switch.js";

const LISTS_REFRESH_MS = 60000; // the lists again (last used, last seen) and the expiry texts
const TOKENS_AFTER_EVENT_MS = 5000; // an agent event means a token was used: its "last used", at most this often
const HOOK_SECRETS_GRACE_MS = 10000; // a secret no list has held yet is kept this long after its minting

const config = readConfig(window.LIVE2D_NOTIFY_CONFIG);
const api = createApi(config.apiBase);
const account = new Account(api);
const stream = new Stream(api, account);
const prefs = new Prefs({ model: config.defaultModel });
const announcer = new Announcer(byTestId("announcer"));
const notice = new Notice(byTestId("notice"));
const copy = (text, button) => copyText(text, button, announcer);
const tabTitle = new TabTitle();
const notifier = new Notifier(prefs, tabTitle);
const events = new EventsList(byTestId("events"), byTestId("events-empty"));

const sessions = new AgentSessions();
const cards = new AgentCards(byTestId("agents"), byTestId("agents-empty"), {
  open: (sealed) => (account.userKey ? openSealed(account.userKey, sealed) : null),
});
sessions.addEventListener("change", () => cards.render(sessions.list));
const character = new Character(byTestId("character"));
const banner = new WaitingBanner(byTestId("waiting-banner"), { onAck: () => spotlight.acknowledge() });
const spotlight = new Spotlight({ sessions, character, banner, tabTitle });
const models = new ModelPicker({
  config,
  prefs,
  character,
  reducedMotion: window.matchMedia("(prefers-reduced-motion: reduce)"),
  elements: { select: byTestId("model-select"), form: byTestId("own-model-form"), note: $(".renderer-note"), stage: byTestId("character") },
});

const tokenList = new ServerList(account, "/api/tokens", "tokens", "token_id");
const deviceList = new ServerList(account, "/api/devices", "devices", "device_id");
const tokens = new TokensPanel($(".tokens-panel"), { account, tokens: tokenList, announcer, notice, copy });
const snippets = new SnippetsView(byTestId("snippets"), { account, origin: api.origin, prefs, copy });
const devices = new DevicesPanel($(".devices-panel"), { account, devices: deviceList, announcer, notice });
const pairingView = new PairingView($(".devices-panel"), { account, announcer, copy });
const install = new InstallPanel($(".install-panel"), {
  account,
  prefs,
  origin: api.origin,
  copy,
  notice,
  announcer,
  deviceLabel: () => {
    const mine = (deviceList.items || []).find((d) => d.device_id === account.deviceId || d.current === true);
    return mine && mine.label ? mine.label : "this device";
  },
});
const pairing = new PairingClaim(
  {
    dialog: byTestId("pair-dialog"),
    heading: $(".pair-heading"),
    ask: $(".pair-ask"),
    switchButton: byTestId("pair-switch"),
    stayButton: byTestId("pair-stay"),
    failed: $(".pair-failed"),
    error: byTestId("pair-error"),
    retry: byTestId("pair-retry"),
    dismiss: byTestId("pair-dismiss"),
  },
  { account, api, notice, announcer },
);
// ----- approvals: permission prompts answered from this page -----
const approvals = new Approvals();
const approvalCards = new ApprovalCards($(".approvals-panel"), byTestId("approval-list"), {
  approvals,
  open: (sealed) => (account.userKey ? openSealed(account.userKey, sealed) : null),
  label: (source) => (CLIS[source] && CLIS[source].label) || source,
  announcer,
  focusAfter: $("#agents-heading"),
  decide: (approval, behavior, message) => {
    const proof = decisionProof(account.userKey, approval.id, behavior, approval.sealed || "", message);
    const body = message ? { behavior, message, proof } : { behavior, proof };
    return account.authed("POST", `/api/approvals/${encodeURIComponent(approval.id)}/decision`, body);
  },
});
new ApprovalAlerts({ approvals, cards: approvalCards, notifier });
new UserKeyPanel($(".user-key"), { account, announcer, notice, after: () => $(".install-list:not([hidden]) pre") || $("#install-heading") });
stream.addEventListener("approval", (e) => approvals.receive(e.detail));
stream.addEventListener("approvals", (e) => approvals.replace(e.detail));
/** The pending approvals again (after a gap in the stream: a change may have been missed). */
function fetchApprovals() {
  const asOf = Date.now();
  account.authed("GET", "/api/approvals").then((data) => data && approvals.replace(data.approvals, asOf), () => {});
}
let shownKey = null;
/** A new user key (or another account's): every sealed detail is opened again with it. */
function keyChanged() {
  if (account.userKey === shownKey) return;
  shownKey = account.userKey;
  cards.forget();
  cards.render(sessions.list);
  approvalCards.rekey(shownKey);
}
// ----- end of approvals -----

tokenList.addEventListener("change", () => {
  if (tokenList.items) {
    account.keepOnlyHooks(tokenList.items.map((t) => t.token_id), tokenList.seen, tokenList.receivedAt, HOOK_SECRETS_GRACE_MS);
  }
  tokens.render();
});
deviceList.addEventListener("change", () => devices.render());
const fetchLists = () => Promise.all([tokenList.fetch(), deviceList.fetch()]);
new AccountView(
  {
    main: $("main"),
    signedOut: byTestId("signed-out"),
    reason: $(".signed-out-reason"),
    startAgain: byTestId("start-again"),
    focusAfterStart: $("#tokens-heading"),
  },
  { account, notice },
  {
    signedIn() {
      if (stream.follow(account.userId && `${account.userId} ${account.state.joinedAt || ""}`)) {
        approvals.clear();
        events.clear();
        cards.forget();
        sessions.clear();
        spotlight.refresh();
        tokenList.clear();
        deviceList.clear();
        devices.clear();
        pairingView.hide();
      }
      keyChanged();
      tokens.render();
      snippets.render();
      devices.render();
      install.render();
    },
    signedOut() {
      stream.follow(null);
      approvals.clear();
      sessions.clear();
      spotlight.refresh();
      tokenList.clear();
      deviceList.clear();
      tokens.clear();
      devices.clear();
      pairingView.hide();
      install.render();
    },
  },
);

new StatusPill(byTestId("status"), stream);
new TestEvents(document.querySelectorAll('[data-testid="test-event"]'), byTestId("test-result"), { api, account });
new PrefsPanel(
  { notifications: byTestId("pref-notifications"), sound: byTestId("pref-sound"), note: $(".prefs-note") },
  { notifier, prefs },
);

let tokensFetchedAt = 0;
let tokensTimer = 0;
/** Fetch the tokens list for its "last used" after an agent event, at most every TOKENS_AFTER_EVENT_MS. */
function tokensUsed() {
  if (tokensTimer) return;
  const wait = Math.max(0, tokensFetchedAt + TOKENS_AFTER_EVENT_MS - Date.now());
  tokensTimer = window.setTimeout(() => {
    tokensTimer = 0;
    tokensFetchedAt = Date.now();
    tokenList.fetch();
  }, wait);
}

// Offline and push (docs/page.md): the service worker once the page has loaded; this device's push switch.
const push = new PushSwitch(
  { toggle: byTestId("push-toggle"), events: [...document.querySelectorAll('[data-testid="push-event"]')], note: byTestId("push-note") },
  { account, api, prefs },
);
if (document.readyState === "complete") registerServiceWorker();
else window.addEventListener("load", () => registerServiceWorker(), { once: true });
listenForApprovals(showApproval);

stream.addEventListener("ready", () => {
  tokensFetchedAt = Date.now();
  fetchLists();
  push.refresh();
});
stream.addEventListener("devices", (e) => deviceList.receive(e.detail));
stream.addEventListener("tokens", (e) => tokenList.receive(e.detail));
stream.addEventListener("agent", (e) => {
  const event = e.detail;
  tokensUsed();
  if (!EVENT_TYPES.includes(event.type)) event.type = "info";
  events.add(event);
  spotlight.onEvent(event, sessions.apply(event));
  notifier.onEvent(event);
  announcer.announce(`${event.type}${event.tool ? ` (${event.tool})` : ""}: ${event.title || "no title"}`);
});
stream.addEventListener("agents", (e) => {
  sessions.replace(e.detail);
  spotlight.refresh();
});
stream.addEventListener("reset", () => {
  events.addGap("Some events were missed while disconnected.");
  fetchLists();
  fetchApprovals();
  // What the gap lost, from the server's per-session snapshot (GET /api/agents; none before it exists).
  account.authed("GET", "/api/agents").then((data) => {
    if (data && Array.isArray(data.agents)) {
      sessions.replace(data.agents);
      spotlight.refresh();
    }
  }, () => {});
});
stream.addEventListener("revoked", () => account.revokedByServer());

models.build();
models.show({ atStart: true });
// A pairing link is claimed before this browser would sign up on its own.
pairing.begin().finally(() => keepSigningUp(account, notice));
window.addEventListener("hashchange", () => pairing.begin());
window.setInterval(() => {
  if (!account.signedIn) return;
  tokens.render();
  if (!document.hidden && stream.state === "live") fetchLists();
}, LISTS_REFRESH_MS);
