// A namespace across the tiers of a Cache: counted, listed and deleted in each tier that has the
// capability (a shared tier included: by prefix). Nothing here touches another namespace.
import type { EntryInfo, Tier } from '../store/tier.js';

export async function countNamespace(tiers: readonly Tier[], ns: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const tier of tiers) if (tier.countEntries) out[tier.name] = await tier.countEntries(ns);
  return out;
}

export async function* listNamespace(tiers: readonly Tier[], ns: string | undefined): AsyncGenerator<EntryInfo & { tier: string }> {
  for (const tier of tiers) {
    if (!tier.listEntries) continue;
    for await (const e of tier.listEntries(ns)) yield { ...e, tier: tier.name };
  }
}

/** Deletes `ns` in every tier; a tier that fails is reported to `failed` and skipped. */
export async function deleteNamespace(tiers: readonly Tier[], ns: string, failed: (tier: Tier, err: unknown) => void): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const tier of tiers) {
    if (!tier.deleteNamespace) continue;
    try {
      out[tier.name] = await tier.deleteNamespace(ns);
    } catch (err) {
      failed(tier, err);
    }
  }
  return out;
}
