// "When this tab is in the background": the desktop-notification and sound check boxes.

import { Notifier } from "./notify.js";

export class PrefsPanel {
  constructor({ notifications, sound, note }, { notifier, prefs }) {
    notifications.checked = notifier.notificationsOn;
    notifications.disabled = !Notifier.supported;
    sound.checked = Boolean(prefs.get("sound"));
    notifications.addEventListener("change", async () => {
      note.textContent = await notifier.setNotifications(notifications.checked);
      notifications.checked = notifier.notificationsOn;
    });
    sound.addEventListener("change", () => notifier.setSound(sound.checked));
  }
}
