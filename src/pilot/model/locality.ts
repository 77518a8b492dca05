/**
 * Localities of endpoints and proxies. meshfed has no nodes to read topology from, so a workload's
 * locality comes from its own labels: region = `topology.kubernetes.io/region` (default empty),
 * zone = `topology.kubernetes.io/zone` (default: the workload's cluster), subzone =
 * `topology.istio.io/subzone` (default empty). Without labels every cluster is one locality
 * `{zone: <cluster>}` in an unnamed region.
 */

export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const SUBZONE_LABEL = 'topology.istio.io/subzone';

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
