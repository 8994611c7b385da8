/** The extra measurements `npm run bench` takes after its scenarios, in order (issue 22). */
import { fanoutCpuExtra } from "./fanout-cpu.js";
import { kafkaBaselineExtra } from "./kafka-baseline.js";
import { largeEventsExtra } from "./large-events.js";
import { manyResourcesExtra } from "./many-resources.js";
import { startupExtra } from "./startup.js";
import { type Extra, type ExtraContext, type ExtraResult, SkipExtra } from "./types.js";
import { wrkExtra } from "./wrk.js";

export function extras(): Extra[] {
  return [
    wrkExtra,
    kafkaBaselineExtra,
    fanoutCpuExtra,
    largeEventsExtra,
    startupExtra,
    manyResourcesExtra,
  ];
}

/** Runs one extra; a thrown error is its failure, a "skip:" error its skip (engine absent). */
export async function runExtra(extra: Extra, context: ExtraContext): Promise<ExtraResult> {
  const problems: string[] = [];
  try {
    const result = await extra.run(context, problems);
    return { ...result, problems };
  } catch (error) {
    const message = (error as Error).message.split("\n")[0]!;
    if (error instanceof SkipExtra) {
      return { id: extra.id, title: extra.title, rows: [], skipped: message, problems };
    }
    return { id: extra.id, title: extra.title, rows: [], failed: message, problems };
  }
}
