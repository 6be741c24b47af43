/**
 * Status handling: turns the server's `codet5p/status` notifications into what the status-bar
 * item shows (text with a codicon, tooltip, severity).
 *
 * The notification's params are read defensively: a known `state` picks the icon, `message`
 * (or `detail`) fills the tooltip, and `progress` (0..1 or 0..100) / `done`+`total` add a
 * percentage. Unknown or malformed params never throw; they show a neutral item.
 */

/** How the item is coloured: `error`/`warning` use the theme's status-bar error/warning colours. */
export type Severity = "ok" | "busy" | "warning" | "error";

/** What the status-bar item shows. */
export interface StatusView {
  text: string;
  tooltip: string;
  severity: Severity;
}

/** The fields of `codet5p/status` this module understands. */
export interface StatusParams {
  state?: unknown;
  message?: unknown;
  detail?: unknown;
  progress?: unknown;
  done?: unknown;
  total?: unknown;
  model?: unknown;
}

export const NAME = "CodeT5+";

interface StateInfo {
  icon: string;
  label: string;
  severity: Severity;
}

const STATES: Record<string, StateInfo> = {
  starting: { icon: "$(loading~spin)", label: "starting", severity: "busy" },
  loading: { icon: "$(loading~spin)", label: "loading model", severity: "busy" },
  indexing: { icon: "$(sync~spin)", label: "indexing", severity: "busy" },
  busy: { icon: "$(loading~spin)", label: "working", severity: "busy" },
  generating: { icon: "$(loading~spin)", label: "generating", severity: "busy" },
  ready: { icon: "$(check)", label: "ready", severity: "ok" },
  idle: { icon: "$(check)", label: "ready", severity: "ok" },
  slow: { icon: "$(warning)", label: "slow", severity: "warning" },
  warning: { icon: "$(warning)", label: "warning", severity: "warning" },
  disabled: { icon: "$(circle-slash)", label: "disabled", severity: "warning" },
  error: { icon: "$(error)", label: "error", severity: "error" },
  stopped: { icon: "$(debug-stop)", label: "stopped", severity: "warning" },
};

/** A percentage 0..100 from `progress` or `done`/`total`, or undefined when none is given. */
export function percent(params: StatusParams): number | undefined {
  const p = params.progress;
  if (typeof p === "number" && Number.isFinite(p)) {
    const value = p <= 1 ? p * 100 : p;
    return Math.max(0, Math.min(100, Math.round(value)));
  }
  const done = params.done;
  const total = params.total;
  if (typeof done === "number" && typeof total === "number" && total > 0 && Number.isFinite(done)) {
    return Math.max(0, Math.min(100, Math.round((done / total) * 100)));
  }
  return undefined;
}

/** The status-bar view for one notification. */
export function describeStatus(raw: unknown): StatusView {
  const params: StatusParams = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? raw : {};
  const state = typeof params.state === "string" ? params.state.toLowerCase() : "";
  const info: StateInfo = STATES[state] ?? { icon: "$(info)", label: state || "unknown", severity: "ok" };
  const pct = percent(params);
  const suffix = pct !== undefined && info.severity === "busy" ? ` ${pct}%` : "";
  const text = `${info.icon} ${NAME}${info.severity === "ok" ? "" : ` ${info.label}`}${suffix}`;
  const message = typeof params.message === "string" ? params.message : typeof params.detail === "string" ? params.detail : "";
  const lines = [`${NAME}: ${info.label}${suffix}`];
  if (message) {
    lines.push(message);
  }
  if (typeof params.model === "string" && params.model) {
    lines.push(`model: ${params.model}`);
  }
  return { text, tooltip: lines.join("\n"), severity: info.severity };
}

/** The view shown before the server has said anything, and when it cannot start. */
export function startingView(): StatusView {
  return describeStatus({ state: "starting" });
}

export function failedView(message: string): StatusView {
  return { text: `$(error) ${NAME}`, tooltip: `${NAME}: not running\n${message}`, severity: "error" };
}
