import { isHttpUrl } from "../../resources/addresses.js";
import { asArray, asString, type Check, type Fields, quote } from "../../resources/rules/check.js";
import { checkSecretKeyRef } from "../../resources/rules/secret-ref.js";

/** GitHub user, organization and repository names: letters, digits, '-', '_' and '.'. */
const OWNER_AND_REPOSITORY = /^[A-Za-z0-9][-A-Za-z0-9_.]*(\/[-A-Za-z0-9_.]+)?$/;
const EVENT_NAME = /^[a-z][a-z0-9_]*$/;

/** GitHubSource rules beyond its schema. */
export function validate(check: Check, spec: Fields): void {
  const ownerAndRepository = asString(spec["ownerAndRepository"]);
  if (ownerAndRepository !== undefined && !OWNER_AND_REPOSITORY.test(ownerAndRepository)) {
    check.report(
      "spec.ownerAndRepository",
      `${quote(ownerAndRepository)} must be "owner" or "owner/repository"`,
    );
  }
  const seen = new Set<string>();
  asArray(spec["eventTypes"]).forEach((value, index) => {
    const name = asString(value);
    if (name === undefined) return;
    if (!EVENT_NAME.test(name)) {
      check.report(
        `spec.eventTypes[${index}]`,
        `${quote(name)} is not a GitHub webhook event name (like push or pull_request)`,
      );
    } else if (seen.has(name)) {
      check.report(`spec.eventTypes[${index}]`, `duplicate event type ${quote(name)}`);
    }
    seen.add(name);
  });
  checkSecretKeyRef(check, spec["secretToken"], "spec.secretToken", true);
  checkSecretKeyRef(check, spec["accessToken"], "spec.accessToken", false);
  const apiUrl = asString(spec["githubAPIURL"]);
  if (apiUrl !== undefined && !isHttpUrl(apiUrl)) {
    check.report("spec.githubAPIURL", `${quote(apiUrl)} must be an absolute http(s) URL`);
  }
}
