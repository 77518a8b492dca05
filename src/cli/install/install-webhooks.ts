import { webhookConfigurationNames } from '../../webhooks/inject-settings.ts';
import { CRD_KINDS } from './install-crds.ts';
import { WEBHOOK_PORT } from './install-control-plane.ts';
import { CONTROL_PLANE, PART_OF } from './install-labels.ts';
import type { InstallOptions } from './install-options.ts';
import type { Manifest } from './manifest.ts';

const NOT_OPTED_OUT = { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] };

/**
 * Admission webhooks served by the control plane on 15017, as istiod's:
 * - validation (`/validate`) of every kind in Istio's networking and security groups (those
 *   meshfed does not read are refused, as by the file loader) and of ServiceExports,
 *   failurePolicy Ignore as installed;
 * - sidecar injection (`/inject`) for namespaces labelled `meshfed-injection=enabled` or
 *   `istio-injection=enabled`, and for pods labelled `sidecar.istio.io/inject=true` elsewhere;
 *   a pod labelled `sidecar.istio.io/inject=false` is left alone.
 *
 * The control plane serves 15017 with a certificate Citadel issues under the mesh's root for
 * `meshfed-controlplane.<namespace>.svc` (src/webhooks). The caBundle is that root
 * (`root-cert.pem` of the plug-in CA). It is not rendered here, because `meshfed install` reads
 * no CA: the control plane sets it on every webhook below once it runs, and repairs it after an
 * edit, as istiod does (src/citadel/kube/root-cert-publisher.ts).
 */
export function webhookManifests(o: InstallOptions): Manifest[] {
  const names = webhookConfigurationNames(o.namespace);
  const service = (path: string) => ({ service: { name: CONTROL_PLANE, namespace: o.namespace, path, port: WEBHOOK_PORT } });
  const common = { sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 10 };
  // Istio's groups whole, so that a kind meshfed does not read there is refused as the file loader
  // refuses it; in the MCS group only what meshfed reads (ServiceImports are its own writes).
  const istioGroups = ['networking.istio.io', 'security.istio.io'];
  const readKinds = CRD_KINDS.filter((k) => k.kind !== 'ServiceImport' && !istioGroups.includes(k.group));
  const rules = [
    ...istioGroups.map((g) => ({ operations: ['CREATE', 'UPDATE'], apiGroups: [g], apiVersions: ['*'], resources: ['*'] })),
    ...[...new Set(readKinds.map((k) => k.group))].map((g) => ({
      operations: ['CREATE', 'UPDATE'],
      apiGroups: [g],
      apiVersions: ['*'],
      resources: readKinds.filter((k) => k.group === g).map((k) => k.plural),
    })),
  ];
  const injector = (name: string, namespaceSelector: unknown, objectSelector: unknown) => ({
    name,
    clientConfig: service('/inject'),
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    failurePolicy: 'Fail',
    reinvocationPolicy: 'Never',
    namespaceSelector,
    objectSelector,
    ...common,
  });
  const noInjectionLabel = {
    matchExpressions: [
      { key: 'meshfed-injection', operator: 'DoesNotExist' },
      { key: 'istio-injection', operator: 'DoesNotExist' },
    ],
  };
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: names.validating, labels: { ...PART_OF, app: CONTROL_PLANE } },
      webhooks: [
        {
          name: 'validation.meshfed.io',
          clientConfig: service('/validate'),
          rules,
          failurePolicy: 'Ignore',
          ...common,
        },
      ],
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: names.mutating, labels: { ...PART_OF, app: CONTROL_PLANE } },
      webhooks: [
        injector('namespace.sidecar-injector.meshfed.io', { matchLabels: { 'meshfed-injection': 'enabled' } }, NOT_OPTED_OUT),
        injector(
          'istio-namespace.sidecar-injector.meshfed.io',
          { matchExpressions: [{ key: 'meshfed-injection', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
          NOT_OPTED_OUT,
        ),
        injector('object.sidecar-injector.meshfed.io', noInjectionLabel, { matchLabels: { 'sidecar.istio.io/inject': 'true' } }),
      ],
    },
  ];
}
