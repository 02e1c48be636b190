// MQVersion.Version's names by ordinal (what Connection.version carries), for
// MQVersion.getVersionDesc: the enum is regular past its first 16 entries, so it is generated
// (checked: V3_0_11 = 37 and V4_9_4 = 401, as src/remoting/codes.ts says; ali-ons' 121 = V3_4_9).
const NAMES: string[] = (() => {
  const names = ['V3_0_0_SNAPSHOT', 'V3_0_0_ALPHA1', 'V3_0_0_BETA1', 'V3_0_0_BETA2', 'V3_0_0_BETA3', 'V3_0_0_BETA4', 'V3_0_0_BETA5', 'V3_0_0_BETA6_SNAPSHOT', 'V3_0_0_BETA6',
    'V3_0_0_BETA7_SNAPSHOT', 'V3_0_0_BETA7', 'V3_0_0_BETA8_SNAPSHOT', 'V3_0_0_BETA8', 'V3_0_0_BETA9_SNAPSHOT', 'V3_0_0_BETA9', 'V3_0_0_FINAL'];
  const add = (v: string): void => void names.push(`${v}_SNAPSHOT`, v);
  for (let p = 1; p <= 15; p++) add(`V3_0_${p}`);
  for (const minor of [1, 2]) for (let p = 0; p <= 9; p++) add(`V3_${minor}_${p}`);
  for (let minor = 3; minor <= 9; minor++) for (let p = 1; p <= 9; p++) add(`V3_${minor}_${p}`);
  for (const major of [4, 5]) for (let minor = 0; minor <= 9; minor++) for (let p = 0; p <= 9; p++) add(`V${major}_${minor}_${p}`);
  names.push('HIGHER_VERSION');
  return names;
})();

export const MQVersionNames = {
  /** getVersionDesc: the name of an ordinal; past the end, the last name. */
  desc(ordinal: number): string {
    if (!Number.isInteger(ordinal) || ordinal < 0) return String(ordinal);
    return NAMES[Math.min(ordinal, NAMES.length - 1)] as string;
  },
};
