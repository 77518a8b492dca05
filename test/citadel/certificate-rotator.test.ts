import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import {
  type CertBundle,
  CertificateRequestError,
  CertificateRotator,
  bootstrapTokenAuthenticator,
  issueServingCertificate,
  type RotatorClock,
  startCitadel,
} from '../../src/citadel/index.ts';
import { makeCa, randomToken, silentLogger, TRUST_DOMAIN, tempDir, writeTokenFile } from './fixtures.ts';

/** A manual clock: timers fire only when the test advances time. */
class FakeClock implements RotatorClock {
  #now = 1_000_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #next = 1;
  readonly delays: number[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.delays.push(ms);
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward, firing due timers in order and letting their async work settle. */
  async advance(ms: number): Promise<void> {
    await settle(); // let pending async work register its timers first
    const target = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, v]) => v.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

const LIFE_MS = 100_000;

function fakeBundle(clock: FakeClock, n: number): CertBundle {
  return {
    privateKeyPem: `key-${n}`,
    certChainPem: `chain-${n}`,
    rootsPem: 'roots',
    spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews',
    notBefore: new Date(clock.now() - 60_000),
    notAfter: new Date(clock.now() + LIFE_MS),
  };
}

test('renews at half of the remaining life, not before', async (t) => {
  const clock = new FakeClock();
  let calls = 0;
  const rotator = new CertificateRotator({ fetch: async () => fakeBundle(clock, ++calls), clock, logger: silentLogger });
  t.teardown(() => rotator.close());
  const rotated: CertBundle[] = [];
  rotator.on('rotated', (b) => rotated.push(b));
  const first = await rotator.start();
  t.is(first.certChainPem, 'chain-1');
  t.deepEqual(clock.delays, [LIFE_MS / 2]);
  await clock.advance(LIFE_MS / 2 - 1);
  t.is(calls, 1, 'no renewal before half-life');
  await clock.advance(1);
  t.is(calls, 2, 'renewed at half-life');
  t.is(rotator.current().certChainPem, 'chain-2');
  t.deepEqual(rotated.map((b) => b.certChainPem), ['chain-2']);
  await clock.advance(LIFE_MS / 2);
  t.is(calls, 3, 'the renewed certificate is itself renewed at its half-life');
});

test('a failed renewal keeps the current certificate, retries with backoff, and reports errors', async (t) => {
  const clock = new FakeClock();
  let calls = 0;
  let failuresLeft = 0;
  const rotator = new CertificateRotator({
    fetch: async () => {
      calls++;
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new CertificateRequestError('Citadel unavailable', { grpcCode: grpc.status.UNAVAILABLE });
      }
      return fakeBundle(clock, calls);
    },
    clock,
    logger: silentLogger,
    retryInitialMs: 1000,
  });
  t.teardown(() => rotator.close());
  const errors: Error[] = [];
  rotator.on('error', (e) => errors.push(e));
  await rotator.start();
  failuresLeft = 2;
  await clock.advance(LIFE_MS / 2);
  t.is(errors.length, 1);
  t.is(rotator.current().certChainPem, 'chain-1', 'old certificate kept');
  t.is(clock.delays.at(-1), 1000);
  await clock.advance(1000);
  t.is(errors.length, 2);
  t.is(clock.delays.at(-1), 2000, 'backoff doubles');
  await clock.advance(1999);
  t.is(calls, 3);
  await clock.advance(1);
  t.is(calls, 4);
  t.is(rotator.current().certChainPem, 'chain-4');
  t.is(clock.delays.at(-1), LIFE_MS / 2, 'back to half-life scheduling after success');
});

test('renewal failures without an error listener do not crash', async (t) => {
  const clock = new FakeClock();
  let calls = 0;
  const rotator = new CertificateRotator({
    fetch: async () => {
      calls++;
      if (calls > 1) throw new Error('boom');
      return fakeBundle(clock, calls);
    },
    clock,
    logger: silentLogger,
  });
  t.teardown(() => rotator.close());
  await rotator.start();
  await clock.advance(LIFE_MS / 2 + 1000 + 2000);
  t.is(calls, 4);
  t.is(rotator.current().certChainPem, 'chain-1');
  rotator.close();
  t.is(clock.pending, 0, 'close() cancels the retry timer');
});

test('start retries transient failures and rejects permanent ones and close()', async (t) => {
  const clock = new FakeClock();
  let calls = 0;
  const transient = new CertificateRotator({
    fetch: async () => {
      if (++calls < 3) throw new CertificateRequestError('unavailable', { grpcCode: grpc.status.UNAVAILABLE });
      return fakeBundle(clock, calls);
    },
    clock,
    logger: silentLogger,
  });
  t.teardown(() => transient.close());
  const started = transient.start();
  await clock.advance(1000);
  await clock.advance(2000);
  t.is((await started).certChainPem, 'chain-3');

  const denied = new CertificateRotator({
    fetch: async () => {
      throw new CertificateRequestError('denied', { grpcCode: grpc.status.UNAUTHENTICATED });
    },
    clock,
    logger: silentLogger,
  });
  const e = await t.throwsAsync(denied.start(), { instanceOf: CertificateRequestError });
  t.is(e.grpcCode, grpc.status.UNAUTHENTICATED);
  t.throws(() => denied.current());

  const closing = new CertificateRotator({ fetch: async () => Promise.reject(new Error('down')), clock, logger: silentLogger });
  const pending = closing.start();
  await settle();
  closing.close();
  await t.throwsAsync(pending);
});

