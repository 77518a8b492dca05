import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CONFIG_STORE_NAMES, createConfigStore } from '../../src/pilot/config/index.ts';
import { createPilot } from '../../src/pilot/index.ts';
import { createRegistry, REGISTRY_NAMES } from '../../src/pilot/registry/index.ts';
import { silentLogger } from './support/wait.ts';

const ctx = { cluster: 'east', domainSuffix: 'cluster.local', logger: silentLogger };

test('registries are made by name; an unknown name fails naming the known ones', async (t) => {
  t.deepEqual(REGISTRY_NAMES, ['federation', 'file', 'kube']);
  const fed = await createRegistry('federation', ctx);
  t.true(fed.ok && fed.value.name === 'federation');
  t.deepEqual(await createRegistry('consul', ctx), { ok: false, errors: ['unknown registry "consul": known registries are federation, file, kube'] });
  t.deepEqual(await createRegistry('toString', ctx), { ok: false, errors: ['unknown registry "toString": known registries are federation, file, kube'] });
  t.deepEqual(await createRegistry('file', ctx), { ok: false, errors: ['registry file needs registryFile'] });
});

test('the kube registry refuses a kubeconfig it cannot load, naming the file', async (t) => {
  const r = await createRegistry('kube', { ...ctx, kubeconfig: '/nonexistent/kubeconfig' });
  t.false(r.ok);
  t.regex(r.ok ? '' : (r.errors[0] ?? ''), /^registry kube: cannot load kubeconfig \/nonexistent\/kubeconfig: .*ENOENT/);
});

test('the file registry made by name reads its file with the domain suffix', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-factory-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'workloads.json');
  const workload = { name: 'a', namespace: 'default', serviceAccount: 'a', cluster: 'east', address: '127.0.1.1', labels: {}, service: { name: 'a', port: 80, protocol: 'http' }, sidecar: true };
  writeFileSync(file, JSON.stringify({ cluster: 'east', workloads: [workload] }));
  const r = await createRegistry('file', { ...ctx, domainSuffix: 'mesh.example', registryFile: file });
  if (!r.ok) throw new Error(r.errors.join());
  t.teardown(() => r.value.close());
  t.deepEqual(r.value.shards()[0]?.endpoints.map((e) => e.hostname), ['a.default.svc.mesh.example']);
});

test('config stores are made by name; an unknown name fails naming the known ones', async (t) => {
  t.deepEqual(CONFIG_STORE_NAMES, ['crd', 'file']);
  t.deepEqual(await createConfigStore('etcd', ctx), { ok: false, errors: ['unknown config store "etcd": known config stores are crd, file'] });
  t.deepEqual(await createConfigStore('file', ctx), { ok: false, errors: ['config store file needs configDir'] });
});

test('the crd config store refuses a kubeconfig it cannot load, naming the file', async (t) => {
  const r = await createConfigStore('crd', { ...ctx, kubeconfig: '/nonexistent/kubeconfig' });
  t.false(r.ok);
  t.regex(r.ok ? '' : (r.errors[0] ?? ''), /^config store crd: cannot load kubeconfig \/nonexistent\/kubeconfig: .*ENOENT/);
});

const pilotCases: [string, { registries?: string[]; configStores?: string[]; configStatus?: { identity: string; leaseNamespace: string } }, string][] = [
  ['an unknown registry', { registries: ['file', 'federation', 'kube2'] }, 'invalid registries[2]: unknown registry "kube2": known registries are federation, file, kube'],
  ['a registry listed twice', { registries: ['file', 'federation', 'file'] }, 'invalid registries[2]: file is listed twice'],
  ['no federation registry', { registries: ['file'] }, 'invalid registries: must include federation (the federationSink)'],
  ['an unknown config store', { configStores: ['file', 'etcd'] }, 'invalid configStores[1]: unknown config store "etcd": known config stores are crd, file'],
  ['a config store listed twice', { configStores: ['file', 'file'] }, 'invalid configStores[1]: file is listed twice'],
  ['no config store', { configStores: [] }, 'invalid configStores: must name at least one config store'],
  ['status without the crd store', { configStatus: { identity: 'a', leaseNamespace: 'meshfed-system' } }, 'invalid configStatus: only the crd config store writes status; add crd to configStores or drop it'],
];
for (const [title, opts, message] of pilotCases) {
  test(`createPilot refuses ${title}`, async (t) => {
    await t.throwsAsync(
      createPilot({ cluster: 'east', trustDomain: 'cluster.local', registryFile: '/nonexistent/workloads.json', configDir: '/nonexistent/config', logger: silentLogger, ...opts }),
      { message },
    );
  });
}

test('createPilot with the folder and crd stores serves both as one; a store it cannot make fails naming it', async (t) => {
  await t.throwsAsync(
    createPilot({
      cluster: 'east',
      trustDomain: 'cluster.local',
      registries: ['federation'],
      configStores: ['file', 'crd'],
      configDir: '/nonexistent/config',
      kubeconfig: '/nonexistent/kubeconfig',
      logger: silentLogger,
    }),
    { message: /^invalid configStores: config store crd: cannot load kubeconfig \/nonexistent\/kubeconfig/ },
  );
});
