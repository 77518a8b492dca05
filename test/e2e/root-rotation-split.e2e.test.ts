/**
 * Case 21 (test/e2e/support/rotation.ts) with `--control-plane split`: the standalone Citadel
 * signs under the new intermediate, Mixer and Pilot follow their CA folders, and the federation
 * controller publishes the new bundle. Addresses: 127.176.0.0/16.
 */
import anyTest, { type TestFn } from 'ava';
import { type FixtureMeshContext, useFixtureMesh } from './support/mesh.ts';
import { ROTATION_TOPOLOGY, rotationUnderTraffic } from './support/rotation.ts';

const test = anyTest as TestFn<FixtureMeshContext>;
useFixtureMesh(test, { block: 176, network: 'loopback', topology: ROTATION_TOPOLOGY, controlPlane: 'split' });
rotationUnderTraffic(test, 'split control plane: meshfed ca rotate with traffic flowing east → west: zero failed requests, only the new root left');
