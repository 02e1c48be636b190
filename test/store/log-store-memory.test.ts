// Goal: the in-memory store behaves exactly like the store on disk (same encoding, CRCs, recovery).
// Method: the same shared test body (store-behaviour.ts) as log-store-mmap.test.ts, over MemoryMedium.
import t from 'tap';
import { storeBehaviour } from './store-behaviour.js';
import { memoryHarness } from './store-harness.js';

storeBehaviour(t, memoryHarness);
