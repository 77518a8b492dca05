export { crdSource, fromCustomResource, userDocument } from './crd-conversion.ts';
export { CRD_KINDS, type CrdKind, resourceName } from './crd-kinds.ts';
export { createLeaseElector, type LeaseElector, type LeaseElectorOptions, LeaseOptionsError } from './crd-lease.ts';
export { type CrdConfigStore, type CrdConfigStoreOptions, type CrdStatusOptions, createCrdConfigStore } from './crd-store.ts';
export { desiredStatus, sameStatus, type StatusCondition, type StatusInput, type ValidationMessage, validationMessage } from './crd-status.ts';
