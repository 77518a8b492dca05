/**
 * What the injector needs to know about the mesh it injects into; fixed for the life of the
 * control plane (validated by its command's flags).
 */
export interface InjectorSettings {
  /** The cluster the sidecars belong to (`--cluster` of `meshfed sidecar`). */
  readonly cluster: string;
  readonly trustDomain: string;
  /** The meshfed image the sidecar and init containers run. */
  readonly image: string;
  /** The control plane's namespace: its pods are never injected. */
  readonly controlPlaneNamespace: string;
  /** The host sidecars reach xDS and Citadel at (15012): the control plane Service's name. */
  readonly controlPlaneHost: string;
}

/** The control plane Service's name in `namespace`, as the webhook configurations and sidecars use it. */
export function controlPlaneServiceHost(namespace: string): string {
  return `meshfed-controlplane.${namespace}.svc`;
}

/**
 * The names of the webhook configurations `meshfed install` renders for a control plane in
 * `namespace`; the control plane keeps their caBundle at the mesh's root.
 */
export function webhookConfigurationNames(namespace: string): { validating: string; mutating: string } {
  return { validating: `meshfed-validator-${namespace}`, mutating: `meshfed-sidecar-injector-${namespace}` };
}
