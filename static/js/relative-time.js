// Times as people read them: "5 s ago", "in 3 days", "expires in 29 days".

// In English, like the rest of the page, and without Intl.RelativeTimeFormat: building one loads
// locale data, the largest single cost of the page's first render on a slow phone.
const UNITS = { second: "s", minute: "min", hour: "h", day: "days" };
const RELATIVE = {
  format(value, unit) {
    const n = Math.abs(value);
    if (unit === "day" && n === 1) return value < 0 ? "yesterday" : "tomorrow";
    const amount = `${n} ${unit === "day" ? "days" : UNITS[unit]}`;
    return value < 0 ? `${amount} ago` : `in ${amount}`;
  },
};

/** "5 s ago", "3 min ago"... for an ISO time. */
export function relativeTime(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((then - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 5) return "just now";
  if (abs < 60) return RELATIVE.format(seconds, "second");
  if (abs < 3600) return RELATIVE.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return RELATIVE.format(Math.round(seconds / 3600), "hour");
  return RELATIVE.format(Math.round(seconds / 86400), "day");
}

/** "expires in 29 days", "expired", or "" without a time. */
export function expiryText(iso, now = Date.now()) {
  if (!iso) return "";
  const left = Date.parse(iso) - now;
  if (Number.isNaN(left)) return "";
  if (left <= 0) return "expired";
  return `expires ${relativeTime(iso, now)}`;
}
