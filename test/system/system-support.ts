import { setTimeout as sleep } from "node:timers/promises";

/** Things a test started, undone in reverse order after it (whether it passed or not). */
export class Cleanup {
  private readonly steps: Array<() => unknown> = [];

  defer(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
  }
}

/** Polls `condition` every 50 ms; the error says what was awaited and, when given, the state. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  state?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${state ? `: ${state()}` : ""}`,
      );
    }
    await sleep(50);
  }
}

/** The first few ids of a list, for failure messages that stay readable. */
export function sample(ids: readonly string[], count = 10): string {
  const shown = ids.slice(0, count).join(", ");
  return ids.length > count ? `${ids.length} ids (${shown}, …)` : `${ids.length} ids (${shown})`;
}
