// RocketMQ ACL permissions (org.apache.rocketmq.acl.common.Permission): bit flags, as plain_acl.yml
// spells them, and the check of one needed permission against one owned permission.

export const Perm = { DENY: 1, ANY: 2, PUB: 4, SUB: 8 } as const;

/** The spellings plain_acl.yml accepts (RocketMQ maps anything else to DENY; we refuse it). */
const PERM_BY_NAME: Readonly<Record<string, number>> = {
  DENY: Perm.DENY,
  PUB: Perm.PUB,
  SUB: Perm.SUB,
  'PUB|SUB': Perm.PUB | Perm.SUB,
  'SUB|PUB': Perm.PUB | Perm.SUB,
};

/** The permission a spelling stands for, or null when it is none of DENY, PUB, SUB, PUB|SUB. */
export function parsePerm(text: string): number | null {
  const perm = PERM_BY_NAME[text.trim()];
  return perm === undefined ? null : perm;
}

export function permName(perm: number): string {
  if ((perm & Perm.DENY) !== 0) return 'DENY';
  const names = [];
  if ((perm & Perm.PUB) !== 0) names.push('PUB');
  if ((perm & Perm.SUB) !== 0) names.push('SUB');
  return names.length === 0 ? 'NONE' : names.join('|');
}

/** Permission.checkPermission: DENY owned refuses everything; ANY needs PUB or SUB. */
export function permits(needed: number, owned: number): boolean {
  if ((owned & Perm.DENY) !== 0) return false;
  if ((needed & Perm.ANY) !== 0) return (owned & (Perm.PUB | Perm.SUB)) !== 0;
  return (needed & owned) !== 0;
}
