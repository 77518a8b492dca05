import { CRD_KINDS } from './install-crds.ts';
import { CONTROL_PLANE, GATEWAY, PART_OF } from './install-labels.ts';
import type { InstallOptions } from './install-options.ts';
import type { Manifest } from './manifest.ts';

const READ = ['get', 'list', 'watch'];
const WRITE_STATUS = ['get', 'update', 'patch'];

function plurals(group: string): string[] {
  return CRD_KINDS.filter((k) => k.group === group).map((k) => k.plural);
}

/**
 * What the control plane needs, as istiod has it: read Services, EndpointSlices, Pods, Namespaces
 * and Nodes (kube registry); read meshfed's config kinds and write their status; write
 * ServiceImports (federation); TokenReview (Citadel in Kubernetes mode); publish the
 * `meshfed-ca-root-cert` ConfigMap in every namespace and keep the webhook configurations'
 * caBundle current; Leases in its own namespace (each writer's leader election).
 */
export function rbacManifests(o: InstallOptions): Manifest[] {
  const ns = o.namespace;
  const clusterName = `${CONTROL_PLANE}-${ns}`;
  const istio = plurals('networking.istio.io');
  const security = plurals('security.istio.io');
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CONTROL_PLANE, namespace: ns, labels: { ...PART_OF, app: CONTROL_PLANE } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: GATEWAY, namespace: ns, labels: { ...PART_OF, app: GATEWAY } } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: clusterName, labels: { ...PART_OF } },
      rules: [
        { apiGroups: [''], resources: ['services', 'endpoints', 'pods', 'namespaces', 'nodes'], verbs: READ },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
        { apiGroups: ['networking.istio.io'], resources: istio, verbs: READ },
        { apiGroups: ['networking.istio.io'], resources: istio.map((p) => `${p}/status`), verbs: WRITE_STATUS },
        { apiGroups: ['security.istio.io'], resources: security, verbs: READ },
        { apiGroups: ['security.istio.io'], resources: security.map((p) => `${p}/status`), verbs: WRITE_STATUS },
        { apiGroups: ['multicluster.x-k8s.io'], resources: ['serviceexports'], verbs: READ },
        { apiGroups: ['multicluster.x-k8s.io'], resources: ['serviceexports/status', 'serviceimports/status'], verbs: WRITE_STATUS },
        { apiGroups: ['multicluster.x-k8s.io'], resources: ['serviceimports'], verbs: [...READ, 'create', 'update', 'patch', 'delete'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: [...READ, 'create', 'update'] },
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
          verbs: [...READ, 'update', 'patch'],
        },
        { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: clusterName, labels: { ...PART_OF } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
      subjects: [{ kind: 'ServiceAccount', name: CONTROL_PLANE, namespace: ns }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: CONTROL_PLANE, namespace: ns, labels: { ...PART_OF } },
      rules: [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: [...READ, 'create', 'update', 'patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: CONTROL_PLANE, namespace: ns, labels: { ...PART_OF } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONTROL_PLANE },
      subjects: [{ kind: 'ServiceAccount', name: CONTROL_PLANE, namespace: ns }],
    },
  ];
}
