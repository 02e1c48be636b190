// Typed wrapper around the native addon native-bindings/ (dledger_mmap.node): map a file region as
// a SharedArrayBuffer, msync, madvise, fallocate.
//
// Every argument is checked here before native code sees it, so a bad call throws a clear
// TypeError/RangeError naming the function, the argument and the file, never a segfault or a
// SIGBUS. System call failures become NativeIoError, which names the syscall, the file and the
// errno (code and text).
//
// The mapping is MAP_SHARED: stores through it land in the page cache and are visible at once to
// every thread holding the SharedArrayBuffer and to read(2) on the file. They are durable only
// after msync(..., 'sync') (or fdatasync on the file). The mapping is unmapped when the last
// SharedArrayBuffer referring to it, in any thread, is garbage-collected; releaseMapping() lets
// go of the file before that.

import { createRequire } from 'node:module';
import { existsSync, fstatSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorMap } from 'node:util';

export type MadviseAdvice = 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed';

/** The shape of the compiled addon's exports (native-bindings/src/dledger_mmap.cc). */
interface NativeMmapBinding {
  readonly pageSize: number;
  readonly advice: Readonly<Record<MadviseAdvice, number>>;
  map(fd: number, lengthBytes: number, offsetBytes: number, writable: boolean): SharedArrayBuffer;
  msync(region: SharedArrayBuffer, offsetBytes: number, lengthBytes: number, sync: boolean): void;
  msyncInBackground(region: SharedArrayBuffer, offsetBytes: number, lengthBytes: number, callback: (errno: number) => void): void;
  madvise(region: SharedArrayBuffer, offsetBytes: number, lengthBytes: number, advice: number): void;
  fallocate(fd: number, offsetBytes: number, lengthBytes: number): void;
  release(region: SharedArrayBuffer): void;
}

/** The properties node::ErrnoException (plus errnoText) puts on errors thrown by the addon. */
interface NativeErrnoError extends Error {
  errno: number;
  code: string;
  syscall: string;
  errnoText: string;
}

/** A system call made through the addon failed. */
export class NativeIoError extends Error {
  override name = 'NativeIoError';
  /** Error code name, e.g. 'ENOSPC'. */
  readonly code: string;
  /** Positive errno value, e.g. 28. */
  readonly errno: number;
  /** The system call that failed, e.g. 'fallocate'. */
  readonly syscall: string;
  readonly filePath: string;

  constructor(syscall: string, filePath: string, code: string, errno: number, errnoText: string) {
    super(`${syscall} failed on ${filePath}: ${code} (${errnoText})`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.filePath = filePath;
  }
}

const ADDON_FILE = 'dledger_mmap.node';
const PACKAGE_NAME = 'dledger-ts';

/**
 * Finds native-bindings/build/Release/dledger_mmap.node by walking up from this module to the
 * package root. This module runs both from src/native/ (TypeScript loaders) and from
 * dist/src/native/ (compiled), so the relative depth differs.
 */
function findAddonPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const packageJson = join(dir, 'package.json');
    if (existsSync(packageJson) && isThisPackage(packageJson)) {
      return join(dir, 'native-bindings', 'build', 'Release', ADDON_FILE);
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `cannot find the ${PACKAGE_NAME} package root (a package.json named "${PACKAGE_NAME}") ` +
          `above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
}

function isThisPackage(packageJsonPath: string): boolean {
  try {
    const parsed: unknown = JSON.parse(readFileSync(packageJsonPath, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && (parsed as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

function loadBinding(): NativeMmapBinding {
  const addonPath = findAddonPath();
  if (!existsSync(addonPath)) {
    throw new Error(
      `the native mmap addon is not built: ${addonPath} does not exist. ` +
        `Run "npm ci" (or "npm run install") in the package root; it builds native-bindings/ with node-gyp.`,
    );
  }
  const require = createRequire(import.meta.url);
  const loaded = require(addonPath) as NativeMmapBinding;
  // A build older than the source (a worktree rebased without rebuilding) lacks newer functions.
  if (typeof loaded.release !== 'function') {
    throw new Error(`the native mmap addon at ${addonPath} is older than its source (no release()): rebuild it with "npm run install" (node-gyp rebuild) in the package root`);
  }
  return loaded;
}

const binding = loadBinding();

export const PAGE_SIZE_BYTES: number = binding.pageSize;

function isNativeErrnoError(error: unknown): error is NativeErrnoError {
  return (
    error instanceof Error &&
    typeof (error as Partial<NativeErrnoError>).errno === 'number' &&
    typeof (error as Partial<NativeErrnoError>).code === 'string' &&
    typeof (error as Partial<NativeErrnoError>).syscall === 'string'
  );
}

/** Runs a native call and turns its errno exceptions into NativeIoError naming the file. */
function callNative<T>(filePath: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (isNativeErrnoError(error)) {
      const text = typeof error.errnoText === 'string' ? error.errnoText : error.message;
      throw new NativeIoError(error.syscall, filePath, error.code, error.errno, text);
    }
    throw error;
  }
}

/** Converts an error thrown by node:fs (negative errno, message "CODE: text, syscall ...") to NativeIoError. */
function fromNodeFsError(error: unknown, filePath: string): unknown {
  const e = error as Partial<NodeJS.ErrnoException>;
  if (!(error instanceof Error) || typeof e.code !== 'string' || typeof e.errno !== 'number') return error;
  const text = /^[A-Z0-9]+: ([^,]+),/.exec(error.message)?.[1] ?? error.message;
  return new NativeIoError(e.syscall ?? 'unknown', filePath, e.code, Math.abs(e.errno), text);
}

function fileSizeOf(fd: number, filePath: string): number {
  try {
    return fstatSync(fd).size;
  } catch (error) {
    throw fromNodeFsError(error, filePath);
  }
}

function requireFilePath(fn: string, filePath: unknown): asserts filePath is string {
  if (typeof filePath !== 'string' || filePath.length === 0) {
    throw new TypeError(`${fn}: filePath must be a non-empty string, got ${String(filePath)}`);
  }
}

function requireNonNegativeInteger(fn: string, name: string, value: unknown, filePath: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${fn} on ${filePath}: ${name} must be a non-negative safe integer, got ${String(value)}`);
  }
}

