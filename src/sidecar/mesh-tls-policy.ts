import { constants } from 'node:crypto';

/**
 * TLS settings of every mesh mTLS server a sidecar runs (15006 HTTP/2 and raw TCP), in Envoy's and
 * Istio's shape for mesh traffic: TLS 1.2 or newer; on TLS 1.2 only ECDHE with AEAD ciphers
 * (Envoy's server default list without its CBC suites, as Istio's mesh-wide `cipherSuites` default);
 * TLS 1.3 keeps OpenSSL's three AEAD suites; no renegotiation at all (Envoy never renegotiates).
 * Checked by test/sidecar/testssl.test.ts (protocols, cipher categories) and mesh-tls-policy.test.ts
 * (suites, and renegotiation refused where a control server without the option renegotiates).
 */
export const MESH_TLS_SERVER_POLICY = Object.freeze({
  minVersion: 'TLSv1.2' as const,
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
});
