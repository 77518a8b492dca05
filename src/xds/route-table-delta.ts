import type { RouteTable, VirtualHostConfig } from './config-types.ts';
import { decodeMessage, messageKey, splitRepeatedField } from './discovery-response-raw.ts';
import { validateVirtualHost } from './validate/route-configuration.ts';

/**
 * Re-validation of a changed RouteConfiguration from its accepted version, one virtual host at a
 * time. A sidecar's route config holds a virtual host per service port (thousands in a big mesh),
 * and a VirtualService edit changes one of them; Envoy would need VHDS for this, meshfed compares
 * the encoded virtual hosts instead. Exactness: every field but `virtual_hosts` (field 2) must be
 * byte-equal to the accepted version's (so the route-configuration-level checks and the name give
 * the same result), and a virtual host's validation depends on nothing but its own bytes
 * (validateVirtualHost). A virtual host byte-equal to an accepted one of the same name keeps its
 * validated value; the others are decoded and validated. Anything else (another top-level field,
 * an invalid or duplicate-named virtual host, malformed bytes) answers undefined: the receiver then
 * decodes and validates the whole resource, so errors read as they always did.
 */

const VIRTUAL_HOSTS_FIELD = 2;
const VIRTUAL_HOST_TYPE = 'envoy.config.route.v3.VirtualHost';

interface HostPart {
  readonly bytes: Buffer;
  readonly value: VirtualHostConfig;
}

/** An accepted route table with the encoded form of each of its parts. */
export class RouteTableBase {
  private constructor(
    private readonly rest: Buffer,
    private readonly hosts: ReadonlyMap<string, HostPart>,
    private readonly name: string,
  ) {}

  /** The parts of an accepted table, from the bytes it was validated from; undefined when they do not line up. */
  static of(bytes: Buffer, table: RouteTable): RouteTableBase | undefined {
    let split: ReturnType<typeof splitRepeatedField>;
    try {
      split = splitRepeatedField(bytes, VIRTUAL_HOSTS_FIELD);
    } catch {
      return undefined;
    }
    if (split.parts.length !== table.virtualHosts.length) return undefined;
    const hosts = new Map<string, HostPart>();
    for (const [i, part] of split.parts.entries()) {
      const value = table.virtualHosts[i];
      const key = messageKey(part);
      if (value === undefined || key === undefined || key !== value.name || hosts.has(key)) return undefined;
      hosts.set(key, { bytes: Buffer.from(part), value });
    }
    return new RouteTableBase(Buffer.from(split.rest), hosts, table.name);
  }

  /**
   * The table new `bytes` of the same resource validate to, validating only the virtual hosts that
   * differ, with the base for the next update and how many virtual hosts were decoded. Undefined:
   * validate the whole resource instead.
   */
  update(bytes: Buffer): { value: RouteTable; base: RouteTableBase; decoded: number } | undefined {
    let split: ReturnType<typeof splitRepeatedField>;
    try {
      split = splitRepeatedField(bytes, VIRTUAL_HOSTS_FIELD);
    } catch {
      return undefined;
    }
    if (!split.rest.equals(this.rest)) return undefined;
    const hosts = new Map<string, HostPart>();
    const virtualHosts: VirtualHostConfig[] = [];
    let decoded = 0;
    for (const [i, part] of split.parts.entries()) {
      const key = messageKey(part);
      if (key === undefined || hosts.has(key)) return undefined;
      const prev = this.hosts.get(key);
      let host: HostPart;
      if (prev?.bytes.equals(part)) host = prev;
      else {
        decoded++;
        let v: ReturnType<typeof validateVirtualHost>;
        try {
          v = validateVirtualHost(decodeMessage(VIRTUAL_HOST_TYPE, part), i);
        } catch {
          return undefined;
        }
        if (!v.ok || v.value.name !== key) return undefined;
        host = { bytes: Buffer.from(part), value: v.value };
      }
      hosts.set(key, host);
      virtualHosts.push(host.value);
    }
    return { value: { name: this.name, virtualHosts }, base: new RouteTableBase(this.rest, hosts, this.name), decoded };
  }
}
