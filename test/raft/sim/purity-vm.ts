// Child process of test/raft/purity.test.ts (needs --experimental-vm-modules). Loads the
// compiled core as ES modules into a fresh vm context, a separate JavaScript realm with no
// process, require, timers or Node APIs at all, where Date, Math.random and performance are
// further replaced by traps that throw. The linker refuses every module outside dist/src/raft
// and dist/src/util (so `node:fs` or a package cannot even be resolved). A small driver module,
// evaluated in the same realm, runs a three-node election with immediate delivery and
// persistence. Prints one JSON line: { leaderId, term, ticks, modulesLoaded }.
//   usage: node --experimental-vm-modules dist/test/raft/sim/purity-vm.js <dist dir> [--touch-clock]
// --touch-clock makes the driver itself call Date.now() first, to show that the trap fires.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import vm from 'node:vm';

const distRoot = resolve(process.argv[2] ?? '');
const touchClock = process.argv.includes('--touch-clock');
const allowedDirs = [join(distRoot, 'src', 'raft'), join(distRoot, 'src', 'util')];

// Runs inside the context before any core module: every clock and entropy source throws.
const POISON = `
  'use strict';
  const trap = (name) => () => { throw new Error(name + ' used inside the pure core'); };
  const DateTrap = new Proxy(function Date() {}, {
    apply: trap('Date()'), construct: trap('new Date()'), get: (_, key) => trap('Date.' + String(key))(),
  });
  Object.defineProperty(globalThis, 'Date', { value: DateTrap });
  Math.random = trap('Math.random');
  for (const name of ['performance', 'process', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'require', 'Buffer']) {
    Object.defineProperty(globalThis, name, { get: trap(name) });
  }
`;

const DRIVER = `
  import { RaftCore } from './core.js';
  import { MemoryRaftStorage } from './memory-storage.js';
  import { defaultRaftConfig } from './config.js';
  import { Prng } from '../util/prng.js';

  const ids = ['a', 'b', 'c'];
  const nodes = ids.map((id, k) => {
    const storage = new MemoryRaftStorage();
    const config = { ...defaultRaftConfig(id, ids), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1 };
    return { id, storage, core: new RaftCore(config, storage, new Prng(k + 1)) };
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));

  function processReadies(outbox) {
    let moved = false;
    for (const n of nodes) {
      while (n.core.hasReady()) {
        moved = true;
        const ready = n.core.ready();
        outbox.push(...ready.messages);
        n.core.advance(ready);
        n.storage.persistReady(ready);
        n.core.onPersisted(ready.number);
        outbox.push(...ready.messagesAfterPersist);
        const last = ready.committedEntries[ready.committedEntries.length - 1];
        if (last !== undefined) n.core.onApplied(last.index);
        n.core.checkInvariants();
      }
    }
    return moved;
  }

  let leader = null;
  let ticks = 0;
  while (leader === null && ticks < 1000) {
    ticks++;
    for (const n of nodes) n.core.tick();
    for (let round = 0; round < 100; round++) {
      const outbox = [];
      const moved = processReadies(outbox);
      for (const m of outbox) byId.get(m.to).core.step(m);
      if (!moved && outbox.length === 0) break;
    }
    for (const n of nodes) {
      const s = n.core.status();
      if (s.role === 'leader') leader = s;
    }
  }
  export const result = { leaderId: leader === null ? null : leader.id, term: leader === null ? 0 : leader.term, ticks };
`;

async function main(): Promise<void> {
  const context = vm.createContext({});
  new vm.Script(POISON, { filename: 'poison.js' }).runInContext(context);
  const modules = new Map<string, vm.SourceTextModule>();
  const load = (path: string, source?: string): vm.SourceTextModule => {
    const known = modules.get(path);
    if (known !== undefined) return known;
    const module = new vm.SourceTextModule(source ?? readFileSync(path, 'utf8'), { identifier: path, context });
    modules.set(path, module);
    return module;
  };
  const linker = (specifier: string, referencing: vm.Module): vm.Module => {
    if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
      throw new Error(`${relative(distRoot, referencing.identifier)} imports ${JSON.stringify(specifier)}: refused in the pure realm`);
    }
    const target = resolve(dirname(referencing.identifier), specifier);
    if (!allowedDirs.some((dir) => target.startsWith(dir + sep))) {
      throw new Error(`${relative(distRoot, referencing.identifier)} imports ${specifier}, outside src/raft and src/util`);
    }
    return load(target);
  };
  const driverPath = join(distRoot, 'src', 'raft', '__purity-election-driver.js');
  const driver = load(driverPath, (touchClock ? 'Date.now();\n' : '') + DRIVER);
  await driver.link(linker);
  await driver.evaluate();
  const { result } = driver.namespace as { result: { leaderId: string | null; term: number; ticks: number } };
  const modulesLoaded = [...modules.keys()].filter((p) => p !== driverPath).map((p) => relative(distRoot, p).split(sep).join('/'));
  process.stdout.write(`${JSON.stringify({ ...result, modulesLoaded })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
