import { KubeConfig } from "@kubernetes/client-node";
import { KubeApiError } from "../../kubernetes/kube-rest.js";

import { APISERVER_URL_ANNOTATION, KUBECONFIG_ANNOTATION } from "./annotations.js";

export { APISERVER_URL_ANNOTATION, KUBECONFIG_ANNOTATION, KubeApiError };

/**
 * Which cluster to talk to: `eventail.io/apiserver-url` (no credentials, e.g. `kubectl proxy`),
 * else `eventail.io/kubeconfig` (a kubeconfig file), else what kubectl would use: KUBECONFIG,
 * ~/.kube/config, or the in-cluster service account.
 */
export function loadKubeConfig(annotations: Readonly<Record<string, string>> = {}): KubeConfig {
  const config = new KubeConfig();
  const url = annotations[APISERVER_URL_ANNOTATION];
  const file = annotations[KUBECONFIG_ANNOTATION];
  if (url !== undefined) {
    const server = url.replace(/\/+$/, "");
    // client-node refuses plain http unless told TLS is not verified, which http has none of.
    const skipTLSVerify = server.startsWith("http:");
    config.loadFromClusterAndUser(
      { name: "eventail", server, skipTLSVerify },
      { name: "eventail" },
    );
  } else if (file !== undefined) {
    config.loadFromFile(file);
  } else {
    config.loadFromDefault();
  }
  return config;
}
