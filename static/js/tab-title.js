// The tab's title: the page's own, with the count of events that arrived while the tab was hidden.

export class TabTitle {
  constructor(doc = document) {
    this.doc = doc;
    this.base = doc.title;
    this.unread = 0;
  }

  setUnread(count) {
    this.unread = count;
    this._render();
  }

  _render() {
    this.doc.title = this.unread ? `(${this.unread}) ${this.base}` : this.base;
  }
}
