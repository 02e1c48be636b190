// The name server's data model, field for field as RocketMQ's TopicConfig, QueueData, BrokerData
// and DataVersion, so toFastjson renders them as Java clients expect.

/** Topic permission bits (PermName): 6 = read + write. */
export const PERM_PRIORITY = 8;
export const PERM_READ = 4;
export const PERM_WRITE = 2;
export const PERM_INHERIT = 1;

/** brokerId of the master; in DLedger mode, the group's leader. */
export const MASTER_ID = 0;

export interface TopicConfig {
  readonly topicName: string;
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
  readonly topicFilterType: string;
  readonly topicSysFlag: number;
  readonly order: boolean;
}

export interface DataVersion {
  readonly timestamp: number;
  readonly counter: number;
  readonly stateVersion: number;
}

export interface QueueData {
  readonly brokerName: string;
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
  readonly topicSysFlag: number;
}

export interface BrokerData {
  readonly cluster: string;
  readonly brokerName: string;
  /** brokerId → "host:port"; a Map so its keys serialize as fastjson's Long keys. */
  readonly brokerAddrs: Map<number, string>;
  readonly enableActingMaster: boolean;
}

export interface TopicRouteData {
  readonly queueDatas: QueueData[];
  readonly brokerDatas: BrokerData[];
  readonly filterServerTable: Record<string, string[]>;
}

export interface ClusterInfo {
  readonly brokerAddrTable: Record<string, BrokerData>;
  readonly clusterAddrTable: Record<string, string[]>;
}