function requireMapping(fn: string, mapping: unknown, filePath: string): asserts mapping is SharedArrayBuffer {
  if (!(mapping instanceof SharedArrayBuffer)) {
    throw new TypeError(`${fn} on ${filePath}: mapping must be a SharedArrayBuffer returned by mapFile`);
  }
}

function requireRangeInMapping(
  fn: string,
  mapping: SharedArrayBuffer,
  offsetBytes: unknown,
  lengthBytes: unknown,
  filePath: string,
): asserts offsetBytes is number {
  requireNonNegativeInteger(fn, 'offsetBytes', offsetBytes, filePath);
  requireNonNegativeInteger(fn, 'lengthBytes', lengthBytes, filePath);
  if (offsetBytes + (lengthBytes as number) > mapping.byteLength) {
    throw new RangeError(
      `${fn} on ${filePath}: range [${offsetBytes}, ${offsetBytes + (lengthBytes as number)}) ` +
        `is beyond the end of the ${mapping.byteLength}-byte mapping`,
    );
  }
}

/**
 * Maps [offsetBytes, offsetBytes+lengthBytes) of the open file; munmap happens when the SAB is
 * garbage-collected.
 *
 * The file must already be at least offsetBytes + lengthBytes long (fallocate or ftruncate it
 * first): touching a mapped page past the end of the file raises SIGBUS, which kills the process,
 * so a short file is refused here with a RangeError. The fd may be closed after this returns.
 *
 * A mapping made with writable: false is PROT_READ: a store into it from JS kills the process
 * with SIGSEGV (a SharedArrayBuffer cannot be made read-only). Readers must only read it.
 * Shrinking the file (ftruncate) below a live mapping makes later accesses past the new end raise
 * SIGBUS; delete or shrink a segment only after dropping every mapping of it.
 */
export function mapFile(
  fd: number,
  lengthBytes: number,
  offsetBytes: number,
  opts: { writable: boolean; filePath: string },
): SharedArrayBuffer {
  const fn = 'mapFile';
  requireFilePath(fn, opts.filePath);
  const { filePath, writable } = opts;
  requireNonNegativeInteger(fn, 'fd', fd, filePath);
  requireNonNegativeInteger(fn, 'lengthBytes', lengthBytes, filePath);
  requireNonNegativeInteger(fn, 'offsetBytes', offsetBytes, filePath);
  if (typeof writable !== 'boolean') {
    throw new TypeError(`${fn} on ${filePath}: opts.writable must be a boolean, got ${String(writable)}`);
  }
  if (lengthBytes === 0) {
    throw new RangeError(`${fn} on ${filePath}: lengthBytes must be > 0`);
  }
  if (offsetBytes % PAGE_SIZE_BYTES !== 0) {
    throw new RangeError(
      `${fn} on ${filePath}: offsetBytes ${offsetBytes} is not a multiple of the page size ${PAGE_SIZE_BYTES}`,
    );
  }
  const endBytes = offsetBytes + lengthBytes;
  if (!Number.isSafeInteger(endBytes)) {
    throw new RangeError(`${fn} on ${filePath}: offsetBytes + lengthBytes overflows`);
  }
  const fileSizeBytes = fileSizeOf(fd, filePath);
  if (fileSizeBytes < endBytes) {
    throw new RangeError(
      `${fn} on ${filePath}: the file is ${fileSizeBytes} bytes, shorter than the mapped range ` +
        `[${offsetBytes}, ${endBytes}); extend it first (fallocate or ftruncate), ` +
        `since touching a mapped page past the end of the file raises SIGBUS`,
    );
  }
  return callNative(filePath, () => binding.map(fd, lengthBytes, offsetBytes, writable));
}

