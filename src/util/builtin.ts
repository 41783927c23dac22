// Node built-ins loaded at call time. The engine serializes dynamic providers with the functions they call:
// a module-level import of a built-in would be captured into that text, a call-time load is not.

/** A Node built-in module, loaded when called. */
export function builtin<T>(name: string): T {
  return (process as unknown as { getBuiltinModule(id: string): T }).getBuiltinModule(name);
}
