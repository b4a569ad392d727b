// The tab's title: what the most urgent agent session is doing, the count of events that arrived
// while the tab was hidden, then the page's own title: "(2) Waiting for you · live2d-notify".

export class TabTitle {
  constructor(doc = document) {
    this.doc = doc;
    this.base = doc.title;
    this.unread = 0;
    this.status = "";
  }

  setUnread(count) {
    this.unread = count;
    this._render();
  }

  /** "" for none. */
  setStatus(text) {
    this.status = text;
    this._render();
  }

  _render() {
    const count = this.unread ? `(${this.unread}) ` : "";
    const status = this.status ? `${this.status} · ` : "";
    this.doc.title = `${count}${status}${this.base}`;
  }
}
