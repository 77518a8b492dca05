import type { ImportedEndpoint, ImportSink } from './federation-interface.ts';

/**
 * One ImportSink that hands every call to each of `sinks`, in order: Pilot's federation registry
 * (or the imports folder) beside the ServiceImport writer. A sink that throws is a programmer
 * error: it is reported through `onError` and the others still get the call.
 */
export function fanOutImportSink(sinks: readonly ImportSink[], onError: (e: unknown) => void): ImportSink {
  const each = (call: (s: ImportSink) => void): void => {
    for (const s of sinks) {
      try {
        call(s);
      } catch (e: unknown) {
        onError(e);
      }
    }
  };
  return {
    replaceCluster(cluster: string, endpoints: ImportedEndpoint[]) {
      each((s) => s.replaceCluster(cluster, endpoints));
    },
    removeCluster(cluster: string) {
      each((s) => s.removeCluster(cluster));
    },
  };
}
