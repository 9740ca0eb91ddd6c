// Staging's domains with their columns, as the studio's forms pick them (a domain, then one of
// its columns). Loaded once per form when it opens; none when they cannot be read.
import { onMounted, ref } from "vue";
import { api, type DomainInfo } from "../api";

export function useStagingDomains(app: () => string) {
  const domains = ref<DomainInfo[]>([]);
  onMounted(async () => {
    try {
      domains.value = (await api.metadata(app(), "staging")).domains;
    } catch {
      domains.value = [];
    }
  });
  const columnsOf = (domain: string) => domains.value.find((d) => d.name === domain)?.columns ?? [];
  return { domains, columnsOf };
}
