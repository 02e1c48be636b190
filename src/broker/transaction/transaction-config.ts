// The broker keys of transactional messages (RocketMQ's BrokerConfig names), validated with the
// other broker keys (src/broker/config.ts) before anything starts.
//   transactionCheckInterval    ms between two passes of the check loop (RocketMQ 5: 30 s; 4.9: 60 s)
//   transactionTimeOut          ms after its birth before a half message is first checked (6 s),
//                               unless it carries CHECK_IMMUNITY_TIME_IN_SECONDS
//   transactionCheckMax         checks of one half message; the next pass discards it into
//                               TRANS_CHECK_MAX_TIME_TOPIC (never visible in its topic): 15
//   rejectTransactionMessage    true: a prepared (TRAN_MSG) send is refused with NO_PERMISSION
//   transactionHalfMessagesMax  half messages pending at once; a prepare beyond is refused (bound)
export const TRANSACTION_KEYS: Readonly<Record<string, { readonly defaultValue: string; readonly doc: string }>> = {
  transactionCheckInterval: { defaultValue: '30000', doc: 'ms between two passes of the transaction check loop (RocketMQ 5: 30000; 4.9: 60000)' },
  transactionTimeOut: { defaultValue: '6000', doc: 'ms after its birth before a half message is first checked' },
  transactionCheckMax: { defaultValue: '15', doc: 'checks of one half message before it is discarded into TRANS_CHECK_MAX_TIME_TOPIC' },
  rejectTransactionMessage: { defaultValue: 'false', doc: 'refuse prepared (transactional) sends' },
  transactionHalfMessagesMax: { defaultValue: '100000', doc: 'half messages pending at once; prepares beyond are refused' },
};

export interface TransactionConfig {
  readonly checkIntervalMs: number;
  readonly timeoutMs: number;
  readonly checkMax: number;
  readonly rejectTransactionMessage: boolean;
  readonly halfMessagesMax: number;
}

export function parseTransactionConfig(
  integer: (key: string, min: number, max: number) => number,
  boolean: (key: string) => boolean,
): TransactionConfig {
  return {
    checkIntervalMs: integer('transactionCheckInterval', 100, 24 * 3_600_000),
    timeoutMs: integer('transactionTimeOut', 0, 24 * 3_600_000),
    checkMax: integer('transactionCheckMax', 1, 10_000),
    rejectTransactionMessage: boolean('rejectTransactionMessage'),
    halfMessagesMax: integer('transactionHalfMessagesMax', 1, 10_000_000),
  };
}
