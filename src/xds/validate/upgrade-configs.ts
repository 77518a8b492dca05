import { type Issues, isObj, join, list, onlyKeys, optWrappedBool } from './reader.ts';

/**
 * `upgrade_configs` of an HttpConnectionManager or a RouteAction: the upgrades the proxy lets
 * through. meshfed honours `websocket` only (HTTP/1.1 `Upgrade: websocket` from the app, RFC 8441
 * extended CONNECT on the mesh leg), with `enabled` (a route's entry overrides its HCM's). Upgrade
 * filters and CONNECT termination (`connect_config`) are refused. Returns whether websocket is
 * enabled when the list names it; undefined when it does not.
 */
export function websocketUpgrade(o: Record<string, unknown>, path: string, issues: Issues): boolean | undefined {
  let websocket: boolean | undefined;
  list(o, 'upgrade_configs', path, issues).forEach((u, i) => {
    const p = join(join(path, 'upgrade_configs'), i);
    if (!isObj(u)) {
      issues.add(p, 'not an object');
      return;
    }
    onlyKeys(u, ['upgrade_type', 'enabled'], p, issues);
    const type = u['upgrade_type'];
    if (typeof type !== 'string' || type.toLowerCase() !== 'websocket') {
      issues.add(join(p, 'upgrade_type'), `unsupported upgrade ${JSON.stringify(type)} (only websocket)`);
      return;
    }
    if (websocket !== undefined) issues.add(p, 'websocket is listed twice');
    websocket = optWrappedBool(u, 'enabled', p, issues) ?? true;
  });
  return websocket;
}
