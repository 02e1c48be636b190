// The `threads` setting: how a node lays its work over threads.
//   inline   one event-loop thread runs the Raft core, the store (writes, group commit on the
//            libuv pool) and the sockets (the layout measured in docs/architecture.md).
//   workers  the same, with the group commit (msync) done synchronously by a storage worker thread
//            that shares the segment mappings (src/node/storage-worker.ts): no libuv pool hop.
//   auto     (the default) one of the two by the cores this process may use. The environment
//            variable DLEDGER_THREADS (inline | workers) overrides auto only, so CI can run every
//            test in either mode without touching configs that chose a mode explicitly.
import os from 'node:os';

export const THREADS_MODES = ['inline', 'workers', 'auto'] as const;
export type ThreadsSetting = (typeof THREADS_MODES)[number];
export type ThreadsMode = Exclude<ThreadsSetting, 'auto'>;

export const THREADS_ENV = 'DLEDGER_THREADS';

/**
 * The fewest cores (os.availableParallelism()) at which auto picks workers. Infinity: auto picks
 * inline on every machine until a bench shows workers faster somewhere (docs/architecture.md,
 * "Threads"); on this 2-core machine with 3 members and a client there is no idle core for a
 * worker, and every hop measured slower there.
 */
export const AUTO_WORKERS_MIN_CORES = Number.POSITIVE_INFINITY;

export function isThreadsSetting(text: string): text is ThreadsSetting {
  return (THREADS_MODES as readonly string[]).includes(text);
}

/** Why the DLEDGER_THREADS value cannot be used, or null (unset, empty, or a valid mode). */
export function threadsEnvProblem(envValue: string | undefined): string | null {
  if (envValue === undefined || envValue === '' || isThreadsSetting(envValue)) return null;
  return `${THREADS_ENV}: "${envValue}" must be inline, workers or auto`;
}

export const RAFT_WORKER_ENV = 'DLEDGER_RAFT_WORKER';

/** Why the DLEDGER_RAFT_WORKER value cannot be used, or null (unset, empty, true or false). */
export function raftWorkerEnvProblem(envValue: string | undefined): string | null {
  return booleanEnvProblem(RAFT_WORKER_ENV, envValue);
}

/** Why a true | false environment override cannot be used, or null (unset, empty, true or false). */
function booleanEnvProblem(envName: string, envValue: string | undefined): string | null {
  if (envValue === undefined || envValue === '' || envValue === 'true' || envValue === 'false') return null;
  return `${envName}: "${envValue}" must be true or false`;
}

/** A key that only workers mode uses: off elsewhere; its true | false environment override wins over the key. */
function resolveWorkersOnlyKey(mode: ThreadsMode, configValue: boolean, envValue: string | undefined): boolean {
  if (mode !== 'workers') return false;
  if (envValue === 'true') return true;
  if (envValue === 'false') return false;
  return configValue;
}

/**
 * Whether a node in `mode` runs on a Raft worker: only in workers mode; DLEDGER_RAFT_WORKER
 * (true | false) overrides the raftWorker key, so CI can run the suites on Raft workers.
 */
export function resolveRaftWorker(mode: ThreadsMode, configValue: boolean, envValue: string | undefined = process.env[RAFT_WORKER_ENV]): boolean {
  return resolveWorkersOnlyKey(mode, configValue, envValue);
}

export const STORAGE_WORKER_WRITES_ENV = 'DLEDGER_STORAGE_WORKER_WRITES';

/**
 * The default of the storageWorkerWrites key: whether, in workers mode, the storage worker also
 * encodes, CRCs and writes the appends. False: measured slower on this 2-core machine in every
 * row (docs/architecture.md, "Threads", the storage-worker writes A/B).
 */
export const STORAGE_WORKER_WRITES_DEFAULT = false;

/** Why the DLEDGER_STORAGE_WORKER_WRITES value cannot be used, or null (unset, empty, true or false). */
export function storageWorkerWritesEnvProblem(envValue: string | undefined): string | null {
  return booleanEnvProblem(STORAGE_WORKER_WRITES_ENV, envValue);
}

/**
 * Whether a node in `mode` hands its appends' encoding, CRCs and writes to the storage worker:
 * only in workers mode; DLEDGER_STORAGE_WORKER_WRITES (true | false) overrides the key, so CI can
 * run suites with it on.
 */
export function resolveStorageWorkerWrites(mode: ThreadsMode, configValue: boolean, envValue: string | undefined = process.env[STORAGE_WORKER_WRITES_ENV]): boolean {
  return resolveWorkersOnlyKey(mode, configValue, envValue);
}

export interface ThreadsResolution {
  readonly mode: ThreadsMode;
  /** Why: 'config' (set explicitly), 'env' (auto overridden), 'cores' (auto by the core count). */
  readonly reason: 'config' | 'env' | 'cores';
}

/**
 * The mode a node runs in. `envValue` is DLEDGER_THREADS (checked by threadsEnvProblem first),
 * `cores` os.availableParallelism(); both are parameters so tests can pin them.
 */
export function resolveThreads(
  setting: ThreadsSetting,
  envValue: string | undefined = process.env[THREADS_ENV],
  cores: number = os.availableParallelism(),
): ThreadsResolution {
  if (setting !== 'auto') return { mode: setting, reason: 'config' };
  if (envValue === 'inline' || envValue === 'workers') return { mode: envValue, reason: 'env' };
  return { mode: cores >= AUTO_WORKERS_MIN_CORES ? 'workers' : 'inline', reason: 'cores' };
}
