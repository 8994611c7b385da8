/**
 * `eventail dead-letters list|redrive` (CONTRACT §11): the namespace's dead-letter store as a
 * table that fits 80 columns (or -o json|yaml), and redrives of all of it, some entries
 * (`--entry`, repeatable) or what a CESQL `--filter` selects.
 */
import type { DeadLetterJson } from "../operations/dead-letters.js";
import { ApiClient, type ApiClientOptions, runVerb } from "./api-client.js";
import { age, OUTPUTS } from "./get.js";

export interface DeadLettersOptions extends ApiClientOptions {
  namespace?: string;
  output?: string;
  entry?: string[];
  /** The name for --entry; both may be given. */
  id?: string[];
  filter?: string;
  fromBroker?: string;
}

const WIDTH = 80;
const GAP = "  ";
/** A redrive answers once every entry was tried, retries included: wait for it. */
const REDRIVE_WAIT_MS = 60 * 60 * 1000;

const COLUMNS: ReadonlyArray<{ title: string; cell: (e: DeadLetterJson) => string }> = [
  { title: "ENTRY", cell: (e) => e.entryId },
  { title: "TRIGGER", cell: (e) => e.name },
  { title: "EVENT", cell: (e) => String(e.event["id"] ?? "") },
  { title: "CODE", cell: (e) => e.knativeerrorcode ?? "-" },
  { title: "ATTEMPTS", cell: (e) => String(e.attempts) },
  { title: "AGE", cell: (e) => age(e.at) },
];
/** EVENT gives way first, then TRIGGER, when the table is too wide. */
const FLEXIBLE = [2, 1];

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

export function deadLetterTable(items: readonly DeadLetterJson[], width = WIDTH): string {
  const rows = items.map((item) => COLUMNS.map((c) => c.cell(item)));
  const widths = COLUMNS.map((c, i) =>
    Math.max(c.title.length, ...rows.map((row) => row[i]!.length)),
  );
  let excess = widths.reduce((a, b) => a + b, 0) + GAP.length * (COLUMNS.length - 1) - width;
  for (const i of FLEXIBLE) {
    if (excess <= 0) break;
    const cut = Math.min(excess, widths[i]! - COLUMNS[i]!.title.length);
    widths[i] = widths[i]! - cut;
    excess -= cut;
  }
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => truncate(cell, widths[i]!).padEnd(widths[i]!))
      .join(GAP)
      .trimEnd();
  return [line(COLUMNS.map((c) => c.title)), ...rows.map(line)].join("\n");
}

export async function deadLettersCommand(
  action: string,
  options: DeadLettersOptions,
): Promise<number> {
  const namespace = options.namespace ?? "default";
  const client = new ApiClient(options);
  if (action === "list") {
    const output = options.output ?? "table";
    if (!(OUTPUTS as readonly string[]).includes(output)) {
      process.stderr.write(`eventail dead-letters: -o must be one of ${OUTPUTS.join(", ")}\n`);
      return 2;
    }
    return runVerb("dead-letters", async () => {
      const query = new URLSearchParams({ namespace });
      const answer = await client.get<{ items: DeadLetterJson[] }>(`/deadletters?${query}`);
      if (output === "json") process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      else if (output === "yaml") {
        const { stringify } = await import("yaml");
        process.stdout.write(stringify(answer));
      } else if (answer.items.length === 0) {
        process.stderr.write(`No dead letters in namespace ${namespace}.\n`);
      } else process.stdout.write(`${deadLetterTable(answer.items)}\n`);
    });
  }
  if (action === "redrive") {
    let failed = 0;
    const code = await runVerb("dead-letters", async () => {
      const answer = await client.post<{ redriven: number; failed: number }>(
        "/deadletters/redrive",
        {
          namespace,
          ...(options.entry === undefined && options.id === undefined
            ? {}
            : { entryIds: [...(options.entry ?? []), ...(options.id ?? [])] }),
          ...(options.filter === undefined ? {} : { filter: options.filter }),
          ...(options.fromBroker === undefined ? {} : { fromBroker: options.fromBroker }),
        },
        REDRIVE_WAIT_MS,
      );
      failed = answer.failed;
      process.stdout.write(`redriven: ${answer.redriven}, failed: ${answer.failed}\n`);
    });
    // A script that redrives learns from the exit code that some entries are still there.
    return code === 0 && failed > 0 ? 1 : code;
  }
  process.stderr.write(`eventail dead-letters: list or redrive, not ${action}\n`);
  return 2;
}
