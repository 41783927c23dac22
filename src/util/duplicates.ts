// Repeated names in a list, in one pass (a Set, never indexOf per item: lists can come from hostile files).

/** The indexes of the names that appeared earlier in the list. */
export function repeatedIndexes(names: readonly string[]): number[] {
  const seen = new Set<string>();
  const repeated: number[] = [];
  names.forEach((name, index) => {
    if (seen.has(name)) repeated.push(index);
    seen.add(name);
  });
  return repeated;
}

/** The first name that appears twice, if any. */
export function duplicateOf(names: readonly string[]): string | undefined {
  const [first] = repeatedIndexes(names);
  return first === undefined ? undefined : names[first];
}
