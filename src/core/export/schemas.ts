import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { QxError } from '../errors.js';
import type { ExportFormat } from '../workspace/api.js';

/*
 * JSON Schemas of one record of each export format. Every record is validated against its schema
 * before anything is written, so a file we write is one the trainer accepts.
 * - trl-standard / trl-conversational: TRL preference datasets ("standard" = plain strings,
 *   "conversational" = lists of {role, content}); TRL ignores extra columns, so flat provenance
 *   columns ride along (all always present, with fixed types, so Arrow infers one schema).
 * - openai-preference: OpenAI's DPO fine-tuning line. OpenAI validates uploads strictly, so no
 *   extra fields: provenance lives in the manifest only.
 * - llama-factory: LLaMA-Factory's sharegpt-style preference format (`ranking: true`); unmapped
 *   columns are dropped by its loader, so provenance columns ride along.
 * - sft-messages: chat `messages` (system?, user, assistant) for supervised distillation.
 */

const text = { type: 'string', minLength: 1 } as const;

const provenanceProps = {
  dataset: { type: 'string' },
  qid: { type: 'string', minLength: 1 },
  pair_id: { type: 'string', minLength: 1 },
  margin: { type: 'number' },
  chosen_ndcg10: { type: 'number', minimum: 0, maximum: 1 },
  rejected_ndcg10: { type: 'number', minimum: 0, maximum: 1 },
  original_ndcg10: { type: 'number', minimum: 0, maximum: 1 },
  chosen_model: { type: 'string' },
  rejected_model: { type: 'string' },
} as const;
const provenanceRequired = Object.keys(provenanceProps);

const promptMessage = {
  type: 'object',
  required: ['role', 'content'],
  additionalProperties: false,
  properties: { role: { enum: ['system', 'user'] }, content: text },
} as const;

const assistantMessage = {
  type: 'object',
  required: ['role', 'content'],
  additionalProperties: false,
  properties: { role: { const: 'assistant' }, content: text },
} as const;

/** A prompt: optional system message first, then exactly one user message. */
const promptMessages = {
  type: 'array',
  minItems: 1,
  maxItems: 2,
  items: promptMessage,
  contains: { type: 'object', properties: { role: { const: 'user' } } },
  minContains: 1,
  maxContains: 1,
} as const;

const oneAssistant = { type: 'array', minItems: 1, maxItems: 1, items: assistantMessage } as const;

const sharegptTurn = (from: string): object => ({
  type: 'object',
  required: ['from', 'value'],
  additionalProperties: false,
  properties: { from: { const: from }, value: text },
});

/** JSON Schema of one JSONL record of each format. */
export const recordSchemas: Record<ExportFormat, object> = {
  'trl-standard': {
    type: 'object',
    required: ['prompt', 'chosen', 'rejected', ...provenanceRequired],
    additionalProperties: false,
    properties: { prompt: text, chosen: text, rejected: text, ...provenanceProps },
  },
  'trl-conversational': {
    type: 'object',
    required: ['prompt', 'chosen', 'rejected', ...provenanceRequired],
    additionalProperties: false,
    properties: { prompt: promptMessages, chosen: oneAssistant, rejected: oneAssistant, ...provenanceProps },
  },
  'openai-preference': {
    type: 'object',
    required: ['input', 'preferred_output', 'non_preferred_output'],
    additionalProperties: false,
    properties: {
      input: {
        type: 'object',
        required: ['messages'],
        additionalProperties: false,
        properties: { messages: promptMessages },
      },
      preferred_output: oneAssistant,
      non_preferred_output: oneAssistant,
    },
  },
  'llama-factory': {
    type: 'object',
    required: ['conversations', 'chosen', 'rejected', ...provenanceRequired],
    additionalProperties: false,
    properties: {
      conversations: { type: 'array', minItems: 1, maxItems: 1, items: sharegptTurn('human') },
      system: text,
      chosen: sharegptTurn('gpt'),
      rejected: sharegptTurn('gpt'),
      ...provenanceProps,
    },
  },
  'sft-messages': {
    type: 'object',
    required: ['messages', 'dataset', 'qid', 'expansion_id', 'model', 'ndcg10', 'original_ndcg10'],
    additionalProperties: false,
    properties: {
      messages: {
        type: 'array',
        minItems: 2,
        maxItems: 3,
        items: { anyOf: [promptMessage, assistantMessage] },
        contains: assistantMessage,
        minContains: 1,
        maxContains: 1,
      },
      dataset: { type: 'string' },
      qid: { type: 'string', minLength: 1 },
      expansion_id: { type: 'string', minLength: 1 },
      model: { type: 'string' },
      ndcg10: { type: 'number', minimum: 0, maximum: 1 },
      original_ndcg10: { type: 'number', minimum: 0, maximum: 1 },
    },
  },
};

/** Schema of one entry of LLaMA-Factory's `dataset_info.json` as we write it. */
export const llamaFactoryDatasetInfoSchema = {
  type: 'object',
  required: ['file_name', 'formatting', 'ranking', 'columns'],
  properties: {
    file_name: text,
    formatting: { const: 'sharegpt' },
    ranking: { const: true },
    columns: {
      type: 'object',
      required: ['messages', 'chosen', 'rejected'],
      properties: { messages: text, chosen: text, rejected: text, system: text },
    },
  },
} as const;

const ajv = new Ajv2020({ allErrors: false, strict: true });
const validators = new Map<string, ValidateFunction>();

function validatorFor(key: string, schema: object): ValidateFunction {
  let v = validators.get(key);
  if (v === undefined) {
    v = ajv.compile(schema);
    validators.set(key, v);
  }
  return v;
}

/**
 * Validates export records against the JSON Schema of `format`. Throws QxError('export') naming
 * the first bad record (1-based, as it would be the line of the JSONL) and what is wrong.
 * `label(i)` may add an identifier, e.g. the pair id.
 */
export function validateRecords(format: ExportFormat, records: readonly unknown[], label: (index: number) => string = () => ''): void {
  const validate = validatorFor(format, recordSchemas[format]);
  for (let i = 0; i < records.length; i++) {
    if (!validate(records[i])) {
      const err = validate.errors?.[0];
      const where = err === undefined ? '' : `${err.instancePath || '(record)'} ${err.message ?? ''}`;
      const extra = label(i);
      throw new QxError('export', `record ${i + 1}${extra === '' ? '' : ` (${extra})`} does not match the ${format} schema: ${where.trim()}; nothing was written`, {
        hint: 'This is a bug in QX Studio or damaged store data; report it with the record.',
      });
    }
  }
}

/** Validates one `dataset_info.json` entry; throws QxError('export') when it does not match. */
export function validateDatasetInfoEntry(entry: unknown): void {
  const validate = validatorFor('dataset_info', llamaFactoryDatasetInfoSchema);
  if (!validate(entry)) {
    throw new QxError('export', `dataset_info.json entry does not match LLaMA-Factory's format: ${ajv.errorsText(validate.errors)}`);
  }
}
