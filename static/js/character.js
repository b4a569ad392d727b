// The character on stage: turns events into reactions, paced so bursts stay readable.
//
// Pacing rules: each reaction shows for at least MIN_SHOW_MS before the next replaces it; an
// important one (success, error, waiting) cuts a lesser one short and clears stale lesser ones from
// the queue; lesser ones coalesce (only the newest waits); identical ones merge with a count.
// Important reactions are never dropped. Which events it acts out, and whether it holds the waiting
// pose, is decided outside (spotlight.js): the waiting pose and bubble stay until `setWaiting(false)`.

import { reactionFor } from "./reactions.js";
import { FallbackRenderer } from "./fallback.js";

const DWELL_MS = 5000; // how long a reaction's pose and mood hold when nothing follows
const MIN_SHOW_MS = 600; // the least a reaction shows before the next one takes over
const CUT_SHORT_MS = 250; // ... before an important one replaces a lesser one
const BUBBLE_MS = 6000; // the speech bubble outlives the dwell

export class Character {
  constructor(root) {
    this.root = root;
    this.bubble = root.querySelector(".bubble");
    this.renderer = null;
    this.queue = [];
    this.current = null;
    this.waiting = false;
    this._timer = 0;
    this._bubbleTimer = 0;
    this._loadToken = 0;
  }

  /** Show a model with `loadLive2D` (returns a renderer), or the fallback when that fails. Until the
   * first model is on stage the fallback stands in (and acts), so the page never shows an empty stage;
   * `data-renderer` says "loading" meanwhile. */
  async show(loadLive2D) {
    const token = ++this._loadToken;
    if (!this.renderer) this._setRenderer(new FallbackRenderer(this.root.querySelector(".fallback")));
    this.root.dataset.renderer = "loading";
    let renderer = null;
    let problem = null;
    try {
      renderer = await loadLive2D();
    } catch (err) {
      problem = err;
    }
    if (token !== this._loadToken) {
      if (renderer) renderer.destroy();
      return null;
    }
    if (!renderer) {
      if (this.renderer && this.renderer.kind === "fallback") {
        this.root.dataset.renderer = "fallback"; // the stand-in stays
        return problem;
      }
      renderer = new FallbackRenderer(this.root.querySelector(".fallback"));
    }
    this._setRenderer(renderer);
    return problem;
  }

  _setRenderer(renderer) {
    if (this.renderer && this.renderer !== renderer) this.renderer.destroy();
    this.renderer = renderer;
    this.root.dataset.renderer = renderer.kind;
    if (renderer.activate) renderer.activate();
    if (renderer.onFailure) {
      renderer.onFailure(() => {
        if (this.renderer === renderer) this._setRenderer(new FallbackRenderer(this.root.querySelector(".fallback")));
      });
    }
    if (this.waiting) renderer.setWaiting(true);
    if (this.current) renderer.play(this.current);
  }

  /** React to an agent event (already de-duplicated by the stream). */
  react(event) {
    const reaction = reactionFor(event);
    const last = this.queue[this.queue.length - 1];
    if (last && last.type === reaction.type && last.tool === reaction.tool) {
      this.queue[this.queue.length - 1] = { ...reaction, count: last.count + 1 };
    } else if (reaction.important) {
      this.queue = this.queue.filter((r) => r.important);
      this.queue.push(reaction);
    } else if (last && !last.important) {
      this.queue[this.queue.length - 1] = reaction; // lesser ones coalesce: the newest wins
    } else {
      this.queue.push(reaction);
    }
    this._pump();
  }

  _pump() {
    window.clearTimeout(this._timer);
    const next = this.queue[0];
    if (!next) return;
    const now = performance.now();
    let freeAt = 0;
    if (this.current) {
      const cut = next.important && !this.current.important ? CUT_SHORT_MS : MIN_SHOW_MS;
      freeAt = this.current.startedAt + cut;
    }
    if (now < freeAt) {
      this._timer = window.setTimeout(() => this._pump(), freeAt - now);
      return;
    }
    this.queue.shift();
    this._play(next, now);
  }

  _play(reaction, now) {
    const dwell = DWELL_MS;
    this.current = { ...reaction, startedAt: now };
    this.root.dataset.reaction = reaction.type;
    this.root.dataset.tool = reaction.tool || "";
    if (this.renderer) this.renderer.play(reaction);
    this._say(reaction);
    this._timer = window.setTimeout(() => this._settle(), dwell);
  }

  /** The dwell ended: play what is queued, or rest. */
  _settle() {
    if (this.queue.length) {
      this._pump();
      return;
    }
    this.current = null;
    if (this.renderer && !this.waiting) this.renderer.rest();
  }

  _say(reaction) {
    window.clearTimeout(this._bubbleTimer);
    this.bubble.textContent = reaction.count > 1 ? `${reaction.line} (×${reaction.count})` : reaction.line;
    this.bubble.dataset.type = reaction.type;
    this.bubble.hidden = false;
    if (reaction.type !== "waiting") {
      this._bubbleTimer = window.setTimeout(() => {
        if (!this.waiting) this.bubble.hidden = true;
      }, BUBBLE_MS);
    }
  }

  /** Hold the waiting pose (and its bubble) while some agent waits for the person, or let it go. */
  setWaiting(on) {
    if (on === this.waiting) return;
    this.waiting = on;
    this.root.dataset.waiting = on ? "true" : "false";
    if (this.renderer) this.renderer.setWaiting(on);
    if (on) return;
    if (this.bubble.dataset.type === "waiting") this.bubble.hidden = true;
    if (this.renderer && !this.current) this.renderer.rest();
  }
}
