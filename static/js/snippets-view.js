// The set-up panel filled in for this person: the hook token in use and this server's address.

import { smallButton } from "./dom.js";
import { SetupPanel, richText } from "./setup.js";

export class SnippetsView {
  constructor(box, { account, origin, prefs, copy }) {
    this.account = account;
    this.origin = origin;
    this.shown = undefined; // what the panel holds: the origin, token and label it was filled in for, or null
    this.panel = new SetupPanel(box, {
      selected: prefs.get("setupCli"),
      onSelect: (cli) => prefs.set("setupCli", cli),
      copy,
      button: smallButton,
    });
  }

  /** Fill the panel in for the account as it is; a render that would write the same text writes nothing
   * (the account changes many times as the page starts, and the seven CLIs' blocks are its largest build). */
  render() {
    const primary = this.account.primaryHook;
    const shown = primary ? [this.origin, primary.token, primary.label].join("\n") : null;
    if (shown === this.shown) return; // (undefined at first: never a string or null)
    this.shown = shown;
    if (!primary) {
      this.panel.clear(richText("p", "Create a hook token first (above).", "muted"));
      return;
    }
    this.panel.render({ url: this.origin, token: primary.token, tokenLabel: primary.label });
  }
}
