/**
 * A Kubernetes list/watch test server: the one stand-in this project accepts, because no API server
 * runs on these machines. It is a real HTTP/1.1 server on a loopback address (port 0) that speaks
 * enough of the Kubernetes REST API for `@kubernetes/client-node` (`makeInformer`,
 * `CustomObjectsApi`, `CoordinationV1Api`, `AuthenticationV1Api`, …) pointed at it through
 * `kubeConfig()`:
 *
 * - any group/version/resource, namespaced (`…/namespaces/NS/RES[/NAME]`) and cluster-scoped
 *   (`…/RES[/NAME]`); a cluster-wide list or watch of a namespaced resource spans every namespace;
 * - list (with `metadata.resourceVersion`), label and field selectors (equality and existence);
 * - watch (`?watch=true&resourceVersion=N&allowWatchBookmarks=true&timeoutSeconds=S`): newline-
 *   delimited ADDED / MODIFIED / DELETED / BOOKMARK events; from N it replays every retained event
 *   after N, from "" or "0" it sends the current objects as ADDED first;
 * - get / create / update (PUT) / patch (merge and JSON patch) / delete, with optimistic
 *   concurrency: a stale `metadata.resourceVersion` (or delete precondition) gets 409 Conflict;
 * - the `status` subresource: PUT and PATCH on `…/NAME/status` change only `.status`; the main
 *   resource's writes keep the stored `.status`; `metadata.generation` counts spec changes only;
 *   a write that changes nothing is a no-op (no new resourceVersion, no event), as on a real server;
 * - Lease objects (coordination.k8s.io/v1) are ordinary namespaced objects here;
 * - TokenReview (POST /apis/authentication.k8s.io/v1/tokenreviews) answers for tokens the test
 *   registers with `registerToken`, checking audiences the way the API server does.
 *
 * Test hooks: `compactTo(rv)` (a watch from an older resourceVersion then gets a 200 whose only
 * event is an ERROR carrying a Status of code 410, and the stream ends, as the real API server does);
 * `closeWatches()` (server-side close of every open watch); `holdWatches()` / `releaseWatches()`
 * (a gap during which new watches wait unanswered); `bookmark()` (a BOOKMARK at the current
 * resourceVersion to every watch that asked for bookmarks); `requests()` (every request seen, for
 * counting writes and lists).
 *
 * Resource versions are one global counter, as etcd's revision is. Not implemented: pagination
 * (`limit` is ignored and no `continue` is returned), server-side apply, strategic merge patch,
 * deletecollection, discovery, admission.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { applyJsonPatch, applyMergePatch } from './kube-json-patch.ts';

/** A stored object: any JSON object with Kubernetes metadata. */
export interface KubeTestObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** One request the server answered (watches included), in arrival order. */
export interface KubeTestRequest {
  method: string;
  /** The URL path, without the query. */
  path: string;
  query: Record<string, string>;
  /** The HTTP status sent. */
  status: number;
}

/** A user a registered token authenticates as, and the audiences the token was issued for. */
export interface KubeTestTokenUser {
  username: string;
  uid?: string;
  groups?: string[];
  /** The token's audiences (`aud`); TokenReview fails when none is among the requested ones. */
  audiences: string[];
}

/** Options of startKubeListWatchTestServer. */
export interface KubeListWatchTestServerOptions {
  /** The loopback address to listen on (port 0 is always used). */
  host: string;
  /** When set, every request must carry `Authorization: Bearer <token>`, else 401. */
  bearerToken?: string;
  /** The API server's own audiences, used when a TokenReview names none (default the in-cluster URL). */
  apiAudiences?: string[];
}

