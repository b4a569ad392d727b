// The waiting banner: "your agent is waiting for you", hard to miss, for as long as a session waits
// and the person has not said "Got it" (the button or Escape). Several sessions waiting: it says so.

const TITLES_SHOWN = 3;

export class WaitingBanner {
  /** @param el the banner; `onAck()` runs when the person acknowledges it. */
  constructor(el, { onAck }) {
    this.el = el;
    this.heading = el.querySelector(".waiting-heading");
    this.title = el.querySelector(".waiting-title");
    el.querySelector('[data-action="ack-waiting"]').addEventListener("click", () => onAck());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.shown) onAck();
    });
  }

  get shown() {
    return !this.el.hidden;
  }

  /** Show the sessions that wait (AgentSessions.waiting, newest first); none hides the banner. */
  update(waiting) {
    const count = waiting.length;
    this.el.hidden = count === 0;
    this.el.dataset.count = String(count);
    document.body.classList.toggle("is-waiting", count > 0);
    if (count === 0) {
      this.title.textContent = "";
      return;
    }
    if (count === 1) {
      this.heading.textContent = "Your agent is waiting for you.";
      this.title.textContent = waiting[0].title || "I need you!";
      return;
    }
    this.heading.textContent = `${count} agents are waiting for you.`;
    const lines = waiting.slice(0, TITLES_SHOWN).map((e) => `${e.source}: ${e.title || "I need you!"}`);
    if (count > TITLES_SHOWN) lines.push(`and ${count - TITLES_SHOWN} more`);
    this.title.textContent = lines.join(" · ");
  }
}
