import type { Resource } from "../../resources/types.js";
import {
  asArray,
  asString,
  checkCeOverrides,
  checkSecretKeyRef,
  isHttpUrl,
  Problems,
  quote,
  type SourceProblem,
  specOf,
} from "../validation.js";
import { GITLAB_WEBHOOK_EVENT_TYPES } from "./gitlab-event.js";

/** GitLabSource rules beyond its schema. */
export function validate(resource: Resource): SourceProblem[] {
  const problems = new Problems();
  const spec = specOf(resource);
  const projectUrl = asString(spec["projectUrl"]);
  if (projectUrl !== undefined && !isHttpUrl(projectUrl)) {
    problems.report("spec.projectUrl", `${quote(projectUrl)} must be an absolute http(s) URL`);
  }
  const known = Object.keys(GITLAB_WEBHOOK_EVENT_TYPES);
  asArray(spec["eventTypes"]).forEach((value, index) => {
    const hook = asString(value);
    if (hook !== undefined && !known.includes(hook)) {
      problems.report(
        `spec.eventTypes[${index}]`,
        `unknown GitLab webhook ${quote(hook)} (one of ${known.join(", ")})`,
      );
    }
  });
  checkSecretKeyRef(problems, spec["secretToken"], "spec.secretToken", true);
  checkSecretKeyRef(problems, spec["accessToken"], "spec.accessToken", false);
  checkCeOverrides(problems, spec);
  return problems.list;
}
