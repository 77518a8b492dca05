/**
 * Child process for the "close() lets the process exit" test: connects an AdsClient to the ADS
 * server at argv[2], waits until ready, prints `ready`, closes the client and returns. If anything
 * (the stream, the channel, a timer) kept the event loop alive, this process would not exit.
 */
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { AdsClient } from '../../../src/xds/index.ts';
import { TEST_NODE } from './raw-ads-stream.ts';

const target = process.argv[2] ?? '';
const client = new AdsClient({
  target,
  credentials: grpc.credentials.createInsecure(),
  node: TEST_NODE,
  logger: pino({ level: 'silent' }),
  initialBackoffMs: 50,
});
client.on('config', () => {
  if (!client.ready()) return;
  process.stdout.write('ready\n');
  client.close();
});
client.start();
