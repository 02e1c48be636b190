// RocketMQ's SendMessageProcessor.diskUtil(): the used fraction of the disks holding the commit
// log, the consume queues and the index files, as "CL: %5.2f CQ: %5.2f INDEX: %5.2f" (a path
// that does not exist gives -1, as UtilAll.getDiskPartitionSpaceUsedPercent), and the remark a
// send refused on a full disk carries.
import fs from 'node:fs';
import path from 'node:path';

function usedFractionOf(directoryPath: string): number {
  if (!fs.existsSync(directoryPath)) return -1;
  const stats = fs.statfsSync(directoryPath);
  return stats.blocks === 0 ? -1 : 1 - stats.bavail / stats.blocks;
}

/** Java's String.format("%5.2f", x). */
function javaFixed(value: number): string {
  return value.toFixed(2).padStart(5, ' ');
}

export function diskUtil(commitLogRatio: number, storePathRootDir: string): string {
  const cq = usedFractionOf(path.join(storePathRootDir, 'consumequeue'));
  const index = usedFractionOf(path.join(storePathRootDir, 'index'));
  return `CL: ${javaFixed(commitLogRatio)} CQ: ${javaFixed(cq)} INDEX: ${javaFixed(index)}`;
}

/** RocketMQ's remark for PutMessageStatus.SERVICE_NOT_AVAILABLE (SendMessageProcessor). */
export function diskFullRemark(commitLogRatio: number, storePathRootDir: string): string {
  return 'service not available now. It may be caused by one of the following reasons: '
    + `the broker's disk is full [${diskUtil(commitLogRatio, storePathRootDir)}], messages are put to the slave, message store has been shut down, etc.`;
}
