import { isHttpUrl } from "../../resources/addresses.js";
import { asArray, asString, type Check, type Fields, quote } from "../../resources/rules/check.js";
import { checkSecretKeyRef } from "../../resources/rules/secret-ref.js";
import { checkCeOverrides } from "../../resources/rules/sources.js";
import { GITLAB_WEBHOOK_EVENT_TYPES } from "./gitlab-event.js";

/** GitLabSource rules beyond its schema. */
export function validate(check: Check, spec: Fields): void {
  const projectUrl = asString(spec["projectUrl"]);
  if (projectUrl !== undefined && !isHttpUrl(projectUrl)) {
    check.report("spec.projectUrl", `${quote(projectUrl)} must be an absolute http(s) URL`);
  }
  const known = Object.keys(GITLAB_WEBHOOK_EVENT_TYPES);
  asArray(spec["eventTypes"]).forEach((value, index) => {
    const hook = asString(value);
    if (hook !== undefined && !known.includes(hook)) {
      check.report(
        `spec.eventTypes[${index}]`,
        `unknown GitLab webhook ${quote(hook)} (one of ${known.join(", ")})`,
      );
    }
  });
  checkSecretKeyRef(check, spec["secretToken"], "spec.secretToken", true);
  checkSecretKeyRef(check, spec["accessToken"], "spec.accessToken", false);
  checkCeOverrides(check, spec);
}
