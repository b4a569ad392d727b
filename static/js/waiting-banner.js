// The waiting banner: "your agent is waiting for you", hard to miss, until the person says "Got it"
// (the button or Escape) or what it waits for moves on.

export class WaitingBanner {
  /** @param el the banner; `onAck()` runs when the person acknowledges it. */
  constructor(el, { onAck }) {
    this.el = el;
    this.title = el.querySelector(".waiting-title");
    el.querySelector('[data-action="ack-waiting"]').addEventListener("click", () => onAck());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.shown) onAck();
    });
  }

  get shown() {
    return !this.el.hidden;
  }

  show(line) {
    this.el.hidden = false;
    this.title.textContent = line;
    document.body.classList.add("is-waiting");
  }

  hide() {
    this.el.hidden = true;
    this.title.textContent = "";
    document.body.classList.remove("is-waiting");
  }
}
