// The core's only output besides Readies: one readable line per notable event (role changes,
// votes, commits, refusals). The node routes it to its log; tests print it in transcripts.
export interface RaftLogger {
  info(line: string): void;
}

export const SILENT_LOGGER: RaftLogger = { info: () => {} };