test('with a real Citadel, a 4 s certificate is replaced by a different one', async (t) => {
  const { ca } = await makeCa(t);
  const dir = await tempDir(t);
  const token = randomToken();
  const tokenFile = await writeTokenFile(path.join(dir, 'tokens.json'), { [token]: { namespace: 'default', serviceAccount: 'reviews' } });
  const citadel = await startCitadel({
    host: '127.0.0.1',
    port: 0,
    ca,
    trustDomain: TRUST_DOMAIN,
    authenticate: bootstrapTokenAuthenticator(tokenFile),
    servingCert: issueServingCertificate({ ca, dnsNames: ['istiod.meshfed-system.svc'], ttlSeconds: 600 }),
    logger: silentLogger,
  });
  t.teardown(() => citadel.close());
  const rotator = new CertificateRotator({
    request: {
      target: `127.0.0.1:${citadel.port}`,
      rootsPem: ca.rootPem,
      serverName: 'istiod.meshfed-system.svc',
      token,
      identity: { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: 'reviews' },
      ttlSeconds: 4,
    },
    logger: silentLogger,
  });
  t.teardown(() => rotator.close());
  const rotated = new Promise<CertBundle>((resolve) => rotator.once('rotated', resolve));
  const first = await rotator.start();
  const second = await rotated;
  t.is(rotator.current(), second);
  t.not(new X509Certificate(second.certChainPem).serialNumber, new X509Certificate(first.certChainPem).serialNumber);
  t.not(second.privateKeyPem, first.privateKeyPem, 'a fresh key per renewal');
  t.is(second.spiffeId, first.spiffeId);
  t.true(second.notAfter.getTime() >= first.notAfter.getTime());
});

test('setRoots emits the current certificate with the new bundle, then renews at once', async (t) => {
  const clock = new FakeClock();
  let calls = 0;
  const rotator = new CertificateRotator({ fetch: async () => fakeBundle(clock, ++calls), clock, logger: silentLogger });
  t.teardown(() => rotator.close());
  await rotator.start();
  const seen: CertBundle[] = [];
  rotator.on('rotated', (b) => seen.push(b));
  await rotator.setRoots('old+new roots');
  t.is(calls, 2, 'one renewal right away, not at half life');
  t.deepEqual(
    seen.map((b) => [b.certChainPem, b.rootsPem]),
    [
      ['chain-1', 'old+new roots'],
      ['chain-2', 'roots'],
    ],
  );
  // The fetched bundle carries its own roots ('roots'): setting them again changes nothing.
  await rotator.setRoots('roots');
  t.is(calls, 2, 'an unchanged bundle is a no-op');
  await rotator.setRoots('new roots');
  t.is(calls, 3);
});

test('renewNow: concurrent calls share one request; the schedule restarts from the new certificate', async (t) => {
  const clock = new FakeClock();
  let calls = 0;
  let release: (() => void) | undefined;
  const rotator = new CertificateRotator({
    fetch: async () => {
      const n = ++calls;
      if (n > 1) {
        await new Promise<void>((r) => {
          release = r;
        });
      }
      return fakeBundle(clock, n);
    },
    clock,
    logger: silentLogger,
  });
  t.teardown(() => rotator.close());
  await rotator.start();
  const a = rotator.renewNow();
  const b = rotator.renewNow();
  await settle();
  t.is(calls, 2);
  release?.();
  await Promise.all([a, b]);
  t.is(rotator.current().certChainPem, 'chain-2');
  t.is(clock.pending, 1, 'exactly one renewal scheduled');
  await clock.advance(LIFE_MS / 2 - 1);
  t.is(calls, 2);
});

test('setRoots with request: the next CSR verifies Citadel against the new bundle', async (t) => {
  const dir = await tempDir(t);
  const { ca } = await makeCa(t);
  const token = randomToken();
  const tokens = await writeTokenFile(path.join(dir, 'tokens.json'), { [token]: { namespace: 'default', serviceAccount: 'reviews' } });
  const serving = issueServingCertificate({ ca, dnsNames: ['istiod.meshfed-system.svc'], ttlSeconds: 3600 });
  const citadel = await startCitadel({
    host: '127.175.0.1',
    port: 0,
    ca,
    trustDomain: TRUST_DOMAIN,
    authenticate: bootstrapTokenAuthenticator(tokens),
    servingCert: serving,
    logger: silentLogger,
  });
  t.teardown(() => citadel.close());
  const foreign = await makeCa(t);
  const rotator = new CertificateRotator({
    request: { target: `127.175.0.1:${citadel.port}`, rootsPem: ca.rootPem, serverName: 'istiod.meshfed-system.svc', token, identity: { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: 'reviews' }, timeoutMs: 2000 },
    logger: silentLogger,
    retryInitialMs: 60_000,
  });
  t.teardown(() => rotator.close());
  const first = await rotator.start();
  const errors: Error[] = [];
  rotator.on('error', (e) => errors.push(e));
  // A bundle of both roots: Citadel still verifies, and the issued chain keeps the bundle.
  await rotator.setRoots(ca.rootPem + foreign.ca.rootPem);
  t.deepEqual(errors, []);
  t.not(rotator.current().certChainPem, first.certChainPem);
  t.is(rotator.current().rootsPem, ca.rootPem + foreign.ca.rootPem);
  // Only the foreign root: Citadel's certificate no longer verifies, the renewal fails, the
  // certificate in use is kept.
  const kept = rotator.current().certChainPem;
  await rotator.setRoots(foreign.ca.rootPem);
  t.is(errors.length, 1);
  t.is(rotator.current().certChainPem, kept);
  t.is(rotator.current().rootsPem, foreign.ca.rootPem);
});