/**
 * Writes dirty pages of [offsetBytes, offsetBytes+lengthBytes) back to the file. 'sync' blocks
 * until they are on disk (MS_SYNC); 'async' only schedules the write-back (MS_ASYNC). The start is
 * rounded down to a page boundary internally. A zero length is a no-op.
 */
export function msync(
  mapping: SharedArrayBuffer,
  offsetBytes: number,
  lengthBytes: number,
  mode: 'sync' | 'async',
  filePath: string,
): void {
  const fn = 'msync';
  requireFilePath(fn, filePath);
  requireMapping(fn, mapping, filePath);
  requireRangeInMapping(fn, mapping, offsetBytes, lengthBytes, filePath);
  if (mode !== 'sync' && mode !== 'async') {
    throw new TypeError(`${fn} on ${filePath}: mode must be 'sync' or 'async', got ${String(mode)}`);
  }
  callNative(filePath, () => binding.msync(mapping, offsetBytes, lengthBytes, mode === 'sync'));
}

/**
 * msync(MS_SYNC) of [offsetBytes, offsetBytes+lengthBytes) on the libuv thread pool: resolves once
 * the range is on disk, while the calling thread's event loop keeps running. The mapping stays
 * valid until the flush is done even if the SharedArrayBuffer is collected meanwhile.
 */
export function msyncInBackground(mapping: SharedArrayBuffer, offsetBytes: number, lengthBytes: number, filePath: string): Promise<void> {
  const fn = 'msyncInBackground';
  requireFilePath(fn, filePath);
  requireMapping(fn, mapping, filePath);
  requireRangeInMapping(fn, mapping, offsetBytes, lengthBytes, filePath);
  return new Promise((resolve, reject) => {
    callNative(filePath, () =>
      binding.msyncInBackground(mapping, offsetBytes, lengthBytes, (errno) => {
        if (errno === 0) return resolve();
        const [code, text] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, `errno ${errno}`];
        reject(new NativeIoError('msync', filePath, code, errno, text));
      }),
    );
  });
}

/** madvise(2) over [offsetBytes, offsetBytes+lengthBytes), start rounded down to a page. */
export function madvise(
  mapping: SharedArrayBuffer,
  offsetBytes: number,
  lengthBytes: number,
  advice: MadviseAdvice,
  filePath: string,
): void {
  const fn = 'madvise';
  requireFilePath(fn, filePath);
  requireMapping(fn, mapping, filePath);
  requireRangeInMapping(fn, mapping, offsetBytes, lengthBytes, filePath);
  const adviceValue = Object.hasOwn(binding.advice, advice) ? binding.advice[advice] : undefined;
  if (adviceValue === undefined) {
    throw new TypeError(
      `${fn} on ${filePath}: advice must be one of ${Object.keys(binding.advice).join(', ')}, got ${String(advice)}`,
    );
  }
  callNative(filePath, () => binding.madvise(mapping, offsetBytes, lengthBytes, adviceValue));
}

/**
 * Reserves disk blocks for [offsetBytes, offsetBytes+lengthBytes) of the file (fallocate mode 0:
 * extends the file size if the range ends past it; never shrinks it). After it succeeds, stores
 * through a mapping of that range cannot fail with SIGBUS for lack of space; on a full disk it
 * throws NativeIoError with code 'ENOSPC' instead.
 */
export function fallocate(fd: number, offsetBytes: number, lengthBytes: number, filePath: string): void {
  const fn = 'fallocate';
  requireFilePath(fn, filePath);
  requireNonNegativeInteger(fn, 'fd', fd, filePath);
  requireNonNegativeInteger(fn, 'offsetBytes', offsetBytes, filePath);
  requireNonNegativeInteger(fn, 'lengthBytes', lengthBytes, filePath);
  if (lengthBytes === 0) {
    throw new RangeError(`${fn} on ${filePath}: lengthBytes must be > 0`);
  }
  if (!Number.isSafeInteger(offsetBytes + lengthBytes)) {
    throw new RangeError(`${fn} on ${filePath}: offsetBytes + lengthBytes overflows`);
  }
  callNative(filePath, () => binding.fallocate(fd, offsetBytes, lengthBytes));
}

/**
 * Let go of the file behind a mapping now, instead of when every SharedArrayBuffer over it (in
 * every thread) has been garbage-collected: the range becomes anonymous zero pages (MAP_FIXED), so
 * the file's reference, and an unlinked file's blocks, are released at once; the address range is
 * still unmapped by the GC. Call it when nothing will use the mapping again: later reads see
 * zeros, later writes go nowhere, and an msync of it makes nothing durable. Bytes written before
 * stay in the page cache and reach the file as usual. Only mappings from mapFile are accepted.
 */
export function releaseMapping(mapping: SharedArrayBuffer, filePath: string): void {
  const fn = 'releaseMapping';
  requireFilePath(fn, filePath);
  requireMapping(fn, mapping, filePath);
  callNative(filePath, () => binding.release(mapping));
}
