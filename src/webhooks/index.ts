export type { AdmissionDecision, AdmissionRequest, JsonPatchOperation } from './admission-review.ts';
export { admissionResponse, parseAdmissionReview } from './admission-review.ts';
export { captureInitArgs } from './inject-capture.ts';
export { type InjectionPlan, planInjection } from './inject-patch.ts';
export { controlPlaneServiceHost, type InjectorSettings, webhookConfigurationNames } from './inject-settings.ts';
export { validateAdmission } from './validate-admission.ts';
export { startWebhookServer, type WebhookServer, type WebhookServerOptions, type WebhookTls } from './webhook-server.ts';
