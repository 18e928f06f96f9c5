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
//
// SCENARIO `matrix` (used by conformance.client_matrix) runs every scenario in this one process with the SDK's
// default retries, each bounded by SPEC_JSON's `timeout` (seconds), and records the client's own error per scenario.

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

async function runRawStream(client) {
  const eventTypes = [];
  const deltas = [];
  let stopReason = null;
  const stream = await client.messages.create({
    model: spec.model, max_tokens: spec.max_tokens, messages: userTurn(), stream: true,
  });
  for await (const event of stream) {
    eventTypes.push(event.type);
    if (event.type === 'content_block_delta' && event.delta?.type === 'text_delta') deltas.push(event.delta.text);
    if (event.type === 'message_delta') stopReason = event.delta?.stop_reason ?? null;
  }
  const text = deltas.join('');
  return { event_types: eventTypes, streamed_text: text, text, stop_reason: stopReason };
}

async function runWrongKey(client) {
  const wrong = client.withOptions({ apiKey: 'sk-ant-wrong-' + '0'.repeat(24) });
  const message = await wrong.messages.create({
    model: spec.model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }],
  });
  return { no_exception: true, ...summary(message) };
}

async function runBadRequest(client) {
  const message = await client.messages.create({ model: spec.model, max_tokens: 16, messages: [] });
  return { no_exception: true, ...summary(message) };
}

function runMatrixTools(client) {
  const saved = spec.prompt;
  spec.prompt = spec.tool_prompt; // read synchronously by runTools before its first await
  try {
    return runTools(client);
  } finally {
    spec.prompt = saved;
  }
}

const matrix = {
  create: runCreate, stream: runRawStream, stream_helper: runStream, tools: runMatrixTools,
  wrong_key: runWrongKey, bad_request: runBadRequest,
};

async function runMatrix() {
  const limit = Number(spec.timeout ?? 20);
  const results = {};
  for (const [name, scenario] of Object.entries(matrix)) {
    const started = Date.now();
    const before = requests.length;
    const client = new Anthropic({ apiKey: process.env.PROBE_API_KEY, baseURL, timeout: limit * 1000, fetch: recordingFetch });
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ timeout: true, error: `timed out after ${limit} s` }), limit * 1000);
    });
    const work = scenario(client).then(
      (result) => ({ result }),
      (error) => ({
        error_class: error?.constructor?.name ?? 'Error',
        error: `${error?.constructor?.name ?? 'Error'}: ${error?.message ?? String(error)}`.slice(0, 600),
        status: error?.status ?? null,
      }),
    );
    const record = await Promise.race([work, timeout]);
    clearTimeout(timer);
    record.requests = requests.slice(before).map(({ method, path, auth, status, content_type }) =>
      ({ method, path, auth, status, content_type }));
    record.seconds = (Date.now() - started) / 1000;
    results[name] = record;
  }
  console.log(JSON.stringify({ sdk_version: sdkVersion, scenarios: results }));
  process.exit(0); // a scenario that timed out may still hold a socket: do not wait for it
}

if (scenario === 'matrix') await runMatrix();

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
