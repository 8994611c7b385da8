import type { Resource } from "../../resources/types.js";
import {
  asArray,
  asString,
  checkSecretKeyRef,
  isHttpUrl,
  Problems,
  quote,
  type SourceProblem,
  specOf,
} from "../validation.js";

/** GitHub user, organization and repository names: letters, digits, '-', '_' and '.'. */
const OWNER_AND_REPOSITORY = /^[A-Za-z0-9][-A-Za-z0-9_.]*(\/[-A-Za-z0-9_.]+)?$/;
const EVENT_NAME = /^[a-z][a-z0-9_]*$/;

/** GitHubSource rules beyond its schema. */
export function validate(resource: Resource): SourceProblem[] {
  const problems = new Problems();
  const spec = specOf(resource);
  const ownerAndRepository = asString(spec["ownerAndRepository"]);
  if (ownerAndRepository !== undefined && !OWNER_AND_REPOSITORY.test(ownerAndRepository)) {
    problems.report(
      "spec.ownerAndRepository",
      `${quote(ownerAndRepository)} must be "owner" or "owner/repository"`,
    );
  }
  const seen = new Set<string>();
  asArray(spec["eventTypes"]).forEach((value, index) => {
    const name = asString(value);
    if (name === undefined) return;
    if (!EVENT_NAME.test(name)) {
      problems.report(
        `spec.eventTypes[${index}]`,
        `${quote(name)} is not a GitHub webhook event name (like push or pull_request)`,
      );
    } else if (seen.has(name)) {
      problems.report(`spec.eventTypes[${index}]`, `duplicate event type ${quote(name)}`);
    }
    seen.add(name);
  });
  checkSecretKeyRef(problems, spec["secretToken"], "spec.secretToken", true);
  checkSecretKeyRef(problems, spec["accessToken"], "spec.accessToken", false);
  const apiUrl = asString(spec["githubAPIURL"]);
  if (apiUrl !== undefined && !isHttpUrl(apiUrl)) {
    problems.report("spec.githubAPIURL", `${quote(apiUrl)} must be an absolute http(s) URL`);
  }
  return problems.list;
}
