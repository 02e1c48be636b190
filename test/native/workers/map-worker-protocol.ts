// Messages and memory layout shared by test/native/mmap-threads.test.ts and workers/map-worker.ts.

/** Int32 counter every worker Atomics.adds in the mapped memory. */
export const COUNTER_OFFSET_BYTES = 0;
/** Each worker writes "worker-<id>" into its own slot (second page, so it is a different page). */
export const SLOTS_OFFSET_BYTES = 4096;
export const SLOT_BYTES = 64;

/** Posted-mapping role: Int32 word indexes and byte offsets. */
export const POSTED_FLAG_INDEX = 0;
export const POSTED_REPLY_INDEX = 1;
export const POSTED_TAG_OFFSET_BYTES = 8192;
export const POSTED_REPLY_OFFSET_BYTES = 12288;

export type WorkerTask =
  | {
      readonly role: 'own-mapping';
      readonly filePath: string;
      readonly mappingBytes: number;
      readonly workerId: number;
      readonly workerCount: number;
      readonly increments: number;
      readonly barrier: SharedArrayBuffer;
    }
  | { readonly role: 'posted-mapping'; readonly mapping: SharedArrayBuffer };

export type WorkerReport =
  | { readonly role: 'own-mapping'; readonly tags: string[]; readonly counter: number }
  | { readonly role: 'posted-written'; readonly byteLength: number }
  | { readonly role: 'posted-woken'; readonly waitResults: string[]; readonly reply: string };
