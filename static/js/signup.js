// Getting a session on the first visit, retried with a growing wait (and the server's Retry-After).

const SIGNUP_RETRY_MS = [1000, 2000, 5000, 10000, 30000];

/** Make sure the account exists (or stays signed out); on failure say so and try again later. */
export function keepSigningUp(account, notice) {
  let attempt = 0;
  const run = async () => {
    try {
      await account.ensure();
      attempt = 0;
      notice.show("");
    } catch (err) {
      const wait = Math.max(err.retryAfter * 1000 || 0, SIGNUP_RETRY_MS[Math.min(attempt, SIGNUP_RETRY_MS.length - 1)]);
      attempt += 1;
      notice.show(`Could not start a session (${err.message}). Trying again in ${Math.round(wait / 1000)} s.`, { sticky: true });
      window.setTimeout(run, wait);
    }
  };
  run();
}
