import test from 'ava';
import { SidecarTelemetry } from '../../src/sidecar/index.ts';

/** The xDS health gauges of a sidecar's 15090 exposition, from a state the test drives (prom-client prints NaN as `Nan`, which Prometheus parses). */
const ROWS = [
  { name: 'connected, config 12 s ago', connected: true, lastConfigAt: 88_000, connectedState: '1', since: '12' },
  { name: 'disconnected, config 90 s ago', connected: false, lastConfigAt: 10_000, connectedState: '0', since: '90' },
  { name: 'disconnected, never configured', connected: false, lastConfigAt: undefined, connectedState: '0', since: 'Nan' },
] as const;

function value(text: string, name: string): string | undefined {
  return text
    .split('\n')
    .find((l) => l.startsWith(`${name} `))
    ?.split(' ')[1];
}

for (const row of ROWS) {
  test(`control-plane gauges: ${row.name}`, async (t) => {
    const telemetry = new SidecarTelemetry();
    telemetry.trackControlPlane({ connected: () => row.connected, lastConfigAt: () => row.lastConfigAt }, () => 100_000);
    const text = await telemetry.metrics();
    t.is(value(text, 'envoy_control_plane_connected_state'), row.connectedState);
    t.is(value(text, 'meshfed_xds_seconds_since_last_config'), row.since);
  });
}
