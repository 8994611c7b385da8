import {
  asArray,
  asFields,
  asString,
  type Check,
  type Fields,
  quote,
} from "../../resources/rules/check.js";
import { checkSecretKeyRef } from "../../resources/rules/secret-ref.js";

/** Kubernetes' rule for environment variable names. */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** ContainerSource rules beyond its schema (what running it as a local process needs). */
export function validate(check: Check, spec: Fields): void {
  const containers = asArray(asFields(asFields(spec["template"])?.["spec"])?.["containers"]);
  if (containers.length > 1) {
    check.report(
      "spec.template.spec.containers",
      `only one container runs standalone (got ${containers.length})`,
    );
  }
  const container = asFields(containers[0]);
  if (container) {
    const at = "spec.template.spec.containers[0]";
    const command = asArray(container["command"]);
    if (command.length === 0 || asString(command[0])?.trim() === "") {
      if (asString(container["image"])) {
        // Knative YAML names an image; it stays valid here, and runs on a cluster as it is.
        check.warn(
          `${at}.command`,
          "not run standalone: Eventail cannot run an image, only a command as a local process " +
            "(set command to run one here)",
        );
      } else {
        check.report(
          `${at}.command`,
          "required standalone: Eventail runs the command as a local process (images are not run)",
        );
      }
    }
    checkContainerEnv(check, container, at);
  }
}

/**
 * A container's `env` as a local process takes it: Kubernetes' variable names, `value` or
 * `valueFrom`, and of the `valueFrom` sources only a Secret key. `at` is the container's path.
 */
export function checkContainerEnv(check: Check, container: Fields, at: string): void {
  asArray(container["env"]).forEach((item, index) => {
    const variable = asFields(item);
    if (!variable) return;
    const path = `${at}.env[${index}]`;
    const name = asString(variable["name"]);
    if (name !== undefined && !ENV_NAME.test(name)) {
      check.report(`${path}.name`, `invalid environment variable name ${quote(name)}`);
    }
    const valueFrom = asFields(variable["valueFrom"]);
    if (valueFrom && variable["value"] !== undefined) {
      check.report(`${path}.valueFrom`, "set value or valueFrom, not both");
    }
    if (valueFrom) {
      for (const source of Object.keys(valueFrom)) {
        if (source !== "secretKeyRef") {
          check.report(
            `${path}.valueFrom.${source}`,
            "only secretKeyRef is supported standalone (no ConfigMap or field references)",
          );
        }
      }
      checkSecretKeyRef(check, valueFrom, `${path}.valueFrom`, false);
    }
  });
}
