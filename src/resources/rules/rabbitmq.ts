import { operatorClusterWarning, rabbitAddress } from "../rabbitmq-config.js";
import { rabbitLookup } from "./broker.js";
import { asFields, asString, type Check, type Fields } from "./check.js";
import { checkDelivery } from "./delivery.js";
import { checkDestination } from "./destination.js";

/** Where a RabbitMQ kind's address comes from: a Secret that is missing is an error. */
function checkAddress(check: Check, spec: Fields, vhost: string | undefined): void {
  const at = "spec.rabbitmqClusterReference";
  const reference = asFields(spec["rabbitmqClusterReference"]);
  if (
    reference &&
    asString(reference["name"]) !== undefined &&
    asFields(reference["connectionSecret"]) !== undefined
  ) {
    check.warn(at, "sets name and connectionSecret: the connectionSecret is used");
  }
  const address = rabbitAddress(
    spec["rabbitmqClusterReference"],
    check.resource.metadata.annotations,
    check.namespace,
    rabbitLookup(check).secret,
    at,
    vhost,
  );
  if (address.from === "invalid") check.report(address.path, address.message);
  else if (address.from === "missing") {
    check.warn(
      address.path,
      `Secret ${address.namespace}/${address.name} is not among the manifests: the source waits for it`,
    );
  } else if (address.from === "default")
    check.warn(`${at}.name`, operatorClusterWarning(address.cluster));
}

export function checkRabbitmqBrokerConfig(check: Check, spec: Fields): void {
  checkAddress(check, spec, asString(spec["vhost"]));
}

export function checkRabbitmqSource(check: Check, spec: Fields): void {
  const resources = asFields(spec["rabbitmqResourcesConfig"]);
  checkAddress(check, spec, asString(resources?.["vhost"]));
  checkDestination(check, spec["sink"], "spec.sink");
  checkDelivery(check, spec["delivery"], "spec.delivery");
}
