/**
 * An object that stands for whatever `current()` returns when it is used: lets a helper that starts
 * a server per file or per test hand the test file one constant (`const api = ...`) instead of a
 * `let` that every file assigns in its own hooks. Used before there is one, it says what is missing.
 */
export function standIn<T extends object>(what: string, current: () => T | undefined, proto: object = {}): T {
  const now = (key: PropertyKey): T => {
    const value = current();
    if (!value) throw new Error(`${what} is not started yet (read .${String(key)} inside a test or a hook)`);
    return value;
  };
  return new Proxy(Object.create(proto) as T, {
    get(_target, key) {
      const target = now(key);
      const value: unknown = Reflect.get(target, key);
      // methods run on the real object (its fields, and the timers and sockets it owns)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
    set(_target, key, value) {
      return Reflect.set(now(key), key, value);
    },
  });
}
