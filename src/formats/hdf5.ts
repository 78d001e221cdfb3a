/**
 * The one way into h5wasm (the HDF5 library compiled to WebAssembly) for every HDF5 read and write.
 *
 * HDF5 reports a failure through its automatic error handler (`H5Eset_auto2`), whose default prints
 * the whole error stack — `HDF5-DIAG: Error detected in HDF5 …`, 20 to 50 lines — to the C stderr,
 * which h5wasm's Node build (NODERAWFS) writes straight to this process's file descriptor 2: no
 * `console.error`, no `print`/`printErr` hook and no `process.stderr` on the way, so nothing on the JS
 * side can catch it. The failing call then returns a negative id or status that h5wasm mostly passes on
 * unchecked (`new File()` on a truncated file gives a File with id -1; reads after it fail again,
 * printing again, or return nothing). h5wasm 0.10.3 exports no `H5Eset_auto2`, but installs an automatic
 * handler of its own on request, `Module.activate_throwing_error_handler()` (H5Eset_auto2 underneath),
 * which prints the stack into a string and throws it as a JS Error instead. We install it once, before
 * any other HDF5 call: every failure prints nothing and is an exception at the call that failed, and
 * `hdf5Message` folds the stack into one line for our errors (the full stack stays as their `cause`,
 * for `--debug`).
 *
 * The throw comes from inside the C call, which leaves two things behind (HDF5 itself has popped its
 * API context when the handler runs, so the library state is consistent):
 *   - the WebAssembly shadow stack pointer stays where the handler ran (~1 KB below where the call
 *     started): after ~2,000 failures the stack runs into the static data and the module aborts
 *     ("bad_cast was thrown", "memory access out of bounds"). No JS code runs while an h5wasm call is
 *     on the stack, so between calls the pointer belongs at its top: we note the instance's exported
 *     `__stack_pointer` (by watching `WebAssembly.instantiate` while h5wasm starts, the module keeping
 *     its exports to itself) and put it back at the top whenever `hdf5()` is called;
 *   - the handler's `tmpfile()` stream is never closed, and under NODERAWFS that is a real descriptor
 *     of this process (of an unlinked /tmp/tmpfile_XXXXXX): `hdf5()` closes those too, so failures
 *     exhaust neither the module's 4,096 descriptors nor `ulimit -n`. (Its musl FILE, a few hundred
 *     bytes of the module's heap, stays allocated; it is never used again.)
 * Every reader and writer calls `hdf5()` before its first h5wasm call, so neither accumulates across
 * operations however many fail (src/test/hdf5-errors.test.ts runs thousands).
 */
type H5 = typeof import('h5wasm/node').default;

/** An HDF5 file that cannot be read or written, in one line naming the file. */
export class Hdf5Error extends Error {}

interface EmscriptenFS {
  streams: ({ path?: string } | null | undefined)[];
  close(stream: unknown): void;
}

/** The few WebAssembly JS API members used here (the project's lib settings declare none). */
interface WasmGlobal {
  value: unknown;
}
interface WasmInstance {
  exports: Record<string, unknown>;
}
interface WasmApi {
  instantiate(...args: unknown[]): Promise<unknown>;
  Global: abstract new (...args: never[]) => WasmGlobal;
  Instance: abstract new (...args: never[]) => WasmInstance;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Loaded {
  h5wasm: H5;
  fs?: EmscriptenFS;
  /** The instance's shadow stack pointer and its value with no C call on the stack. */
  stack?: { pointer: WasmGlobal; top: number };
}

let loading: Promise<Loaded> | undefined;

async function load(): Promise<Loaded> {
  let pointer: WasmGlobal | undefined;
  const instantiate = wasm.instantiate;
  // Only while h5wasm starts: keep the HDF5 instance's exported stack pointer (see the file comment).
  wasm.instantiate = async (...args: unknown[]) => {
    const result = await instantiate.apply(wasm, args);
    const instance = result instanceof wasm.Instance ? result : (result as { instance?: WasmInstance } | undefined)?.instance;
    const sp = instance?.exports.__stack_pointer;
    if (sp instanceof wasm.Global && 'H5Fopen' in instance!.exports) pointer = sp;
    return result;
  };
  let h5wasm: H5;
  let module: Awaited<H5['ready']>;
  try {
    h5wasm = (await import('h5wasm/node')).default;
    module = await h5wasm.ready;
  } finally {
    wasm.instantiate = instantiate;
  }
  if (module.activate_throwing_error_handler() < 0) throw new Error('h5wasm: cannot install the HDF5 error handler');
  const top = pointer?.value;
  return { h5wasm, fs: (module as unknown as { FS?: EmscriptenFS }).FS, stack: pointer && typeof top === 'number' ? { pointer, top } : undefined };
}

/**
 * h5wasm, ready, with HDF5's error printing replaced by exceptions; also undoes what earlier failures
 * left behind (the stack pointer, the error streams). See the file comment.
 */
export async function hdf5(): Promise<H5> {
  loading ??= load();
  const { h5wasm, fs, stack } = await loading;
  if (stack && stack.pointer.value !== stack.top) stack.pointer.value = stack.top;
  if (fs) releaseErrorStreams(fs);
  return h5wasm;
}

/** musl's `tmpfile()` name: the error handler's streams, never a file h5wasm opens for us. */
const ERROR_STREAM = /^\/tmp\/tmpfile_[A-Za-z0-9]{6}$/;

/** Closes the temporary streams the error handler leaves open, one per HDF5 failure. */
function releaseErrorStreams(fs: EmscriptenFS): void {
  if (!Array.isArray(fs.streams)) return;
  for (const stream of fs.streams) {
    if (stream?.path !== undefined && ERROR_STREAM.test(stream.path)) {
      try {
        fs.close(stream);
      } catch {
        // already closed: nothing leaked
      }
    }
  }
}

/** The messages of an HDF5 error stack's entries (`#000: file line N in H5Fopen(): message`), outermost first. */
function stackMessages(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*#\d+: .* in [A-Za-z0-9_]+\(\): (.*)$/.exec(line);
    if (m && m[1]!.trim()) out.push(m[1]!.trim());
  }
  return out;
}

/**
 * One line for any error from an h5wasm call: for an HDF5 error stack, what the call failed to do
 * and the innermost cause ("unable to open file: truncated file: eof = 1000, …"); otherwise the
 * message's first line.
 */
export function hdf5Message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const messages = stackMessages(text);
  if (messages.length === 0) return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? text.trim();
  const outer = messages[0]!;
  const inner = messages[messages.length - 1]!;
  return outer === inner ? outer : `${outer}: ${inner}`;
}

/**
 * Whether an error is h5wasm's report of a failure (a plain Error: the thrown HDF5 stack, or one of
 * h5wasm's own checks) rather than a bug signal (TypeError, a WebAssembly trap, …) or one of ours.
 */
export function isHdf5Failure(e: unknown): e is Error {
  return e instanceof Error && e.constructor === Error;
}

/** Closes an HDF5 object whatever state a failure left it in (the first error is the one to report). */
export function closeQuietly(f: { close(): unknown }): void {
  try {
    f.close();
  } catch {
    // already closed, or never opened: the caller reports the first error
  }
}
