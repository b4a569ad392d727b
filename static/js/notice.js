// The notice line under the header: a problem to tell the person, gone after 8 s unless sticky.

const NOTICE_MS = 8000;

export class Notice {
  constructor(el) {
    this.el = el;
    this._timer = 0;
  }

  /** Show `text` ("" hides the notice). */
  show(text, { sticky = false } = {}) {
    window.clearTimeout(this._timer);
    this.el.textContent = text;
    this.el.hidden = !text;
    if (text && !sticky) this._timer = window.setTimeout(() => (this.el.hidden = true), NOTICE_MS);
  }
}
