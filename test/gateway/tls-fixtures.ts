import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

/** A self-signed key and certificate made with `openssl req -x509` (EC P-256, 1 day). */
export interface SelfSigned {
  keyPem: string;
  certPem: string;
}

export function selfSigned(commonName: string): SelfSigned {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-gw-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${commonName}`],
      { stdio: 'ignore' },
    );
    return { keyPem: readFileSync(key, 'utf8'), certPem: readFileSync(cert, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Captures the first TLS record(s) Node's own `tls.connect` writes: a listener on `host` reads
 * until one complete record arrives, then both sides are destroyed.
 */
export async function captureClientHello(host: string, options: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const captured = new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (sock) => {
        let buf = Buffer.alloc(0);
        sock.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
            sock.destroy();
            resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)));
          }
        });
        sock.on('error', reject);
      });
    });
    const client = tls.connect({ host, port, ...options, rejectUnauthorized: false });
    client.on('error', () => {});
    const hello = await captured;
    client.destroy();
    return hello;
  } finally {
    server.close();
  }
}

/** Re-frames the handshake bytes of a single-record ClientHello into records of `size` bytes. */
export function reframe(singleRecord: Buffer, size: number): Buffer {
  const handshake = singleRecord.subarray(5);
  const out: Buffer[] = [];
  for (let i = 0; i < handshake.length; i += size) {
    const frag = handshake.subarray(i, i + size);
    const header = Buffer.from([22, 3, 1, 0, 0]);
    header.writeUInt16BE(frag.length, 3);
    out.push(header, frag);
  }
  return Buffer.concat(out);
}
