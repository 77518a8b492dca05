import * as grpc from '@grpc/grpc-js';
import type { CertificateRotator } from './certificate-rotator.ts';
import type { CertBundle } from './certificate-client.ts';
import { MemoryCertificateProvider } from './certificate-provider.ts';

/**
 * Channel credentials of a mesh client (sidecar, gateway) towards the control plane's 15012: the
 * server is verified against `rootsPem`, and the client presents the rotator's current workload
 * certificate. After each rotation the next connection presents the renewed certificate (grpc-js
 * reads the provider at every handshake), and after `rotator.setRoots` the next connection
 * verifies the server against the new trust bundle; call only once `rotator.start()` resolved.
 * Returns the credentials and a function that stops following the rotator.
 */
export function meshChannelCredentials(rotator: CertificateRotator, rootsPem: string): { credentials: grpc.ChannelCredentials; close: () => void } {
  const current = rotator.current();
  const provider = new MemoryCertificateProvider({ identity: current, rootsPem });
  let roots = rootsPem;
  const onRotated = (b: CertBundle): void => {
    provider.setIdentity({ certChainPem: b.certChainPem, privateKeyPem: b.privateKeyPem });
    if (b.rootsPem !== roots) {
      roots = b.rootsPem;
      provider.setRoots(roots);
    }
  };
  rotator.on('rotated', onRotated);
  return {
    credentials: grpc.experimental.createCertificateProviderChannelCredentials(provider, provider),
    close: () => rotator.off('rotated', onRotated),
  };
}

/**
 * Server credentials of a mesh server (15012, Mixer): serves `provider`'s identity, asks every
 * client for a certificate and verifies it against `provider`'s roots, but does not require one at
 * the TLS layer, so that a workload without a certificate yet can still reach Citadel with its
 * bootstrap token. Handlers see a verified peer certificate in `call.getAuthContext()` only when the
 * chain reached a root (grpc-js checks `socket.authorized`); an absent or unverified certificate
 * shows as no certificate. Replacing the identity or roots on `provider` swaps the secure context
 * in place without dropping open connections.
 */
export function meshServerCredentials(provider: MemoryCertificateProvider): grpc.ServerCredentials {
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
