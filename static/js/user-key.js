// "Make a new user key": the remedy for a leaked key (SECURITY.md). The confirmation says what follows:
// details sealed with the old key show "details hidden", every hook must be installed again with the new
// key, and other devices keep the old one until they open a new pairing link.

import { byTestId } from "./dom.js";

export class UserKeyPanel {
  /** @param root the element holding the button and its confirmation; `after` takes the focus once done */
  constructor(root, { account, announcer, notice, after }) {
    this.account = account;
    const ask = byTestId("new-user-key", root);
    const confirm = byTestId("new-user-key-confirm", root);
    const yes = byTestId("new-user-key-yes", root);
    const cancel = byTestId("new-user-key-cancel", root);
    ask.addEventListener("click", () => {
      confirm.hidden = false;
      cancel.focus();
    });
    cancel.addEventListener("click", () => {
      confirm.hidden = true;
      ask.focus();
    });
    yes.addEventListener("click", () => {
      if (!account.renewUserKey()) return;
      confirm.hidden = true;
      notice.show(
        "This browser has a new user key. Run the install command again on each computer with a hook, and open a " +
          "new pairing link (Add a device) on your other devices.",
        { sticky: true },
      );
      announcer.announce("A new user key was made.");
      const target = after();
      if (target) target.focus();
    });
  }
}
