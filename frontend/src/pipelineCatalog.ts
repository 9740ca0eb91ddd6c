// The step catalog (GET /pipeline-steps), fetched once per page load: it changes only with the backend.
import { api } from "./api";
import type { StepCatalog } from "./pipeline";

let loading: Promise<StepCatalog> | null = null;

export function loadCatalog(): Promise<StepCatalog> {
  loading ??= api.pipelineSteps().catch((e) => {
    loading = null; // a failed load is tried again next time
    throw e;
  });
  return loading;
}
