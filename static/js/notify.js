// Telling the person about events while the tab is hidden: desktop notifications, a short beep,
// and an unread count for the tab title. Permission is only ever asked from a click.

const NOTIFY_TYPES = new Set(["success", "error", "waiting"]);
const TYPE_PREFIX = { success: "Done", error: "Error", waiting: "Waiting for you" };
const BEEPS = { success: [[880, 0.12], [1320, 0.18]], error: [[330, 0.25], [247, 0.3]], waiting: [[988, 0.15], [988, 0.15], [1319, 0.3]] };

export class Notifier {
  /** @param tabTitle shows the unread count (`setUnread(n)`). */
  constructor(prefs, tabTitle) {
    this.prefs = prefs;
    this.tabTitle = tabTitle;
    this.unread = 0;
    this.audio = null;
    this.open = new Set();
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this._seen();
    });
    // Browsers only start audio after a gesture: prepare it on the first one if sound is on.
    document.addEventListener("pointerdown", () => this.prefs.get("sound") && this._audio(), { once: true });
  }

  static get supported() {
    return "Notification" in window;
  }

  /** Notifications are on when the person said so, or (unset) when permission is already granted. */
  get notificationsOn() {
    if (!Notifier.supported || window.Notification.permission !== "granted") return false;
    const pref = this.prefs.get("notifications");
    return pref === null ? true : Boolean(pref);
  }

  /** From a click: turn notifications on (asking for permission if needed) or off. Returns a note. */
  async setNotifications(on) {
    if (!on) {
      this.prefs.set("notifications", false);
      return "";
    }
    if (!Notifier.supported) return "This browser has no desktop notifications.";
    let permission = window.Notification.permission;
    if (permission === "default") permission = await window.Notification.requestPermission();
    this.prefs.set("notifications", permission === "granted");
    if (permission === "denied") return "Notifications are blocked for this site in the browser's settings.";
    return permission === "granted" ? "" : "Notifications were not allowed.";
  }

  /** From a click: turn the sound on or off (and unlock audio while we have a gesture). */
  setSound(on) {
    this.prefs.set("sound", on);
    if (on) this._beep("success");
  }

  /** The short sound for `type`, when the person turned sound on. */
  playSound(type) {
    if (this.prefs.get("sound")) this._beep(type);
  }

  /** An event arrived. */
  onEvent(event) {
    if (!document.hidden) return;
    this.unread += 1;
    this.tabTitle.setUnread(this.unread);
    if (!NOTIFY_TYPES.has(event.type) || event.approval_id) return; // an approval alerts by itself (approval-alerts.js)
    if (this.notificationsOn) this._notify(event);
    if (this.prefs.get("sound")) this._beep(event.type);
  }

  _notify(event) {
    const title = `${TYPE_PREFIX[event.type]}: ${event.title || event.source || "your agent"}`.slice(0, 120);
    const details = [event.message, event.source, event.tool].filter(Boolean).join(" · ");
    try {
      const note = new window.Notification(title, {
        body: details.slice(0, 200),
        tag: `live2d-notify-${event.type}`,
        requireInteraction: event.type === "waiting",
      });
      this.open.add(note);
      note.onclick = () => {
        window.focus();
        note.close();
      };
      note.onclose = () => this.open.delete(note);
    } catch {
      // Some platforms only allow notifications from a service worker; the title count remains.
    }
  }

  _seen() {
    this.unread = 0;
    this.tabTitle.setUnread(0);
    for (const note of this.open) note.close();
    this.open.clear();
  }

  _audio() {
    if (!this.audio) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      this.audio = new Context();
    }
    if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    return this.audio;
  }

  _beep(type) {
    const ctx = this._audio();
    if (!ctx) return;
    let at = ctx.currentTime + 0.02;
    for (const [freq, length] of BEEPS[type] || BEEPS.success) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + length + 0.02);
      at += length + 0.04;
    }
  }
}
