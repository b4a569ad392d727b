// Times as people read them: "5 s ago", "in 3 days", "expires in 29 days".

let relative = null; // made on first use: building it loads locale data (≈ 50 ms on a slow phone)
const RELATIVE = { format: (value, unit) => (relative ||= new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" })).format(value, unit) };

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
