/**
 * `eventail controller` (CONTRACT §13): the runtime fed from the Kubernetes API server. It runs
 * until SIGTERM/SIGINT, then hands its Lease back (so another replica need not wait it out) and
 * drains like `eventail run`.
 */
import { existsSync, readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { startController } from "../kubernetes/controller.js";
import { startTracing, stopTracing } from "../observability/tracing.js";

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export interface ControllerFlags {
  readonly namespace?: string[];
  readonly kubeconfig?: string;
  readonly serveKnativeKinds?: boolean;
  readonly host: string;
  readonly port: number;
  readonly controllerNamespace?: string;
}

/** The controller's own namespace: the flag, POD_NAMESPACE, the service account's, else eventail-system. */
function ownNamespace(flag: string | undefined): string {
  if (flag) return flag;
  const fromEnvironment = process.env["POD_NAMESPACE"];
  if (fromEnvironment) return fromEnvironment;
  if (existsSync(SERVICE_ACCOUNT_NAMESPACE)) {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim();
  }
  return "eventail-system";
}

export async function controllerCommand(flags: ControllerFlags): Promise<number> {
  const kubeConfig = new KubeConfig();
  let running: Awaited<ReturnType<typeof startController>>;
  try {
    // In-cluster service account by default; --kubeconfig for running outside the cluster.
    if (flags.kubeconfig) kubeConfig.loadFromFile(flags.kubeconfig);
    else kubeConfig.loadFromDefault();
    await startTracing();
    running = await startController({
      kubeConfig,
      controllerNamespace: ownNamespace(flags.controllerNamespace),
      ...(flags.namespace ? { namespaces: flags.namespace } : {}),
      serveKnativeKinds: flags.serveKnativeKinds === true,
      ...(process.env["POD_NAME"] ? { identity: process.env["POD_NAME"] } : {}),
      runtime: { host: flags.host, port: flags.port },
    });
  } catch (error) {
    process.stderr.write(`eventail controller: ${(error as Error).message}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      void running.close().then(stopTracing).then(resolve, resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return 0;
}
