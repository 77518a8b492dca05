import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import test from 'ava';
import { fromDer } from '../../src/citadel/der.ts';
import { publicKeyFromSpki } from '../../src/citadel/spki-key.ts';

const KEYS: Array<{ name: string; make: () => KeyObject }> = [
  { name: 'EC P-256 (imported as JWK)', make: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey },
  { name: 'EC P-384 (imported as JWK)', make: () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey },
  { name: 'EC secp256k1 (imported from DER)', make: () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey },
  { name: 'RSA-2048 (imported from DER)', make: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey },
  { name: 'Ed25519 (imported from DER)', make: () => generateKeyPairSync('ed25519').publicKey },
];

for (const row of KEYS) {
  test(`publicKeyFromSpki gives back the same key: ${row.name}`, (t) => {
    const der = row.make().export({ type: 'spki', format: 'der' });
    const key = publicKeyFromSpki(fromDer(der), der);
    t.true(key.export({ type: 'spki', format: 'der' }).equals(der));
  });
}

test('publicKeyFromSpki refuses an EC point that is not on the curve', (t) => {
  const der = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  t.throws(() => publicKeyFromSpki(fromDer(der), der));
});
