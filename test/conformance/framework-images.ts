// The e2e framework's image list, read from its source (test/utils/image/manifest.go of the
// k8s.io/kubernetes module): each ImageID with the name GetE2EImage gives it when
// KUBE_TEST_REPO_LIST is unset (registry/name:version).

export interface FrameworkImage {
  id: string;
  image: string;
}

/** Parses manifest.go: `initRegistry = RegistryList{Field: "registry", ...}` and `configs[ID] = Config{list.Field, "name", "version"}`. */
export function parseManifest(source: string): FrameworkImage[] {
  const registries = new Map<string, string>();
  const init = /initRegistry\s*=\s*RegistryList\{([^}]*)\}/.exec(source);
  if (!init) throw new Error('manifest.go: no initRegistry = RegistryList{...}');
  for (const m of init[1]!.matchAll(/(\w+):\s*"([^"]+)"/g)) registries.set(m[1]!, m[2]!);
  const images: FrameworkImage[] = [];
  for (const m of source.matchAll(/configs\[(\w+)\]\s*=\s*Config\{list\.(\w+),\s*"([^"]+)",\s*"([^"]+)"\}/g)) {
    const registry = registries.get(m[2]!);
    if (!registry) throw new Error(`manifest.go: ${m[1]} uses unknown registry field ${m[2]}`);
    images.push({ id: m[1]!, image: `${registry}/${m[3]}:${m[4]}` });
  }
  if (images.length === 0) throw new Error('manifest.go: no configs[ID] = Config{...} entries');
  return images;
}
