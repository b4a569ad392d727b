// The set-up panel filled in for this person: the hook token in use and this server's address.

import { smallButton } from "./dom.js";
import { SetupPanel, richText } from "./setup.js";

export class SnippetsView {
  constructor(box, { account, origin, prefs, copy }) {
    this.account = account;
    this.origin = origin;
    this.panel = new SetupPanel(box, {
      selected: prefs.get("setupCli"),
      onSelect: (cli) => prefs.set("setupCli", cli),
      copy,
      button: smallButton,
    });
  }

  render() {
    const primary = this.account.primaryHook;
    if (!primary) {
      this.panel.clear(richText("p", "Create a hook token first (above).", "muted"));
      return;
    }
    this.panel.render({ url: this.origin, token: primary.token, tokenLabel: primary.label });
  }
}
