/** The extra measurements' tables, for the terminal and for BENCHMARKS.md. */
import type { ExtraResult } from "./types.js";

const HEADER = ["measurement", "what", "eventail", "baseline", "ratio", "goal"];

function goalCell(row: ExtraResult["rows"][number]): string {
  if (row.goal === undefined) return "";
  const met = row.goal.met === undefined ? "–" : row.goal.met ? "met" : "not met";
  return `${row.goal.text}: ${met}`;
}

export function extraRows(results: readonly ExtraResult[]): string[][] {
  return results.flatMap((result) => {
    const why =
      result.failed !== undefined
        ? `failed: ${result.failed}`
        : result.skipped !== undefined
          ? `skipped: ${result.skipped}`
          : undefined;
    if (why !== undefined) return [[result.title, why, "", "", "", ""]];
    return result.rows.map((row, i) => [
      i === 0 ? result.title : "",
      row.what,
      row.figure,
      row.baseline ?? "",
      row.ratio ?? "",
      goalCell(row),
    ]);
  });
}

export function terminalExtras(results: readonly ExtraResult[]): string {
  const body = extraRows(results);
  const widths = HEADER.map((title, i) => Math.max(title.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const problems = results.flatMap((r) => r.problems.map((p) => `  ${r.id}: ${p}`));
  return [line(HEADER), ...body.map(line), ...problems].join("\n");
}

export function markdownExtras(results: readonly ExtraResult[]): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const lines = [
    `| ${HEADER.join(" | ")} |`,
    `| --- | --- | ${HEADER.slice(2)
      .map(() => "---:")
      .join(" | ")} |`,
    ...extraRows(results).map((row) => `| ${row.map(cell).join(" | ")} |`),
  ];
  const problems = results.flatMap((r) => r.problems.map((p) => `- ${r.title}: ${p}`));
  if (problems.length > 0) lines.push("", "Problems seen:", "", ...problems);
  return lines.join("\n");
}
