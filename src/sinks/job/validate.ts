import {
  asArray,
  asFields,
  asString,
  type Check,
  type Fields,
} from "../../resources/rules/check.js";
import { checkContainerEnv } from "../../sources/container/validate.js";

/** Where Knative mounts the event in a JobSink's pod; nothing is there standalone. */
export const KNATIVE_EVENT_PATH = "/etc/jobsink-event/event";

const POD = "spec.job.spec.template.spec";

/**
 * JobSink rules beyond its schema. What Knative accepts but a local process cannot do is a
 * warning, not an error, so the same YAML still loads: a container without a command (the sink
 * then answers 503), more containers than the first, init containers, and reading the event at
 * Knative's fixed mount path instead of $K_EVENT_PATH or stdin.
 */
export function validate(check: Check, spec: Fields): void {
  const pod = asFields(asFields(asFields(asFields(spec["job"])?.["spec"])?.["template"])?.["spec"]);
  if (!pod) return;
  const containers = asArray(pod["containers"]);
  if (containers.length > 1) {
    check.warn(
      `${POD}.containers`,
      `only containers[0] runs standalone; the other ${containers.length - 1} do not`,
    );
  }
  if (asArray(pod["initContainers"]).length > 0) {
    check.warn(`${POD}.initContainers`, "init containers do not run standalone");
  }
  const container = asFields(containers[0]);
  if (!container) return;
  const at = `${POD}.containers[0]`;
  const command = asArray(container["command"]);
  if (command.length === 0 || asString(command[0])?.trim() === "") {
    check.warn(
      `${at}.command`,
      "no command: images are not run standalone, so this JobSink answers 503 SINK_UNAVAILABLE " +
        "until a command is set",
    );
  }
  checkContainerEnv(check, container, at);
  for (const [field, values] of [
    ["command", command],
    ["args", asArray(container["args"])],
  ] as const) {
    values.forEach((value, index) => {
      if (asString(value)?.includes(KNATIVE_EVENT_PATH)) {
        check.warn(`${at}.${field}[${index}]`, fixedPathMessage());
      }
    });
  }
  asArray(container["env"]).forEach((item, index) => {
    if (asString(asFields(item)?.["value"])?.includes(KNATIVE_EVENT_PATH)) {
      check.warn(`${at}.env[${index}].value`, fixedPathMessage());
    }
  });
}

function fixedPathMessage(): string {
  return (
    `reads Knative's fixed path ${KNATIVE_EVENT_PATH}, which does not exist standalone; ` +
    "read the file named by $K_EVENT_PATH, or stdin"
  );
}
