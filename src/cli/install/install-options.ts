import { isIP } from 'node:net';

/**
 * The options of `meshfed install`, validated once at the boundary and frozen. Every error names
 * its flag, in one line.
 */
export interface InstallOptions {
  readonly cluster: string;
  readonly network: string;
  readonly namespace: string;
  readonly image: string;
  readonly trustDomain: string;
  /** This cluster's east-west gateway address as other clusters reach it. */
  readonly gatewayAddress: string;
  readonly gatewayServiceType: 'LoadBalancer' | 'NodePort';
  readonly gatewayNodePort: number;
  /** The local Consul agent's HTTP address (host:port) the federation controller uses. */
  readonly consul: string;
}

/** The flags as commander hands them over (strings, defaults applied). */
export interface InstallFlags {
  cluster: string;
  network: string;
  namespace: string;
  image: string;
  trustDomain: string;
  gatewayAddress: string;
  gatewayServiceType: string;
  gatewayNodePort: string;
  consul?: string;
}

export class InstallOptionError extends Error {
  readonly code = 'INSTALL_INVALID_OPTION';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const IMAGE = /^[a-z0-9]+([._/:@-][A-Za-z0-9_.-]+)*$/;

function check(ok: boolean, flag: string, value: string, why: string): void {
  if (!ok) throw new InstallOptionError(`invalid ${flag} ${JSON.stringify(value)}: ${why}`);
}

/** Validates `flags`; throws `InstallOptionError` naming the first bad flag. */
export function parseInstallOptions(flags: InstallFlags): InstallOptions {
  const { cluster, network, namespace, image, trustDomain, gatewayAddress } = flags;
  check(cluster.length <= 40 && DNS_LABEL.test(cluster), '--cluster', cluster, 'must be a DNS label (lower-case letters, digits, -) of at most 40 characters');
  check(network.length <= 63 && LABEL_VALUE.test(network), '--network', network, 'must be a label value (letters, digits, -, _, .) of at most 63 characters');
  check(namespace.length <= 63 && DNS_LABEL.test(namespace), '--namespace', namespace, 'must be a DNS label (lower-case letters, digits, -)');
  check(IMAGE.test(image), '--image', image, 'must be an image reference such as meshfed:0.1.0');
  check(trustDomain.length <= 253 && DNS_SUBDOMAIN.test(trustDomain), '--trust-domain', trustDomain, 'must be a DNS name such as cluster.local');
  check(isIP(gatewayAddress) !== 0, '--gateway-address', gatewayAddress, 'must be an IP address');
  const type = flags.gatewayServiceType;
  check(type === 'LoadBalancer' || type === 'NodePort', '--gateway-service-type', type, 'must be LoadBalancer or NodePort');
  const nodePort = Number(flags.gatewayNodePort);
  check(Number.isInteger(nodePort) && nodePort >= 30000 && nodePort <= 32767, '--gateway-node-port', flags.gatewayNodePort, 'must be a port in the NodePort range 30000..32767');
  const consul = flags.consul ?? `consul.${namespace}.svc:8500`;
  const colon = consul.lastIndexOf(':');
  const consulPort = Number(consul.slice(colon + 1));
  check(colon > 0 && Number.isInteger(consulPort) && consulPort >= 1 && consulPort <= 65535, '--consul', consul, 'must be host:port');
  return Object.freeze({
    cluster,
    network,
    namespace,
    image,
    trustDomain,
    gatewayAddress,
    gatewayServiceType: type as InstallOptions['gatewayServiceType'],
    gatewayNodePort: nodePort,
    consul,
  });
}
