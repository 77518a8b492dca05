/**
 * Localities of endpoints and proxies, read from labels. A registry puts an endpoint's locality
 * into its labels (the kube registry from its node or `istio-locality`, the file registry from the
 * workload's own labels), so an endpoint's locality is: region = `topology.kubernetes.io/region` (default empty),
 * zone = `topology.kubernetes.io/zone` (default: the workload's cluster), subzone =
 * `topology.istio.io/subzone` (default empty). Without labels every cluster is one locality
 * `{zone: <cluster>}` in an unnamed region.
 */

import { REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL } from '../registry/locality-labels.ts';

export { REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL };

/** Empty strings stand for "not set". */
export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

export function localityOf(labels: Readonly<Record<string, string>>, cluster: string): Locality {
  return { region: labels[REGION_LABEL] ?? '', zone: labels[ZONE_LABEL] ?? cluster, subZone: labels[SUBZONE_LABEL] ?? '' };
}

/** `region/zone/subzone`, the sort and grouping key of a locality. */
export function localityKey(l: Locality): string {
  return `${l.region}/${l.zone}/${l.subZone}`;
}

/**
 * Istio's `LocalityMatch`: `rule` is `region[/zone[/subzone]]`; `*` matches any value and a part
 * left out matches any value.
 */
export function localityMatches(l: Locality, rule: string): boolean {
  const [region, zone, subZone] = rule.split('/');
  const part = (want: string | undefined, have: string, optional: boolean): boolean =>
    want === '*' || (optional && (want === undefined || want === '')) || want === have;
  return part(region, l.region, false) && part(zone, l.zone, true) && part(subZone, l.subZone, true);
}
