// "Notify this device even when the page is closed": Web Push for this device (docs/page.md).
//
// The switch shows what the server holds for this device (GET /api/push-subscriptions). Turning it on,
// from a click only, asks for notification permission, subscribes with the server's VAPID key and posts
// the subscription with the chosen events; turning it off deletes both. While it is on, the service
// worker gets what it needs in IndexedDB (js/sw-state.js) and the page tells the server when it is in
// view (PUT /api/presence), since a device looking at its page gets no push.

import { fromBase64Url } from "./seal.js";
import { readyRegistration, serviceWorkerSupported } from "./service-worker.js";
import { clearPushState, writePushState } from "./sw-state.js";

const KINDS = ["waiting", "approval", "success", "error"];
const DEFAULT_KINDS = ["waiting", "approval"];
const PRESENCE_EVERY_MS = 30000;

export const pushSupported = serviceWorkerSupported && "PushManager" in window && "Notification" in window;

export class PushSwitch {
  /** @param elements { toggle, events (the check boxes, data-kind), note } */
  constructor(elements, { account, api, prefs }) {
    this.el = elements;
    this.account = account;
    this.api = api;
    this.prefs = prefs;
    this.subscription = null; // the server's record for this device, or null
    this.busy = false;
    this._presenceTimer = 0;
    this._sentVisible = null;

    const chosen = new Set(prefs.get("pushEvents") || DEFAULT_KINDS);
    for (const box of elements.events) box.checked = chosen.has(box.dataset.kind);
    if (!pushSupported) {
      elements.toggle.disabled = true;
      for (const box of elements.events) box.disabled = true;
      this._say(
        window.isSecureContext
          ? "This browser cannot receive push notifications (on an iPhone or iPad: add this page to the Home Screen first)."
          : "Push notifications need this page over https.",
      );
      return;
    }
    elements.toggle.addEventListener("change", () => this._toggled());
    for (const box of elements.events) box.addEventListener("change", () => this._eventsChanged());
    document.addEventListener("visibilitychange", () => this._presence());
    window.addEventListener("pagehide", () => this._presence(false));
    account.addEventListener("change", () => this._accountChanged());
  }

  /** The chosen kinds, in the server's order. */
  get events() {
    return KINDS.filter((kind) => this.el.events.some((box) => box.dataset.kind === kind && box.checked));
  }

  _say(text) {
    this.el.note.textContent = text;
  }

  _show() {
    this.el.toggle.checked = Boolean(this.subscription);
    this.el.toggle.setAttribute("aria-checked", String(Boolean(this.subscription)));
  }

  /** Fetch this device's subscription from the server (on every stream `ready`). */
  async refresh() {
    if (!pushSupported || !this.account.signedIn || this.busy) return;
    try {
      const data = await this.account.authed("GET", "/api/push-subscriptions");
      this.subscription = (data && data.subscriptions && data.subscriptions[0]) || null;
    } catch (err) {
      if (err.status === 503) this._say("Push notifications are not available on this server.");
      return;
    }
    if (this.subscription) {
      for (const box of this.el.events) box.checked = this.subscription.events.includes(box.dataset.kind);
      await this._keepState();
    } else {
      await clearPushState();
    }
    this._show();
    this._presence();
  }

  async _toggled() {
    if (this.busy) return;
    this.busy = true;
    this.el.toggle.disabled = true;
    try {
      if (this.el.toggle.checked) await this._subscribe();
      else await this._unsubscribe();
    } catch (err) {
      this._say(`Could not change push notifications: ${err.message}`);
    } finally {
      this.busy = false;
      this.el.toggle.disabled = false;
      this._show();
      this._presence();
    }
  }

