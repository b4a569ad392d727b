// The "Send a test event" buttons: post to /api/events with the hook token in use, as a hook would.

const TEST_TITLES = {
  start: "Test: starting a task",
  success: "Test: all tests passed",
  error: "Test: the build failed",
  waiting: "Test: may I run this command?",
  info: "Test: just so you know",
};
const TEST_TOOLS = ["command", "edit", "read", "search", "web", "agent", "mcp"];

export class TestEvents {
  /** @param buttons the buttons (`data-type`); `result` says what happened. */
  constructor(buttons, result, { api, account }) {
    this.api = api;
    this.account = account;
    this.result = result;
    this._progressTool = 0;
    for (const btn of buttons) btn.addEventListener("click", () => this.send(btn.dataset.type));
  }

  async send(type) {
    const { result } = this;
    const hook = this.account.primaryHook;
    if (!hook) {
      result.textContent = "Create a hook token first.";
      return;
    }
    const body = { type, title: TEST_TITLES[type] };
    if (type === "progress") {
      body.tool = TEST_TOOLS[this._progressTool++ % TEST_TOOLS.length];
      body.title = `Test: using the ${body.tool} tool`;
    }
    try {
      const data = await this.api.request("POST", "/api/events", { token: hook.token, body });
      result.textContent = `Sent ${/^[aeiou]/.test(type) ? "an" : "a"} ${type} event (id ${data && data.id}).`;
    } catch (err) {
      result.textContent =
        err.status === 401 ? `The “${hook.label}” token was refused (${err.code}). Use or create another one.` : `Not sent: ${err.message}`;
    }
  }
}
