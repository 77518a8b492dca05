/**
 * Transparent capture: the init container's iptables rules (pure, capture-rules.ts), the command
 * that installs them, and the reader of a captured connection's original destination.
 */
export { CAPTURE_CHAINS, CAPTURE_FLAGS, type CaptureFlag, type CaptureOptions, type CaptureRules, captureRules, INBOUND_PASSTHROUGH_SOURCE, parseCaptureFlags } from './capture-rules.ts';
export { applyCaptureRules } from './capture-init.ts';
export { type OriginalDestination, type OriginalDstReader, originalDstReader } from './original-dst.ts';
