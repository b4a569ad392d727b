// The devices panel: every browser on this account (GET /api/devices, kept live by `event: devices`),
// each with Rename (inline) and Remove (with a confirmation; removing this browser signs it out).
// Items are kept per device and updated in place, so an open rename or confirmation survives a new list.

import { byTestId, smallButton, textSpan } from "./dom.js";
import { relativeTime } from "./relative-time.js";

const LABEL_MAX = 64;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export class DevicesPanel {
  /** @param root the panel; `devices` the server's list (ServerList of GET /api/devices). */
  constructor(root, { account, devices, announcer, notice }) {
    this.root = root;
    this.list = byTestId("devices", root);
    this.empty = root.querySelector(".devices-empty");
    this.account = account;
    this.devices = devices;
    this.announcer = announcer;
    this.notice = notice;
    this._items = new Map(); // device id -> { li, device }
  }

  render() {
    const { account } = this;
    const listed = account.signedIn && this.devices.items ? this.devices.items : [];
    for (const device of listed) if (device.current === true) account.learnDevice(device.device_id);
    const mine = account.deviceId;
    const devices = listed
      .filter((d) => typeof d.device_id === "string" && d.device_id)
      .map((d) => ({ ...d, current: d.device_id === mine || (!mine && d.current === true) }))
      .sort((a, b) => Number(b.current) - Number(a.current));
    const seen = new Set();
    const items = devices.map((device) => {
      seen.add(device.device_id);
      let item = this._items.get(device.device_id);
      if (!item) {
        item = this._item(device.device_id);
        this._items.set(device.device_id, item);
      }
      item.device = device;
      this._fill(item);
      return item.li;
    });
    for (const [id, item] of this._items) {
      if (!seen.has(id)) {
        item.li.remove();
        this._items.delete(id);
      }
    }
    items.forEach((li, i) => {
      if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] || null);
    });
    this.empty.hidden = items.length > 0 || !account.signedIn || !this.devices.items;
  }

  clear() {
    this._items.clear();
    this.list.replaceChildren();
  }

  _item(id) {
    const li = document.createElement("li");
    li.className = "device";
    li.dataset.testid = "device";
    li.dataset.deviceId = id;
    const item = { li, device: null };

    const main = document.createElement("div");
    main.className = "device-main";
    const name = document.createElement("p");
    name.className = "device-name";
    name.append(textSpan("device-label", ""), textSpan("badge device-current", "this device"));
    main.append(name, textSpan("muted device-facts", ""));

    const rename = smallButton("Rename", "", () => this._openRename(item));
    rename.dataset.testid = "device-rename";
    const remove = smallButton("Remove", "", () => this._openConfirm(item), "btn-danger");
    remove.dataset.testid = "device-remove";
    const actions = document.createElement("div");
    actions.className = "device-actions";
    actions.append(rename, remove);

    li.append(main, actions, this._renameForm(item), this._confirm(item));
    Object.assign(item, { rename, remove });
    return item;
  }

  _fill(item) {
    const { li, device } = item;
    const label = this._label(device);
    li.dataset.current = String(device.current);
    li.classList.toggle("device-is-current", device.current);
    li.querySelector(".device-label").textContent = label;
    li.querySelector(".device-current").hidden = !device.current;
    const facts = [];
    if (device.created_at) facts.push(`added ${relativeTime(device.created_at)}`);
    if (device.last_seen_at) facts.push(`seen ${relativeTime(device.last_seen_at)}`);
    li.querySelector(".device-facts").textContent = facts.join(" · ");
    item.rename.setAttribute("aria-label", `Rename “${label}”`);
    item.remove.setAttribute("aria-label", device.current ? `Remove “${label}” (this browser: signs it out)` : `Remove “${label}”`);
    item.confirmText.textContent = device.current
      ? `Remove “${label}”? That is this browser: it signs out at once and no longer sees your agents.`
      : `Remove “${label}”? Its page signs out at once and its session stops working.`;
  }

  _label(device) {
    return (typeof device.label === "string" && device.label) || "Unnamed device";
  }

  // ----- rename -----

  _renameForm(item) {
    const form = document.createElement("form");
    form.className = "device-rename-form";
    form.hidden = true;
    const field = document.createElement("label");
    field.className = "field";
    const caption = document.createElement("span");
    caption.textContent = "New name";
    const input = document.createElement("input");
    input.name = "label";
    input.maxLength = LABEL_MAX;
    input.autocomplete = "off";
    input.required = true;
    input.dataset.testid = "device-rename-input";
    field.append(caption, input);
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "btn btn-small";
    save.textContent = "Save";
    save.dataset.testid = "device-rename-save";
    const cancel = smallButton("Cancel", "Cancel renaming", () => this._closeRename(item, true));
    const error = document.createElement("p");
    error.className = "form-error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    form.append(field, save, cancel, error);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this._saveRename(item);
    });
    form.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this._closeRename(item, true);
      }
    });
    Object.assign(item, { form, input, renameError: error });
    return form;
  }

  _openRename(item) {
    this._closeConfirm(item, false);
    item.input.value = this._label(item.device);
    item.renameError.hidden = true;
    item.form.hidden = false;
    item.input.focus();
    item.input.select();
  }

  _closeRename(item, focus) {
    item.form.hidden = true;
    if (focus) item.rename.focus();
  }

  async _saveRename(item) {
    const label = item.input.value.trim();
    const say = (text) => {
      item.renameError.textContent = text;
      item.renameError.hidden = !text;
    };
    if (!label || label.length > LABEL_MAX || CONTROL.test(label)) {
      say(`A name has 1 to ${LABEL_MAX} characters and no control characters.`);
      return;
    }
    const id = item.device.device_id;
    try {
      const device = await this.account.authed("PATCH", `/api/devices/${encodeURIComponent(id)}`, { label });
      const saved = (device && typeof device.label === "string" && device.label) || label;
      if (this.devices.items) {
        this.devices.items = this.devices.items.map((d) => (d.device_id === id ? { ...d, label: saved } : d));
        this.render();
      }
      this._closeRename(item, true);
      this.announcer.announce(`Device renamed to “${saved}”.`);
    } catch (err) {
      say(err.status === 422 ? `The server refused that name: ${err.message}` : `Could not rename: ${err.message}`);
    }
  }

  // ----- remove -----

  _confirm(item) {
    const box = document.createElement("div");
    box.className = "confirm device-confirm";
    box.hidden = true;
    const text = document.createElement("p");
    const yes = smallButton("Yes, remove", "", () => this._remove(item), "btn-danger");
    yes.dataset.testid = "device-remove-yes";
    const cancel = smallButton("Cancel", "Keep this device", () => this._closeConfirm(item, true));
    box.append(text, yes, cancel);
    box.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this._closeConfirm(item, true);
      }
    });
    Object.assign(item, { confirmBox: box, confirmText: text, yes });
    return box;
  }

  _openConfirm(item) {
    this._closeRename(item, false);
    item.yes.setAttribute("aria-label", `Yes, remove “${this._label(item.device)}”`);
    item.confirmBox.hidden = false;
    item.yes.focus();
  }

  _closeConfirm(item, focus) {
    item.confirmBox.hidden = true;
    if (focus) item.remove.focus();
  }

  async _remove(item) {
    const { device } = item;
    const label = this._label(device);
    item.yes.disabled = true;
    try {
      await this.account.removeDevice(device.device_id);
      if (!this.account.signedIn) return; // this browser: signed out
      this.devices.drop((d) => d.device_id === device.device_id);
      this.announcer.announce(`“${label}” removed; it is signed out.`);
      byTestId("add-device", this.root).focus();
    } catch (err) {
      this.notice.show(`Could not remove the device: ${err.message}`);
    } finally {
      item.yes.disabled = false;
    }
  }
}
