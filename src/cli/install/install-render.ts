import { stringify } from 'yaml';
import { rbacManifests } from './install-rbac.ts';
import { controlPlaneManifests } from './install-control-plane.ts';
import { crdManifests } from './install-crds.ts';
import { gatewayManifests } from './install-gateway.ts';
import { PART_OF } from './install-labels.ts';
import type { InstallOptions } from './install-options.ts';
import { webhookManifests } from './install-webhooks.ts';
import type { Manifest } from './manifest.ts';

/**
 * Every object of one cluster's install, in apply order: the namespace, CRDs, RBAC, the control
 * plane, its webhooks, the east-west gateway. Pure: same options, same objects.
 */
export function installManifests(o: InstallOptions): Manifest[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: o.namespace, labels: { ...PART_OF, 'topology.istio.io/network': o.network } },
    },
    ...crdManifests(),
    ...rbacManifests(o),
    ...controlPlaneManifests(o),
    ...webhookManifests(o),
    ...gatewayManifests(o),
  ];
}

/**
 * Multi-document YAML, `kubectl apply -f -` ready; `header` lines become leading comments. Shared
 * objects are written out each time (no YAML anchors: kubectl and humans read plain documents).
 */
export function renderManifests(manifests: readonly Manifest[], header: readonly string[] = []): string {
  const head = header.map((l) => `# ${l}\n`).join('');
  return head + manifests.map((m) => `---\n${stringify(m, { lineWidth: 0, aliasDuplicateObjects: false })}`).join('');
}
