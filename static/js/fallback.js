// The fallback character: an SVG drawn in index.html, posed with data attributes (see page.css).
// Used when WebGL or the Live2D model is unavailable; it plays the same reactions.

export class FallbackRenderer {
  constructor(el) {
    this.kind = "fallback";
    this.el = el;
    this.waiting = false;
    el.hidden = false;
    el.dataset.pose = "idle";
    el.dataset.tool = "";
  }

  play(reaction) {
    this.el.dataset.pose = reaction.type;
    this.el.dataset.tool = reaction.tool || "";
    // Restart the CSS animation even when the same pose plays twice in a row.
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
    if (!on && this.el.dataset.pose === "waiting") this.rest();
  }

  destroy() {
    this.el.hidden = true;
  }
}
