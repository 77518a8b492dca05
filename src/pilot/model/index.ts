export { buildSnapshot, type SnapshotInput } from './build-snapshot.ts';
export { exportState } from './export-state.ts';
export type { EndpointModel, LocalEndpoint, RemoteEndpoint, ServiceModel, ServicePort, Snapshot } from './snapshot.ts';
export { workloadKey } from './snapshot.ts';
export { endpointsFor, exportedHostnames, hasMeshEndpoints, matchesLabels, ownEndpoints, subsetsOf } from './snapshot-queries.ts';
export { diffSnapshots, type SnapshotChange } from './snapshot-diff.ts';
export { viewFor } from './snapshot-view.ts';
