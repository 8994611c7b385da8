/**
 * jose, loaded on first use: a server with authentication off never carries it (it costs several
 * MB of idle memory). Turning authentication on preloads it, so the first token does not wait.
 */
export type Jose = typeof import("jose");

let loading: Promise<Jose> | undefined;

export function loadJose(): Promise<Jose> {
  loading ??= import("jose");
  return loading;
}
