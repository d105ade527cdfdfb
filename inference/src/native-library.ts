/**
 * Loading one of the small C libraries the core calls through koffi (turbojpeg.ts, spng.ts): the
 * `<NAME>_DISABLED=true` switch, koffi itself, then `<NAME>_LIBRARY` (a path) or the dynamic loader's
 * candidate names in order, and the reason in words when none loads (the apps log it at start-up).
 */
import { createRequire } from 'node:module';

export type Koffi = typeof import('koffi');
export type KoffiLibrary = ReturnType<Koffi['load']>;

export interface NativeLibrarySpec<T> {
  /** Prefix of the two variables: `TURBOJPEG` reads TURBOJPEG_DISABLED and TURBOJPEG_LIBRARY. */
  variablePrefix: string;
  /** The library as the error names it, e.g. `libspng`. */
  name: string;
  /** The Debian package that provides it, e.g. `libspng0`. */
  debianPackage: string;
  /** File names the dynamic loader tries, in order, when `<prefix>_LIBRARY` is unset or empty. */
  candidates: readonly string[];
  /** Declares the functions on the loaded library; may throw (a missing symbol), which counts as a failed candidate. */
  bind: (koffi: Koffi, library: KoffiLibrary, loadedFrom: string) => T;
}

/** The bound library, or why there is none. */
export function loadNativeLibrary<T>(spec: NativeLibrarySpec<T>): { value: T; error?: undefined } | { value?: undefined; error: string } {
  const disabled = `${spec.variablePrefix}_DISABLED`;
  const pathVariable = `${spec.variablePrefix}_LIBRARY`;
  if (process.env[disabled] === 'true') return { error: `${disabled}=true` };
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (cause) {
    return { error: `koffi could not load: ${(cause as Error).message}` };
  }
  const names = process.env[pathVariable] ? [process.env[pathVariable]] : spec.candidates; // empty = unset
  const failures: string[] = [];
  for (const name of names) {
    try {
      return { value: spec.bind(koffi, koffi.load(name), name) };
    } catch (cause) {
      failures.push(`${name}: ${(cause as Error).message.split('\n')[0]}`);
    }
  }
  return { error: `${spec.name} not found (${failures.join('; ')}); install Debian's ${spec.debianPackage} or set ${pathVariable}` };
}
