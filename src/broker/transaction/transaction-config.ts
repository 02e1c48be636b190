// The broker keys of transactional messages (RocketMQ's BrokerConfig names), validated with the
// other broker keys (src/broker/config.ts) before anything starts.
//   transactionCheckInterval    ms between two passes of the check loop (RocketMQ 5: 30 s; 4.9: 60 s)
//   transactionTimeOut          ms after its birth before a half message is first checked (6 s),
//                               unless it carries CHECK_IMMUNITY_TIME_IN_SECONDS
//   transactionCheckMax         checks of one half message; the next pass discards it into
//                               TRANS_CHECK_MAX_TIME_TOPIC (never visible in its topic): 15
//   rejectTransactionMessage    true: a prepared (TRAN_MSG) send is refused with NO_PERMISSION
//   transactionHalfMessagesMax  half messages pending at once; a prepare beyond is refused (bound)
import { integerIn, type KeySource, type KeyTable, readKeyTable, trueOrFalse, type ValuesOf } from '../../util/key-table.js';

const DAY_MS = 24 * 3_600_000;

export const TRANSACTION_TABLE = {
  checkIntervalMs: { key: 'transactionCheckInterval', defaultValue: '30000', doc: 'ms between two passes of the transaction check loop (RocketMQ 5: 30000; 4.9: 60000)', type: integerIn(100, DAY_MS) },
  timeoutMs: { key: 'transactionTimeOut', defaultValue: '6000', doc: 'ms after its birth before a half message is first checked', type: integerIn(0, DAY_MS) },
  checkMax: { key: 'transactionCheckMax', defaultValue: '15', doc: 'checks of one half message before it is discarded into TRANS_CHECK_MAX_TIME_TOPIC', type: integerIn(1, 10_000) },
  rejectTransactionMessage: { key: 'rejectTransactionMessage', defaultValue: 'false', doc: 'refuse prepared (transactional) sends', type: trueOrFalse },
  halfMessagesMax: { key: 'transactionHalfMessagesMax', defaultValue: '100000', doc: 'half messages pending at once; prepares beyond are refused', type: integerIn(1, 10_000_000) },
} satisfies KeyTable;

export type TransactionConfig = ValuesOf<typeof TRANSACTION_TABLE>;

export function parseTransactionConfig(source: KeySource): TransactionConfig {
  return readKeyTable(TRANSACTION_TABLE, source);
}
