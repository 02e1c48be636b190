// Goal: the store on disk (mmap'd, fallocated segment files) meets every behavioural requirement:
// layout, BLANK filler, index/pos invariants, truncate, resetPrefix, appendRaw byte identity,
// recovery (torn tail, bit flips, lagging index), retention, disk full, term/vote.
// Method: the shared test body (store-behaviour.ts) over temp dirs with 4 KiB data / 1 KiB index
// segments, checking the files from outside with an independent parser.
import t from 'tap';
import { storeBehaviour } from './store-behaviour.js';
import { mmapHarness } from './store-harness.js';

storeBehaviour(t, mmapHarness);
