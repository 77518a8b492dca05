import type { AdmissionDecision, AdmissionRequest } from './admission-review.ts';
import { planInjection } from './inject-patch.ts';
import type { InjectorSettings } from './inject-settings.ts';

/**
 * `/inject`: a pod CREATE gets the sidecar patch, or `allowed: true` and no patch when it is left
 * alone (the reason is a warning `kubectl` shows). A pod with a malformed capture annotation is
 * denied with the annotation's path (code 400), as Istio's injector fails such a pod.
 */
export function injectAdmission(request: AdmissionRequest, settings: InjectorSettings): AdmissionDecision {
  if (request.operation !== 'CREATE' || request.kind.kind !== 'Pod' || request.kind.group !== '') return { allowed: true };
  const plan = planInjection(request.object, request.namespace ?? 'default', settings);
  if (!plan.ok) return { allowed: false, status: { code: 400, reason: 'BadRequest', message: plan.errors.join('\n') } };
  if (!plan.value.inject) return { allowed: true, warnings: [`meshfed sidecar not injected: ${plan.value.reason}`] };
  return { allowed: true, patch: plan.value.patch };
}
