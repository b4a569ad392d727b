// What the character does for each event: pure data, shared by the Live2D and the fallback renderer.

import { MCP_PREFIXES, QUESTION_TOOLS, TOOL_CATEGORIES, TOOLS } from "./clis.gen.js";

/** Event types, in the order the page lists them. */
export const EVENT_TYPES = ["start", "progress", "success", "error", "waiting", "info"];

/** Types that are never dropped or merged away, and that cut a lesser reaction short. */
export const IMPORTANT_TYPES = new Set(["success", "error", "waiting"]);

/**
 * Tool categories. The server's hook normaliser already reduces tool names to these, but events
 * posted by hand (or by older hooks) may carry a CLI's raw tool name, so map those too: with hooks.py's
 * own table (through the generated clis.gen.js), and "ask" for the tools that put a question to you.
 */
const TOOL_LOOKUP = new Map([
  ...TOOL_CATEGORIES.map((category) => [category, category]),
  ...Object.entries(TOOLS).flatMap(([category, names]) => names.map((name) => [name, category])),
  ...["ask", ...QUESTION_TOOLS].map((name) => [name, "ask"]),
]);

/** Reduce a tool name (category or raw CLI name) to a category, or null when there is no tool. */
export function toolCategory(tool) {
  if (tool === null || tool === undefined || tool === "") return null;
  const name = String(tool).trim().toLowerCase();
  if (MCP_PREFIXES.some((prefix) => name.startsWith(prefix))) return "mcp";
  return TOOL_LOOKUP.get(name) || TOOL_LOOKUP.get(name.replace(/[\s-]+/g, "_")) || "other";
}

/** What "progress" looks like per tool category: motion groups to try in order, a mood, a line. */
const PROGRESS = {
  command: { motions: ["tap_body"], mood: "focused", line: "Running a command…" },
  edit: { motions: ["pinch_in", "tap_body"], mood: "focused", line: "Editing a file…" },
  read: { motions: ["flick_head", "tap_body"], mood: null, line: "Reading…" },
  search: { motions: ["pinch_out", "flick_head"], mood: "surprised", line: "Searching…" },
  web: { motions: ["flick_head", "pinch_out"], mood: "surprised", line: "Looking on the web…" },
  agent: { motions: ["pinch_out", "tap_body"], mood: "happy", line: "Handing off to a sub-agent…" },
  mcp: { motions: ["tap_body", "pinch_in"], mood: "focused", line: "Calling an MCP tool…" },
  plan: { motions: ["flick_head"], mood: "focused", line: "Planning…" },
  todo: { motions: ["flick_head", "tap_body"], mood: null, line: "Updating the to-do list…" },
  ask: { motions: ["shake", "flick_head"], mood: "surprised", line: "I have a question…" },
  other: { motions: ["tap_body"], mood: null, line: "Working…" },
};

const BY_TYPE = {
  start: { motions: ["flick_head", "tap_body"], mood: "happy", line: "On it!" },
  success: { motions: ["tap_body", "pinch_out"], mood: "happy", line: "All done!" },
  error: { motions: ["pinch_out", "shake"], mood: "sad", line: "Something went wrong." },
  waiting: { motions: ["shake", "pinch_in", "tap_body"], mood: "surprised", line: "I need you!" },
  info: { motions: ["tap_body"], mood: null, line: "Heads up." },
};

const TITLE_MAX = 80;

/** The reaction to one event: { type, tool, motions, mood, line, important }. */
export function reactionFor(event) {
  const type = EVENT_TYPES.includes(event.type) ? event.type : "info";
  const tool = type === "progress" ? toolCategory(event.tool) || "other" : toolCategory(event.tool);
  const base = type === "progress" ? PROGRESS[tool] : BY_TYPE[type];
  const title = typeof event.title === "string" ? event.title.trim() : "";
  return {
    type,
    tool,
    motions: base.motions,
    mood: base.mood,
    line: title ? title.slice(0, TITLE_MAX) : base.line,
    important: IMPORTANT_TYPES.has(type),
    eventId: event.id,
    count: 1,
  };
}
