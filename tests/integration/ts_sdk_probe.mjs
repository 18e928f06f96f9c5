// Run one scenario with the TypeScript SDK (@anthropic-ai/sdk) installed beside this file; print JSON.
//
// Usage: node ts_sdk_probe.mjs BASE_URL SCENARIO SPEC_JSON, with the key in $PROBE_API_KEY.
// The test copies this file into the directory where it installed the SDK, so that the import resolves.
//
// SCENARIO is `create` (messages.create), `stream` (messages.stream(), its events, then finalMessage())
// or `tools` (a tool round trip: create with a tool, run the tool, send the tool_result, create again).
// SPEC_JSON is {model, max_tokens, prompt} and, for `tools`, {tool: <definition>, table: {key: value}}:
// the tool looks the value of its `key` input up in `table`.
//
// Prints one JSON object: the SDK version, one record per HTTP exchange (which auth header was sent, never
// its value; anthropic-version; the response status and content type) and the scenario's result, or
// `error` (then the exit code is 1). Mirrors python_sdk_probe.py.

import { readFileSync } from 'node:fs';

import Anthropic from '@anthropic-ai/sdk';

const sdkPackage = new URL('./node_modules/@anthropic-ai/sdk/package.json', import.meta.url);
const sdkVersion = JSON.parse(readFileSync(sdkPackage, 'utf8')).version;

const [baseURL, scenario, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const requests = [];

async function recordingFetch(input, init) {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  const url = new URL(input instanceof Request ? input.url : String(input));
  const record = {
    method: init?.method ?? (input instanceof Request ? input.method : 'GET'),
    path: url.pathname,
    auth: ['x-api-key', 'authorization'].filter((name) => headers.get(name)).join('+') || 'none',
    anthropic_version: headers.get('anthropic-version'),
  };
  requests.push(record);
  const response = await fetch(input, init);
  record.status = response.status;
  record.content_type = response.headers.get('content-type');
  return response;
}

const textOf = (message) =>
  message.content
    .filter((block) => block.type === 'text')
    .map((block) => block.text)
    .join('');

const summary = (message) => ({
  id: message.id,
  text: textOf(message),
  stop_reason: message.stop_reason,
  content_types: message.content.map((block) => block.type),
});

const userTurn = () => [{ role: 'user', content: spec.prompt }];

async function runCreate(client) {
  return summary(await client.messages.create({ model: spec.model, max_tokens: spec.max_tokens, messages: userTurn() }));
}

async function runStream(client) {
  const eventTypes = [];
  const deltas = [];
  const stream = client.messages.stream({ model: spec.model, max_tokens: spec.max_tokens, messages: userTurn() });
  for await (const event of stream) {
    eventTypes.push(event.type);
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') deltas.push(event.delta.text);
  }
  const final = await stream.finalMessage();
  return { ...summary(final), event_types: eventTypes, streamed_text: deltas.join('') };
}

async function runTools(client) {
  const { tool, table } = spec;
  const messages = userTurn();
  const first = await client.messages.create({ model: spec.model, max_tokens: spec.max_tokens, tools: [tool], messages });
  const calls = first.content.filter((block) => block.type === 'tool_use');
  const result = { first: summary(first), tool_calls: calls.map(({ id, name, input }) => ({ id, name, input })) };
  if (calls.length === 0) return result;
  messages.push({ role: 'assistant', content: first.content });
  messages.push({
    role: 'user',
    content: calls.map((call) => {
      const key = call.input?.key;
      const found = call.name === tool.name && Object.hasOwn(table, key);
      return {
        type: 'tool_result',
        tool_use_id: call.id,
        content: found ? table[key] : `no entry for ${JSON.stringify(key)} in ${call.name}`,
        is_error: !found,
      };
    }),
  });
  const final = await client.messages.create({ model: spec.model, max_tokens: spec.max_tokens, tools: [tool], messages });
  result.final = summary(final);
  return result;
}

const scenarios = { create: runCreate, stream: runStream, tools: runTools };
const output = { sdk_version: sdkVersion, requests };
try {
  const client = new Anthropic({
    apiKey: process.env.PROBE_API_KEY,
    baseURL,
    maxRetries: 0,
    timeout: 60_000,
    fetch: recordingFetch,
  });
  output.result = await scenarios[scenario](client);
  console.log(JSON.stringify(output));
} catch (error) {
  output.error = `${error?.constructor?.name ?? 'Error'}: ${error?.message ?? String(error)}`;
  console.log(JSON.stringify(output));
  process.exitCode = 1;
}
