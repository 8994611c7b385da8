import { errorsOf, formatIssue, type ValidationIssue } from "../resources/issue.js";
import { loadManifests } from "../resources/loader.js";
import { validateConfiguration } from "../runtime/configuration.js";

interface Output {
  write(text: string): void;
}

/**
 * `eventail validate -f PATH ...`: loads every manifest under the paths, validates them together
 * and prints each problem as `file:line kind/namespace/name spec.path: message`, one per line on
 * stdout (they are the command's result, so they can be piped to an editor or grep), followed by
 * a one-line summary. Warnings (what runs, but not as on a cluster) print as
 * `file:line kind/namespace/name spec.path warning: message` and leave the exit code alone.
 * stderr carries only failures of the command itself.
 *
 * Returns the exit code: 0 valid (warnings or not), 2 errors (or nothing to validate), 1 the check
 * itself failed.
 */
export async function validateCommand(
  paths: readonly string[],
  out: Output,
  err: Output,
): Promise<number> {
  if (paths.length === 0) {
    err.write("eventail validate: give at least one -f PATH\n");
    return 2;
  }
  let issues: ValidationIssue[];
  let resourceCount: number;
  try {
    const loaded = await loadManifests(paths);
    if (loaded.files.length === 0 && loaded.issues.length === 0) {
      out.write(`no .yaml, .yml or .json manifests under ${paths.join(", ")}\n`);
      return 2;
    }
    issues = [...loaded.issues, ...validateConfiguration(loaded.resources)];
    resourceCount = loaded.resources.length;
  } catch (error) {
    err.write(`eventail validate: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  for (const issue of issues) out.write(`${formatIssue(issue)}\n`);
  const errors = errorsOf(issues);
  const warnings = issues.length - errors.length;
  const warned = warnings > 0 ? `, ${plural(warnings, "warning")}` : "";
  if (errors.length === 0) {
    out.write(`${plural(resourceCount, "resource")} valid${warned}\n`);
    return 0;
  }
  const files = new Set(errors.map((issue) => issue.file)).size;
  out.write(`${plural(errors.length, "problem")} in ${plural(files, "file")}${warned}\n`);
  return 2;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
