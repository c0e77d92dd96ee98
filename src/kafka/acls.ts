/**
 * The Kafka ACLs one pipeline's principal needs, and nothing more: read its sources, own its
 * consumer groups and transactional ids (prefixed by the group), and be the only writer of its
 * alert outbox, dead-letter topic and state changelog. docs/operations.md shows them as
 * kafka-acls.sh commands; the secured-broker test grants exactly these and checks that they are
 * enough and that taking one away is reported by name.
 */
import type { PipelineConfig } from '../config/types.js';
import { changelogTopic } from '../state/changelog.js';
import { outboxTopic } from '../pipeline/runner.js';

export interface AclSpec {
  resource: 'topic' | 'group' | 'transactional-id';
  name: string;
  pattern: 'literal' | 'prefixed';
  operations: Array<'READ' | 'WRITE' | 'DESCRIBE' | 'CREATE'>;
  why: string;
}

export function pipelineAcls(cfg: PipelineConfig): AclSpec[] {
  const k = cfg.source.kafka;
  const own = (topic: string, why: string): AclSpec => ({ resource: 'topic', name: topic, pattern: 'literal', operations: ['READ', 'WRITE', 'DESCRIBE', 'CREATE'], why });
  return [
    ...k.topics.map((t): AclSpec => ({ resource: 'topic', name: t, pattern: 'literal', operations: ['READ', 'DESCRIBE'], why: 'consume events' })),
    own(outboxTopic(cfg), 'alert outbox: written in transactions, read by the delivery routes'),
    own(k.dead_letter_topic, 'dead letters'),
    own(changelogTopic(k.group), 'state changelog: written in transactions, read on restore'),
    { resource: 'group', name: k.group, pattern: 'prefixed', operations: ['READ', 'DESCRIBE'], why: 'the pipeline\'s consumer group and its delivery routes\' groups (<group>.alerts.<route>)' },
    { resource: 'transactional-id', name: k.group, pattern: 'prefixed', operations: ['WRITE', 'DESCRIBE'], why: 'checkpoint and publish transactions (<group>.state.*, <group>.out.*, <group>.preflight)' },
  ];
}

/** The same as kafka-acls.sh commands, for the docs and for operators. */
export function aclCommands(cfg: PipelineConfig, principal: string, bootstrap = '<broker:9093>'): string[] {
  return pipelineAcls(cfg).map((a) => {
    const res = a.resource === 'topic' ? `--topic ${a.name}` : a.resource === 'group' ? `--group ${a.name}` : `--transactional-id ${a.name}`;
    const ops = a.operations.map((o) => `--operation ${o[0]}${o.slice(1).toLowerCase()}`).join(' ');
    return `kafka-acls.sh --bootstrap-server ${bootstrap} --command-config admin.properties --add --allow-principal ${principal} ${ops} ${res}${a.pattern === 'prefixed' ? ' --resource-pattern-type prefixed' : ''}`;
  });
}
