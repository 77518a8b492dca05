import test from 'ava';
import { parseTopology } from '../../src/cli/runner/topology.ts';
import type { ServiceProtocol } from '../../src/common/service-protocol.ts';

/** The topology file's service protocol: chosen by selectProtocol, errors with their path. Binds nothing. */
function mesh(service: Record<string, unknown>, app: unknown = 'echo'): unknown {
  return {
    apiVersion: 'meshfed.dev/v1alpha1',
    kind: 'LocalMesh',
    metadata: { name: 'm' },
    spec: { clusters: [{ name: 'east', workloads: [{ name: 'db', service: { name: 'db', port: 9000, ...service }, app }] }] },
  };
}

const rows: { title: string; service: Record<string, unknown>; app?: unknown; protocol?: ServiceProtocol; portName?: string; error?: string }[] = [
  { title: 'no protocol, no name: http (the default)', service: {}, protocol: 'http' },
  { title: 'explicit protocol', service: { protocol: 'tcp' }, protocol: 'tcp' },
  { title: 'appProtocol', service: { appProtocol: 'kubernetes.io/h2c' }, protocol: 'http2' },
  { title: 'port name prefix, name kept', service: { portName: 'tcp-db' }, protocol: 'tcp', portName: 'tcp-db' },
  { title: 'https- name is tls', service: { portName: 'https-x' }, app: { command: ['true'] }, protocol: 'tls', portName: 'https-x' },
  { title: 'unknown protocol', service: { protocol: 'sctp' }, error: 'spec.clusters[0].workloads[0].service.protocol: unknown protocol "sctp"' },
  { title: 'protocol and appProtocol together', service: { protocol: 'tcp', appProtocol: 'tcp' }, error: 'spec.clusters[0].workloads[0].service.appProtocol: set protocol or appProtocol, not both' },
  { title: 'udp name', service: { portName: 'udp-dns' }, error: 'spec.clusters[0].workloads[0].service.portName: "udp-dns": UDP is not proxied' },
  { title: 'port name not an IANA service name', service: { portName: 'Tcp_DB' }, error: 'spec.clusters[0].workloads[0].service.portName: must be an IANA service name' },
  { title: 'tls with the echo app', service: { protocol: 'tls' }, error: 'spec.clusters[0].workloads[0].app: the built-in echo app needs a certificate for a tls port' },
];

for (const row of rows) {
  test(`topology service protocol: ${row.title}`, (t) => {
    const r = parseTopology(mesh(row.service, row.app), '/tmp/mesh.yaml');
    if (row.error !== undefined) {
      if (r.ok) return t.fail('accepted');
      t.true(r.errors.some((e) => e.startsWith(row.error ?? '')), r.errors.join('\n'));
      return;
    }
    if (!r.ok) return t.fail(r.errors.join('\n'));
    const w = r.value.clusters[0]?.workloads[0];
    t.is(w?.service.protocol, row.protocol);
    t.is(w?.service.portName, row.portName);
  });
}
