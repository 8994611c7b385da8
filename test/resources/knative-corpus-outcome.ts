/**
 * What `eventail validate` says about one fixture of the Knative corpus, per document: the CLI
 * command's output (CONTRACT §1: `file:line kind/namespace/name spec.path: message`, warnings as
 * `... path warning: message`) read back into findings and a verdict for each document.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { validateCommand } from "../../src/cli/validate.js";

export interface Finding {
  /** `Kind/namespace/name` as the CLI prints it (`?/?/?` when the document is unreadable). */
  readonly resource: string;
  readonly path: string;
  readonly message: string;
  readonly line: number;
  readonly warning: boolean;
}

export type Verdict =
  | "accepted"
  | "accepted with warnings"
  | "refused-standalone"
  | "refused-other";

export interface DocumentOutcome {
  readonly resource: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly verdict: Verdict;
}

export interface FixtureOutcome {
  readonly code: number;
  readonly findings: readonly Finding[];
  readonly documents: readonly DocumentOutcome[];
}

const ISSUE = /^(\d+) ([^/\s]+\/[^/\s]+\/[^/\s]+)(?: (\S+))?( warning)?: (.*)$/;

/** A refusal the issue allows: it names a limit of standalone mode (and what to do about it). */
export function isStandaloneRefusal(finding: Finding): boolean {
  return !finding.warning && finding.message.includes("standalone");
}

export async function validateFixture(file: string): Promise<FixtureOutcome> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await validateCommand(
    [file],
    { write: (text) => out.push(text) },
    { write: (text) => err.push(text) },
  );
  if (code === 1) throw new Error(`eventail validate failed on ${file}: ${err.join("")}`);
  const findings: Finding[] = [];
  for (const text of out.join("").split("\n")) {
    if (!text.startsWith(`${file}:`)) continue;
    const match = ISSUE.exec(text.slice(file.length + 1));
    if (!match) throw new Error(`unreadable validate output: ${text}`);
    const [, line, resource, path, warned, message] = match;
    // A warning about the whole document prints no path: "Kind/ns/name warning: message".
    const pathless = warned === undefined && path === "warning";
    findings.push({
      resource: resource!,
      path: pathless ? "" : (path ?? ""),
      message: message!,
      line: Number(line),
      warning: warned !== undefined || pathless,
    });
  }
  const refusals = findings.filter((finding) => !finding.warning);
  // The exit code and the printed lines must agree, or this reading of the output is wrong.
  if ((code === 0) !== (refusals.length === 0)) {
    throw new Error(`exit ${code} with ${refusals.length} refusals for ${file}:\n${out.join("")}`);
  }
  return { code, findings, documents: documentsOf(file, findings) };
}

function documentsOf(file: string, findings: readonly Finding[]): DocumentOutcome[] {
  const documents: DocumentOutcome[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (Array.isArray(doc)) continue;
    const body = doc.toJS() as {
      apiVersion?: string;
      kind?: string;
      metadata?: { name?: string; namespace?: string };
    } | null;
    if (!body) continue;
    const kind = body.kind ?? "?";
    const resource = `${kind}/${body.metadata?.namespace ?? "default"}/${body.metadata?.name ?? "?"}`;
    const own = findings.filter((finding) => finding.resource === resource);
    documents.push({
      resource,
      apiVersion: body.apiVersion ?? "?",
      kind,
      verdict: verdictOf(own),
    });
  }
  return documents;
}

function verdictOf(findings: readonly Finding[]): Verdict {
  const refusals = findings.filter((finding) => !finding.warning);
  if (refusals.some((finding) => !isStandaloneRefusal(finding))) return "refused-other";
  if (refusals.length > 0) return "refused-standalone";
  return findings.length > 0 ? "accepted with warnings" : "accepted";
}
