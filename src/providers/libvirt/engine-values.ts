// Values as the Pulumi engine exchanges them with the providers: the preview's unknown marker, the Struct
// encoding outputs must fit, and the comparison of recorded and wanted inputs that diff uses.

/** The engine's marker for a value that is not known during preview (pulumi runtime/rpc unknownValue). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
  return value === UNKNOWN;
}

/** Struct-encodable outputs: the engine's Struct has no undefined (Create fails with "Unexpected struct type"). */
export function structSafe<T>(value: T): T {
  if (value === undefined) return null as T;
  if (Array.isArray(value)) return value.map(structSafe) as T;
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structSafe(v)])) as T;
  return value;
}

/** The keys whose values differ between recorded (olds) and wanted (news) inputs. */
export function diffKeys(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  keys: readonly string[],
): string[] {
  return keys.filter((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key]));
}
