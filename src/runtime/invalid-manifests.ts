import { formatIssue, type ValidationIssue } from "../resources/issue.js";

/** Manifests that do not validate: nothing was started. Its own module so `eventail run` can catch it without loading the server. */
export class InvalidManifestsError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(`${issues.length} problem(s) in the manifests:\n${issues.map(formatIssue).join("\n")}`);
    this.name = "InvalidManifestsError";
  }
}
