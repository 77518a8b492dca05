import test from 'ava';
import { isHttpProtocol, type ProtocolInput, type ProtocolSource, selectProtocol, type ServiceProtocol } from '../../src/common/service-protocol.ts';

/** Istio's protocol selection (istio.io "Protocol Selection"), row by row. Binds no sockets. */
const chosen: { input: ProtocolInput; protocol: ServiceProtocol; source: ProtocolSource }[] = [
  // Explicit protocol wins; Istio's names are case-insensitive.
  { input: { protocol: 'tcp', portName: 'http-web' }, protocol: 'tcp', source: 'protocol' },
  { input: { protocol: 'HTTP2' }, protocol: 'http2', source: 'protocol' },
  { input: { protocol: 'grpc-web' }, protocol: 'grpc-web', source: 'protocol' },
  { input: { protocol: 'https' }, protocol: 'tls', source: 'protocol' },
  { input: { protocol: 'TLS' }, protocol: 'tls', source: 'protocol' },
  // Istio proxies these as TCP while their protocol filters are off (its default).
  { input: { protocol: 'mongo' }, protocol: 'tcp', source: 'protocol' },
  { input: { protocol: 'redis' }, protocol: 'tcp', source: 'protocol' },
  { input: { protocol: 'MySQL' }, protocol: 'tcp', source: 'protocol' },
  // appProtocol beats the port name, as in Kubernetes and Istio.
  { input: { appProtocol: 'grpc', portName: 'http' }, protocol: 'grpc', source: 'appProtocol' },
  { input: { appProtocol: 'kubernetes.io/h2c' }, protocol: 'http2', source: 'appProtocol' },
  { input: { appProtocol: 'kubernetes.io/ws' }, protocol: 'http', source: 'appProtocol' },
  { input: { appProtocol: 'kubernetes.io/wss' }, protocol: 'tls', source: 'appProtocol' },
  { input: { appProtocol: 'tcp-legacy' }, protocol: 'tcp', source: 'appProtocol' },
  // Port name `<protocol>[-<suffix>]`.
  { input: { portName: 'http' }, protocol: 'http', source: 'portName' },
  { input: { portName: 'http-web' }, protocol: 'http', source: 'portName' },
  { input: { portName: 'http2-api' }, protocol: 'http2', source: 'portName' },
  { input: { portName: 'grpc-store' }, protocol: 'grpc', source: 'portName' },
  { input: { portName: 'grpc-web' }, protocol: 'grpc-web', source: 'portName' },
  { input: { portName: 'grpc-web-ui' }, protocol: 'grpc-web', source: 'portName' },
  { input: { portName: 'tcp-db' }, protocol: 'tcp', source: 'portName' },
  { input: { portName: 'tls-passthrough' }, protocol: 'tls', source: 'portName' },
  { input: { portName: 'https-admin' }, protocol: 'tls', source: 'portName' },
  { input: { portName: 'mongo' }, protocol: 'tcp', source: 'portName' },
  { input: { portName: 'TCP-upper' }, protocol: 'tcp', source: 'portName' },
  // No recognised prefix (`http2foo` is not `http2-foo`), or no name: the default.
  { input: { portName: 'http2foo' }, protocol: 'http', source: 'default' },
  { input: { portName: 'web' }, protocol: 'http', source: 'default' },
  { input: {}, protocol: 'http', source: 'default' },
];

for (const row of chosen) {
  test(`selectProtocol ${JSON.stringify(row.input)} → ${row.protocol} (${row.source})`, (t) => {
    t.deepEqual(selectProtocol(row.input), { ok: true, value: { protocol: row.protocol, source: row.source } });
  });
}

const refused: { input: ProtocolInput; field: keyof ProtocolInput; message: RegExp }[] = [
  { input: { protocol: 'udp' }, field: 'protocol', message: /UDP is not proxied/ },
  { input: { protocol: 'quic' }, field: 'protocol', message: /unknown protocol "quic": must be one of http, http2, grpc, grpc-web, tcp, tls, https/ },
  { input: { protocol: 'http_proxy' }, field: 'protocol', message: /HTTP_PROXY/ },
  { input: { appProtocol: 'thrift' }, field: 'appProtocol', message: /unknown protocol "thrift"/ },
  { input: { appProtocol: 'kubernetes.io/unknown' }, field: 'appProtocol', message: /unknown protocol/ },
  { input: { protocol: 'tcp', appProtocol: 'tcp' }, field: 'appProtocol', message: /set protocol or appProtocol, not both/ },
  { input: { portName: 'udp-dns' }, field: 'portName', message: /UDP is not proxied/ },
];

for (const row of refused) {
  test(`selectProtocol refuses ${JSON.stringify(row.input)} at ${row.field}`, (t) => {
    const r = selectProtocol(row.input);
    if (r.ok) return t.fail(`chose ${r.value.protocol}`);
    t.is(r.errors.length, 1);
    t.is(r.errors[0]?.field, row.field);
    t.regex(r.errors[0]?.message ?? '', row.message);
  });
}

test('isHttpProtocol: the HTTP family goes to RDS, tcp and tls to tcp_proxy', (t) => {
  t.deepEqual(
    (['http', 'http2', 'grpc', 'grpc-web', 'tcp', 'tls'] as const).map((p) => [p, isHttpProtocol(p)]),
    [
      ['http', true],
      ['http2', true],
      ['grpc', true],
      ['grpc-web', true],
      ['tcp', false],
      ['tls', false],
    ],
  );
});
