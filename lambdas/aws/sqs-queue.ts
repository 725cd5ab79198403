/** The intake queue for the API, ChatOps and the new-beacon triggers: the body is the request JSON, unchanged. */
import { type MessageAttributeValue, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EnqueueMeta, RequestQueue } from '../core/ports.js';
import type { OperatorCommand } from '../core/rollout-control.js';
import { MESSAGE_ATTRIBUTES, OPERATOR_MESSAGE_KIND } from '../intake/message-attributes.js';

export class SqsRequestQueue implements RequestQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(request: Record<string, unknown>, meta: EnqueueMeta): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = { [MESSAGE_ATTRIBUTES.source]: { DataType: 'String', StringValue: meta.source } };
    if (meta.replyTo) attributes[MESSAGE_ATTRIBUTES.replyTo] = { DataType: 'String', StringValue: JSON.stringify(meta.replyTo) };
    if (meta.rerunOf) attributes[MESSAGE_ATTRIBUTES.rerunOf] = { DataType: 'String', StringValue: meta.rerunOf };
    if (meta.caller) attributes[MESSAGE_ATTRIBUTES.caller] = { DataType: 'String', StringValue: JSON.stringify(meta.caller) };
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(request), MessageAttributes: attributes }));
  }

  async enqueueCommand(command: OperatorCommand, meta: Omit<EnqueueMeta, 'rerunOf'>): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {
      [MESSAGE_ATTRIBUTES.source]: { DataType: 'String', StringValue: meta.source },
      [MESSAGE_ATTRIBUTES.kind]: { DataType: 'String', StringValue: OPERATOR_MESSAGE_KIND },
    };
    if (meta.replyTo) attributes[MESSAGE_ATTRIBUTES.replyTo] = { DataType: 'String', StringValue: JSON.stringify(meta.replyTo) };
    if (meta.caller) attributes[MESSAGE_ATTRIBUTES.caller] = { DataType: 'String', StringValue: JSON.stringify(meta.caller) };
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(command), MessageAttributes: attributes }));
  }
}