  async _subscribe() {
    if (!this.events.length) {
      this._say("Choose at least one kind of event first.");
      return;
    }
    let permission = Notification.permission;
    if (permission === "default") permission = await Notification.requestPermission(); // from this click
    if (permission !== "granted") {
      this._say(permission === "denied" ? "Notifications are blocked for this site in the browser's settings." : "Notifications were not allowed.");
      return;
    }
    const registration = await readyRegistration();
    if (!registration) throw new Error("no service worker");
    const { public_key: publicKey } = await this.api.request("GET", "/api/push/key");
    const key = fromBase64Url(publicKey);
    let browserSub = await registration.pushManager.getSubscription();
    if (browserSub && !sameKey(browserSub.options && browserSub.options.applicationServerKey, key)) {
      await browserSub.unsubscribe(); // made for another server's key
      browserSub = null;
    }
    browserSub = browserSub || (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
    await this._keepState(); // before the first push can arrive
    const made = await this.account.authed("POST", "/api/push-subscriptions", { ...browserSub.toJSON(), events: this.events });
    this.subscription = { subscription_id: made.subscription_id, events: this.events };
    this._say("This device gets a notification even when the page is closed.");
  }

  async _unsubscribe() {
    const record = this.subscription;
    this.subscription = null;
    await clearPushState();
    if (record) await this.account.authed("DELETE", `/api/push-subscriptions/${encodeURIComponent(record.subscription_id)}`);
    const registration = await readyRegistration();
    const browserSub = registration && (await registration.pushManager.getSubscription());
    if (browserSub) await browserSub.unsubscribe().catch(() => {});
    this._say("");
  }

  async _eventsChanged() {
    this.prefs.set("pushEvents", this.events);
    if (!this.subscription || this.busy) return;
    if (!this.events.length) {
      this._say("Choose at least one kind of event, or turn notifications off.");
      return;
    }
    this.busy = true;
    try {
      const registration = await readyRegistration();
      const browserSub = registration && (await registration.pushManager.getSubscription());
      if (!browserSub) throw new Error("this browser's subscription is gone; turn the switch off and on");
      const made = await this.account.authed("POST", "/api/push-subscriptions", { ...browserSub.toJSON(), events: this.events });
      this.subscription = { subscription_id: made.subscription_id, events: this.events };
      this._say("Saved.");
    } catch (err) {
      this._say(`Could not save the choice: ${err.message}`);
    } finally {
      this.busy = false;
    }
  }

  /** What the service worker needs, kept in step with the account (a refreshed session, a new key). */
  async _keepState() {
    const { account } = this;
    if (!account.signedIn || !account.userKey) return;
    await writePushState({
      apiBase: this.api.base,
      session: account.state.session.token,
      userKey: account.userKey,
      deviceId: account.deviceId,
    });
  }

  _accountChanged() {
    if (!this.account.signedIn) {
      this.subscription = null;
      this._show();
      this._stopPresence();
      clearPushState();
      return;
    }
    if (this.subscription) this._keepState().catch(() => {});
  }

  _stopPresence() {
    window.clearInterval(this._presenceTimer);
    this._presenceTimer = 0;
    this._sentVisible = null;
  }

  /** Tell the server whether this device's page is in view (only while this device takes pushes). */
  _presence(visible = !document.hidden) {
    if (!this.subscription || !this.account.signedIn) {
      this._stopPresence();
      return;
    }
    window.clearInterval(this._presenceTimer);
    this._presenceTimer = visible ? window.setInterval(() => this._sendPresence(true), PRESENCE_EVERY_MS) : 0;
    if (visible !== this._sentVisible) this._sendPresence(visible);
  }

  /** One report at a time, in order: a later "hidden" must never be overtaken by an earlier "visible". */
  _sendPresence(visible) {
    this._sentVisible = visible;
    this._presenceSent = (this._presenceSent || Promise.resolve()).then(() =>
      this.account.authed("PUT", "/api/presence", { visible }).catch(() => {
        this._sentVisible = null;
      }),
    );
  }
}

function sameKey(a, b) {
  if (!a) return false;
  const bytes = new Uint8Array(a);
  return bytes.length === b.length && bytes.every((x, i) => x === b[i]);
}
