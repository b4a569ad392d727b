// The fallback character: an SVG drawn in index.html, posed with data attributes (see page.css).
// Used when WebGL or the Live2D model is unavailable; it plays the same reactions.

const WAITING_REPEAT_MS = 15000; // replay the waiting motion this often while it is unanswered

export class FallbackRenderer {
  constructor(el) {
    this.kind = "fallback";
    this.el = el;
    this.waiting = false;
    this._timer = 0;
    el.hidden = false;
    el.dataset.pose = "idle";
    el.dataset.tool = "";
  }

  play(reaction) {
    this.el.dataset.pose = reaction.type;
    this.el.dataset.tool = reaction.tool || "";
    this._animate();
  }

  /** (Re)start the pose's CSS animation, even when the same pose plays twice in a row. */
  _animate() {
    this.el.classList.remove("animate");
    void this.el.getBoundingClientRect();
    this.el.classList.add("animate");
  }

  rest() {
    this.el.dataset.pose = this.waiting ? "waiting" : "idle";
    this.el.dataset.tool = "";
  }

  setWaiting(on) {
    this.waiting = on;
    window.clearInterval(this._timer);
    if (on) {
      this._timer = window.setInterval(() => {
        if (!document.hidden && this.el.dataset.pose === "waiting") this._animate();
      }, WAITING_REPEAT_MS);
    } else if (this.el.dataset.pose === "waiting") {
      this.rest();
    }
  }

  destroy() {
    window.clearInterval(this._timer);
    this.el.hidden = true;
  }
}
