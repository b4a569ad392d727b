// The person's preferences, kept in localStorage: model, sound, notifications, own model URL.

const STORAGE_KEY = "live2d-notify:prefs";

export class Prefs extends EventTarget {
  constructor(defaults) {
    super();
    this.defaults = { model: defaults.model, sound: false, notifications: null, customModelUrl: "" };
    let stored = {};
    try {
      stored = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "{}") || {};
    } catch {
      stored = {};
    }
    this.values = { ...this.defaults, ...stored };
  }

  get(name) {
    return this.values[name];
  }

  set(name, value) {
    this.values[name] = value;
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(this.values));
    } catch {
      // Storage unavailable: the preference lasts until reload.
    }
    this.dispatchEvent(new CustomEvent("change", { detail: { name, value } }));
  }
}
