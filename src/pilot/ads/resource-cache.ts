import { createHash } from 'node:crypto';
import type { Logger } from '../../common/log.ts';
import { encodeResourceField } from '../../xds/discovery-response-codec.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { XdsTypeUrl } from '../../xds/type-urls.ts';
import type { GenerationKey, PushSnapshot, ResourceGenerator } from './push-interface.ts';

/** One generated resource, encoded once as a DiscoveryResponse `resources` field. */
export interface EncodedResource {
  readonly name: string;
  /** Digest of `field`: equal digests mean equal content. */
  readonly hash: string;
  readonly field: Buffer;
}

/** Every resource of one type for one generation key over one snapshot, in generator order. */
export interface GeneratedSet {
  readonly resources: readonly EncodedResource[];
}

/**
 * Generated and encoded resources per (snapshot, type, generation key). The entries of a snapshot
 * live in a WeakMap keyed by the snapshot itself, so they go when the snapshot does; nothing is
 * ever evicted by hand. Proxies without a key (`GenerationKey` returns undefined) are generated
 * for on every call. A generator that throws throws out of `get` (the caller logs it and sends
 * nothing); resources of another type than asked for are logged and dropped.
 */
export class ResourceCache<S extends PushSnapshot & object> {
  private readonly bySnapshot = new WeakMap<S, Map<string, GeneratedSet>>();
  /** Encodings by resource object: a generator that shares one object between keys gets it encoded once. */
  private readonly byResource = new WeakMap<object, EncodedResource>();
  /** Generator calls made, for /debug and tests. */
  generated = 0;

  constructor(
    private readonly generate: ResourceGenerator<S>,
    private readonly key: GenerationKey<S>,
    private readonly log: Logger,
  ) {}

  get(node: ProxyNode, typeUrl: XdsTypeUrl, snapshot: S): GeneratedSet {
    const k = this.key(node, typeUrl, snapshot);
    if (k === undefined) return this.build(node, typeUrl, snapshot);
    let perSnapshot = this.bySnapshot.get(snapshot);
    if (!perSnapshot) {
      perSnapshot = new Map();
      this.bySnapshot.set(snapshot, perSnapshot);
    }
    const cacheKey = `${typeUrl}\n${k}`;
    let set = perSnapshot.get(cacheKey);
    if (!set) {
      set = this.build(node, typeUrl, snapshot);
      perSnapshot.set(cacheKey, set);
    }
    return set;
  }

  private build(node: ProxyNode, typeUrl: XdsTypeUrl, snapshot: S): GeneratedSet {
    this.generated++;
    const resources: EncodedResource[] = [];
    for (const r of this.generate(node, typeUrl, snapshot)) {
      if (r.resource['@type'] !== typeUrl) {
        this.log.error({ typeUrl, name: r.name, type: r.resource['@type'] }, 'generator returned a resource of another type');
        continue;
      }
      let encoded = this.byResource.get(r.resource);
      if (!encoded || encoded.name !== r.name) {
        const field = encodeResourceField(r.resource);
        encoded = { name: r.name, hash: createHash('sha256').update(field).digest('base64'), field };
        this.byResource.set(r.resource, encoded);
      }
      resources.push(encoded);
    }
    return { resources };
  }
}
