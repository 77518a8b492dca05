/**
 * Case 21 (test/e2e/support/rotation.ts): `meshfed ca rotate` with traffic, on the default control
 * plane (one istiod-style process per cluster). Addresses: 127.175.0.0/16.
 */
import anyTest, { type TestFn } from 'ava';
import { type FixtureMeshContext, useFixtureMesh } from './support/mesh.ts';
import { ROTATION_TOPOLOGY, rotationUnderTraffic } from './support/rotation.ts';

const test = anyTest as TestFn<FixtureMeshContext>;
useFixtureMesh(test, { block: 175, network: 'loopback', topology: ROTATION_TOPOLOGY });
rotationUnderTraffic(test, 'meshfed ca rotate with traffic flowing east → west: zero failed requests, only the new root left');
