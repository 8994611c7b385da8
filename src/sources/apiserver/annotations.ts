/** Annotations that point a standalone ApiServerSource at a cluster (see kube-client.ts). */
export const KUBECONFIG_ANNOTATION = "eventail.io/kubeconfig";
export const APISERVER_URL_ANNOTATION = "eventail.io/apiserver-url";
