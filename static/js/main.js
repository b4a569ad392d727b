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

const TOKENS_REFRESH_MS = 60000; // the expiry texts ("expires in 29 days")

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

const tokens = new TokensPanel($(".tokens-panel"), { account, announcer, notice, copy });
const snippets = new SnippetsView(byTestId("snippets"), { account, origin: api.origin, prefs, copy });
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
      tokens.render();
      snippets.render();
      if (stream.follow(account.userId)) {
        events.clear();
        cards.forget();
        sessions.clear();
        spotlight.refresh();
      }
    },
    signedOut() {
      stream.follow(null);
      sessions.clear();
      spotlight.refresh();
      tokens.clear();
    },
  },
);

new StatusPill(byTestId("status"), stream);
new TestEvents(document.querySelectorAll('[data-testid="test-event"]'), byTestId("test-result"), { api, account });
new PrefsPanel(
  { notifications: byTestId("pref-notifications"), sound: byTestId("pref-sound"), note: $(".prefs-note") },
  { notifier, prefs },
);

stream.addEventListener("agent", (e) => {
  const event = e.detail;
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
models.show();
keepSigningUp(account, notice);
window.setInterval(() => account.signedIn && tokens.render(), TOKENS_REFRESH_MS);
