/**
 * The labels that carry a workload's locality, as Kubernetes and Istio name them. The model adds
 * them to every endpoint's labels (Istio's `AugmentLabels`), and reads localities back from them.
 */
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const SUBZONE_LABEL = 'topology.istio.io/subzone';
/** Istio's pod label overriding the node's locality: `region.zone.subzone` (dots, as labels forbid `/`). */
export const ISTIO_LOCALITY_LABEL = 'istio-locality';