/** A running server. */
export interface KubeListWatchTestServer {
  /** `http://host:port`. */
  readonly url: string;
  /** A KubeConfig whose current context points at this server (and carries the bearer token). */
  kubeConfig(): KubeConfig;
  /** The latest resourceVersion issued. */
  resourceVersion(): number;
  /**
   * Forgets the event history up to and including `rv` (default: the latest). A watch from a
   * resourceVersion below `rv` then receives ERROR 410 Gone. Open watches are not affected.
   */
  compactTo(rv?: number): void;
  /** Ends every open watch response from the server side. */
  closeWatches(): void;
  /** Sends a BOOKMARK at the current resourceVersion to every open watch that allowed bookmarks. */
  bookmark(): void;
  /** The number of watches open now. */
  openWatches(): number;
  /**
   * Holds every new watch request unanswered until `releaseWatches()`, as a network gap would:
   * with `closeWatches()` first, writes made meanwhile are seen only when the watch comes back.
   */
  holdWatches(): void;
  /** Answers the held watch requests, in arrival order. */
  releaseWatches(): void;
  /** Registers a token TokenReview will accept (replacing any earlier one with the same value). */
  registerToken(token: string, user: KubeTestTokenUser): void;
  /** Every request answered so far (copies). */
  requests(): KubeTestRequest[];
  /** A stored object (a copy), or undefined; `namespace` '' for cluster-scoped objects. */
  get(group: string, resource: string, namespace: string, name: string): KubeTestObject | undefined;
  /** Closes open watches and the listener. Idempotent. */
  close(): Promise<void>;
}

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeTestObject;
}

interface Watcher {
  res: ServerResponse;
  collection: string;
  namespace: string | undefined;
  matches: (o: KubeTestObject) => boolean;
  bookmarks: boolean;
  apiVersion: string;
  kind: string;
  timer: NodeJS.Timeout | undefined;
}

interface Target {
  group: string;
  version: string;
  resource: string;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const BUILTIN_KINDS: Record<string, string> = {
  leases: 'Lease',
  namespaces: 'Namespace',
  services: 'Service',
  endpointslices: 'EndpointSlice',
  pods: 'Pod',
  configmaps: 'ConfigMap',
  secrets: 'Secret',
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function statusBody(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function parseTarget(pathname: string): Target | undefined {
  const seg = pathname.split('/').filter((s) => s !== '');
  let group: string;
  let version: string;
  let rest: string[];
  if (seg[0] === 'api' && seg[1] !== undefined) {
    group = '';
    version = seg[1];
    rest = seg.slice(2);
  } else if (seg[0] === 'apis' && seg[1] !== undefined && seg[2] !== undefined) {
    group = seg[1];
    version = seg[2];
    rest = seg.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = decodeURIComponent(rest[1] ?? '');
    rest = rest.slice(2);
  }
  const [resource, name, subresource, extra] = rest;
  if (resource === undefined || extra !== undefined) return undefined;
  return {
    group,
    version,
    resource,
    namespace,
    name: name === undefined ? undefined : decodeURIComponent(name),
    subresource,
  };
}

type Matcher = (o: KubeTestObject) => boolean;

function parseLabelSelector(sel: string | undefined): Matcher {
  if (sel === undefined || sel.trim() === '') return () => true;
  const terms = sel.split(',').map((t) => t.trim());
  const checks = terms.map((term): Matcher => {
    let m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) {
      const [, key = '', op, value] = m;
      return op === '!=' ? (o) => o.metadata.labels?.[key] !== value : (o) => o.metadata.labels?.[key] === value;
    }
    m = /^(!?)([^!=\s()]+)$/.exec(term);
    if (m) {
      const [, not, key = ''] = m;
      return not === '!' ? (o) => o.metadata.labels?.[key] === undefined : (o) => o.metadata.labels?.[key] !== undefined;
    }
    throw new HttpError(400, 'BadRequest', `labelSelector: unsupported term ${JSON.stringify(term)} (this test server takes =, ==, != and existence)`);
  });
  return (o) => checks.every((c) => c(o));
}

function parseFieldSelector(sel: string | undefined): Matcher {
  if (sel === undefined || sel.trim() === '') return () => true;
  const checks = sel.split(',').map((term): Matcher => {
    const m = /^(metadata\.name|metadata\.namespace)\s*(==|=|!=)\s*(\S*)$/.exec(term.trim());
    if (!m) throw new HttpError(400, 'BadRequest', `fieldSelector: unsupported term ${JSON.stringify(term)} (this test server takes metadata.name and metadata.namespace)`);
    const [, field, op, value] = m;
    const get = (o: KubeTestObject): string => (field === 'metadata.name' ? o.metadata.name : (o.metadata.namespace ?? ''));
    return op === '!=' ? (o) => get(o) !== value : (o) => get(o) === value;
  });
  return (o) => checks.every((c) => c(o));
}

function withoutMetaAndStatus(o: KubeTestObject): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return JSON.stringify(rest);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'BadRequest', 'request body is not valid JSON');
  }
}

