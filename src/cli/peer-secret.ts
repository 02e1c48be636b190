// `node dist/src/cli/peer-secret.js FILE...`: create each missing FILE with a fresh random group
// secret (32 random bytes, hex, mode 0600); existing files are left alone. The quick starts
// (bin/dledger/fast-try.sh) call it before the first start, so a new group is never open.
import { ensureSecretFile } from '../node/peer-auth.js';

const files = process.argv.slice(2);
if (files.length === 0 || files.includes('--help') || files.includes('-h')) {
  console.error('usage: peer-secret FILE...  (creates each missing FILE with a random secret, mode 0600)');
  process.exit(files.length === 0 ? 1 : 0);
}
try {
  for (const file of files) if (ensureSecretFile(file)) console.log(`created the group secret file ${file} (mode 0600)`);
} catch (error) {
  console.error(`peer-secret: ${(error as Error).message}`);
  process.exit(1);
}
