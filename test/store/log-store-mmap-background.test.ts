// Goal: with group commits on the thread pool (flushInBackground: true) the store on disk still
// meets every behavioural requirement (durability only after a covering msync, truncation, group
// commit counts, failures, recovery), not only the targeted cases of background-flush.test.ts.
// Method: the shared test body (store-behaviour.ts) over mmap'd temp dirs, background flush on.
import t from 'tap';
import { storeBehaviour } from './store-behaviour.js';
import { mmapHarness } from './store-harness.js';

storeBehaviour(t, () => mmapHarness({ flushInBackground: true }));