/** Starts the server on `host`, port 0. The caller must `close()` it (in a teardown hook). */
export async function startKubeListWatchTestServer(opts: KubeListWatchTestServerOptions): Promise<KubeListWatchTestServer> {
  const apiAudiences = opts.apiAudiences ?? ['https://kubernetes.default.svc.cluster.local'];
  let rv = 0;
  let compacted = 0;
  // collection key (`group/resource`) → `namespace/name` → object
  const store = new Map<string, Map<string, KubeTestObject>>();
  const kinds = new Map<string, string>();
  const history: (WatchEvent & { collection: string })[] = [];
  const watchers = new Set<Watcher>();
  const tokens = new Map<string, KubeTestTokenUser>();
  const log: KubeTestRequest[] = [];
  let held: (() => void)[] | undefined;

  const collectionOf = (key: string): Map<string, KubeTestObject> => {
    let c = store.get(key);
    if (!c) {
      c = new Map();
      store.set(key, c);
    }
    return c;
  };

  const send = (w: Watcher, type: string, object: unknown): void => {
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  };

  const endWatch = (w: Watcher): void => {
    if (w.timer) clearTimeout(w.timer);
    watchers.delete(w);
    w.res.end();
  };

  const record = (collection: string, type: WatchEvent['type'], object: KubeTestObject): void => {
    const ev = { collection, rv: Number(object.metadata.resourceVersion), type, object: structuredClone(object) };
    history.push(ev);
    for (const w of watchers) {
      if (w.collection !== collection) continue;
      if (w.namespace !== undefined && (object.metadata.namespace ?? '') !== w.namespace) continue;
      if (!w.matches(object)) continue;
      send(w, type, object);
    }
  };

  const kindFor = (t: Target, body: KubeTestObject | undefined): string => {
    const key = `${t.group}/${t.resource}`;
    const k = body?.kind ?? kinds.get(key) ?? BUILTIN_KINDS[t.resource];
    if (k === undefined) throw new HttpError(400, 'BadRequest', "Object 'Kind' is missing");
    kinds.set(key, k);
    return k;
  };

  const apiVersionOf = (t: Target): string => (t.group === '' ? t.version : `${t.group}/${t.version}`);

  const asObject = (body: unknown, t: Target): KubeTestObject => {
    if (!isRecord(body) || !isRecord(body['metadata'])) throw new HttpError(400, 'BadRequest', 'body must be an object with metadata');
    const meta = body['metadata'];
    if (typeof meta['name'] !== 'string' || meta['name'] === '') {
      if (typeof meta['generateName'] === 'string' && meta['generateName'] !== '') {
        meta['name'] = `${meta['generateName']}${randomUUID().slice(0, 5)}`;
      } else throw new HttpError(422, 'Invalid', 'metadata.name: Required value: name or generateName is required');
    }
    const ns = typeof meta['namespace'] === 'string' ? meta['namespace'] : undefined;
    if (t.namespace !== undefined && ns !== undefined && ns !== t.namespace) {
      throw new HttpError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    return body as KubeTestObject;
  };

  const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

  const conflict = (t: Target, name: string): HttpError =>
    new HttpError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${t.resource}${t.group === '' ? '' : `.${t.group}`} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    );

  const notFound = (t: Target, name: string): HttpError =>
    new HttpError(404, 'NotFound', `${t.resource}${t.group === '' ? '' : `.${t.group}`} "${name}" not found`);

  /** Stores `next` as the new state of an existing object; no-op when nothing changed. */
  const replace = (t: Target, current: KubeTestObject, next: KubeTestObject, statusOnly: boolean): KubeTestObject => {
    const key = `${t.group}/${t.resource}`;
    const sentRv = next.metadata.resourceVersion;
    if (sentRv !== undefined && sentRv !== '' && sentRv !== current.metadata.resourceVersion) throw conflict(t, current.metadata.name);
    let merged: KubeTestObject;
    if (statusOnly) {
      merged = structuredClone(current);
      if (next['status'] === undefined) delete merged['status'];
      else merged['status'] = structuredClone(next['status']);
    } else {
      merged = structuredClone(next);
      merged.metadata = {
        ...structuredClone(next.metadata),
        uid: current.metadata.uid,
        creationTimestamp: current.metadata.creationTimestamp,
        generation: current.metadata.generation,
        resourceVersion: current.metadata.resourceVersion,
      };
      if (current.metadata.namespace !== undefined) merged.metadata.namespace = current.metadata.namespace;
      merged.apiVersion = current.apiVersion;
      merged.kind = current.kind;
      if (current['status'] === undefined) delete merged['status'];
      else merged['status'] = structuredClone(current['status']);
      if (withoutMetaAndStatus(merged) !== withoutMetaAndStatus(current)) merged.metadata.generation = (current.metadata.generation ?? 1) + 1;
    }
    if (JSON.stringify(merged) === JSON.stringify(current)) return current;
    rv += 1;
    merged.metadata.resourceVersion = String(rv);
    collectionOf(key).set(keyOf(current.metadata.namespace, current.metadata.name), merged);
    record(key, 'MODIFIED', merged);
    return merged;
  };

  const tokenReview = (body: unknown): Record<string, unknown> => {
    const spec = isRecord(body) && isRecord(body['spec']) ? body['spec'] : undefined;
    const token = spec?.['token'];
    if (typeof token !== 'string' || token === '') throw new HttpError(422, 'Invalid', 'spec.token: Required value');
    const requested = Array.isArray(spec?.['audiences']) ? spec['audiences'].filter((a): a is string => typeof a === 'string') : [];
    const wanted = requested.length > 0 ? requested : apiAudiences;
    const user = tokens.get(token);
    const base = { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec };
    if (!user) return { ...base, status: { authenticated: false, error: '[invalid bearer token, unknown]', user: {} } };
    const granted = user.audiences.filter((a) => wanted.includes(a));
    if (granted.length === 0) {
      return {
        ...base,
        status: {
          authenticated: false,
          error: `[invalid bearer token, token audiences ${JSON.stringify(user.audiences)} is invalid for the target audiences ${JSON.stringify(wanted)}, unknown]`,
          user: {},
        },
      };
    }
    return {
      ...base,
      status: {
        authenticated: true,
        user: { username: user.username, uid: user.uid ?? randomUUID(), groups: user.groups ?? [] },
        audiences: granted,
      },
    };
  };

  const startWatch = (t: Target, query: Record<string, string>, req: IncomingMessage, res: ServerResponse): number => {
    const key = `${t.group}/${t.resource}`;
    const matchLabels = parseLabelSelector(query['labelSelector']);
    const matchFields = parseFieldSelector(query['fieldSelector']);
    const from = query['resourceVersion'] ?? '';
    if (from !== '' && !/^[0-9]+$/.test(from)) throw new HttpError(400, 'BadRequest', `resourceVersion: invalid value ${JSON.stringify(from)}`);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = {
      res,
      collection: key,
      namespace: t.namespace,
      matches: (o) => matchLabels(o) && matchFields(o),
      bookmarks: query['allowWatchBookmarks'] === 'true',
      apiVersion: apiVersionOf(t),
      kind: kinds.get(key) ?? BUILTIN_KINDS[t.resource] ?? 'Unknown',
      timer: undefined,
    };
    const inScope = (o: KubeTestObject): boolean =>
      (w.namespace === undefined || (o.metadata.namespace ?? '') === w.namespace) && w.matches(o);
    const n = from === '' ? 0 : Number(from);
    if (n > 0 && n < compacted) {
      send(w, 'ERROR', { ...statusBody(410, 'Expired', `too old resource version: ${n} (${compacted})`) });
      res.end();
      return 200;
    }
    if (n === 0) {
      const current = [...(store.get(key)?.values() ?? [])].filter(inScope);
      current.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
      for (const o of current) send(w, 'ADDED', o);
    } else {
      for (const ev of history) if (ev.collection === key && ev.rv > n && inScope(ev.object)) send(w, ev.type, ev.object);
    }
    watchers.add(w);
    const timeout = Number(query['timeoutSeconds'] ?? '0');
    if (timeout > 0) w.timer = setTimeout(() => endWatch(w), timeout * 1000);
    req.on('close', () => {
      if (w.timer) clearTimeout(w.timer);
      watchers.delete(w);
    });
    return 200;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, url: URL, query: Record<string, string>): Promise<number> => {
    const method = req.method ?? 'GET';
    if (opts.bearerToken !== undefined && req.headers.authorization !== `Bearer ${opts.bearerToken}`) {
      throw new HttpError(401, 'Unauthorized', 'Unauthorized');
    }
    const t = parseTarget(url.pathname);
    if (!t) throw new HttpError(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    if (t.subresource !== undefined && t.subresource !== 'status') throw new HttpError(404, 'NotFound', `subresource ${t.subresource} is not served by this test server`);
    const key = `${t.group}/${t.resource}`;
    const json = (code: number, body: unknown): number => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return code;
    };

    if (t.group === 'authentication.k8s.io' && t.resource === 'tokenreviews') {
      if (method !== 'POST' || t.name !== undefined) throw new HttpError(405, 'MethodNotAllowed', 'tokenreviews only support create');
      return json(201, tokenReview(await readBody(req)));
    }

    const coll = collectionOf(key);
    if (t.name === undefined) {
      if (method === 'GET' && query['watch'] === 'true') {
        const queue = held;
        if (queue) await new Promise<void>((resolve) => queue.push(resolve));
        return startWatch(t, query, req, res);
      }
      if (method === 'GET') {
        const match = parseLabelSelector(query['labelSelector']);
        const matchFields = parseFieldSelector(query['fieldSelector']);
        const items = [...coll.values()]
          .filter((o) => t.namespace === undefined || (o.metadata.namespace ?? '') === t.namespace)
          .filter((o) => match(o) && matchFields(o))
          .sort((a, b) => keyOf(a.metadata.namespace, a.metadata.name).localeCompare(keyOf(b.metadata.namespace, b.metadata.name)));
        const kind = kinds.get(key) ?? BUILTIN_KINDS[t.resource];
        return json(200, { kind: kind ? `${kind}List` : 'List', apiVersion: apiVersionOf(t), metadata: { resourceVersion: String(rv) }, items });
      }
      if (method === 'POST') {
        const obj = asObject(await readBody(req), t);
        const k = keyOf(t.namespace, obj.metadata.name);
        if (coll.has(k)) {
          throw new HttpError(409, 'AlreadyExists', `${t.resource}${t.group === '' ? '' : `.${t.group}`} "${obj.metadata.name}" already exists`);
        }
        rv += 1;
        const stored: KubeTestObject = {
          ...structuredClone(obj),
          apiVersion: apiVersionOf(t),
          kind: kindFor(t, obj),
          metadata: {
            ...structuredClone(obj.metadata),
            ...(t.namespace === undefined ? {} : { namespace: t.namespace }),
            uid: randomUUID(),
            creationTimestamp: new Date().toISOString().replace(/\.[0-9]+Z$/, 'Z'),
            generation: 1,
            resourceVersion: String(rv),
          },
        };
        coll.set(k, stored);
        record(key, 'ADDED', stored);
        return json(201, stored);
      }
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported on a collection by this test server`);
    }

    const name = t.name;
    const current = coll.get(keyOf(t.namespace, name));
    const statusOnly = t.subresource === 'status';
    if (method === 'GET') {
      if (!current) throw notFound(t, name);
      return json(200, current);
    }
    if (method === 'PUT') {
      if (!current) throw notFound(t, name);
      const next = asObject(await readBody(req), t);
      if (next.metadata.name !== name) throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
      return json(200, replace(t, current, next, statusOnly));
    }
    if (method === 'PATCH') {
      if (!current) throw notFound(t, name);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
      const patch = await readBody(req);
      let next: unknown;
      if (type === 'application/merge-patch+json') next = applyMergePatch(current, patch);
      else if (type === 'application/json-patch+json') {
        const r = applyJsonPatch(current, patch);
        if (!r.ok) throw new HttpError(422, 'Invalid', `json patch: ${r.error}`);
        next = r.value;
      } else throw new HttpError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format (${type}); this test server takes merge and JSON patch`);
      return json(200, replace(t, current, asObject(next, t), statusOnly));
    }
    if (method === 'DELETE') {
      if (statusOnly) throw new HttpError(405, 'MethodNotAllowed', 'cannot delete a status subresource');
      if (!current) throw notFound(t, name);
      const body = await readBody(req);
      const pre = isRecord(body) && isRecord(body['preconditions']) ? body['preconditions']['resourceVersion'] : undefined;
      if (typeof pre === 'string' && pre !== current.metadata.resourceVersion) throw conflict(t, name);
      coll.delete(keyOf(t.namespace, name));
      rv += 1;
      const gone = structuredClone(current);
      gone.metadata.resourceVersion = String(rv);
      record(key, 'DELETED', gone);
      return json(200, gone);
    }
    throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported by this test server`);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://test');
    const query = Object.fromEntries(url.searchParams.entries());
    const entry: KubeTestRequest = { method: req.method ?? 'GET', path: url.pathname, query, status: 0 };
    log.push(entry);
    handle(req, res, url, query).then(
      (status) => {
        entry.status = status;
      },
      (e: unknown) => {
        const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', e instanceof Error ? e.message : String(e));
        entry.status = err.code;
        if (res.headersSent) {
          res.end();
          return;
        }
        res.writeHead(err.code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(statusBody(err.code, err.reason, err.message)));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host}:${port}`;
  let closed = false;

  return {
    url,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'kube-list-watch-test-server', server: url, skipTLSVerify: true }],
        users: [{ name: 'test', ...(opts.bearerToken === undefined ? {} : { token: opts.bearerToken }) }],
        contexts: [{ name: 'test', cluster: 'kube-list-watch-test-server', user: 'test' }],
        currentContext: 'test',
      });
      return kc;
    },
    resourceVersion: () => rv,
    compactTo(to = rv) {
      compacted = Math.max(compacted, to);
      for (let i = history.length - 1; i >= 0; i -= 1) if ((history[i]?.rv ?? 0) <= compacted) history.splice(i, 1);
    },
    closeWatches() {
      for (const w of [...watchers]) endWatch(w);
    },
    bookmark() {
      for (const w of watchers) {
        if (w.bookmarks) send(w, 'BOOKMARK', { kind: w.kind, apiVersion: w.apiVersion, metadata: { resourceVersion: String(rv) } });
      }
    },
    openWatches: () => watchers.size,
    holdWatches() {
      held ??= [];
    },
    releaseWatches() {
      const queue = held ?? [];
      held = undefined;
      for (const resolve of queue) resolve();
    },
    registerToken(token, user) {
      tokens.set(token, structuredClone(user));
    },
    requests: () => log.map((r) => ({ ...r, query: { ...r.query } })),
    get(group, resource, namespace, name) {
      const o = store.get(`${group}/${resource}`)?.get(`${namespace}/${name}`);
      return o === undefined ? undefined : structuredClone(o);
    },
    async close() {
      if (closed) return;
      closed = true;
      const queue = held ?? [];
      held = undefined;
      for (const resolve of queue) resolve();
      for (const w of [...watchers]) endWatch(w);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
