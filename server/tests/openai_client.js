// The official OpenAI Node client against lfm2moe-server (run by
// test_openai_node.py with the client installed by npm in a temporary folder).
const assert = require('assert');
const mod = require('openai');
const OpenAI = mod.OpenAI || mod.default || mod;

const [port, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'node-key', maxRetries: 0 });
const question = [{ role: 'user', content: 'What is 17 plus 25?' }];
const tools = [{
  type: 'function',
  function: {
    name: 'add', description: 'add two numbers',
    parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } } },
  },
}];

async function main() {
  const models = await client.models.list();
  assert.strictEqual(models.data[0].id, model);

  const whole = await client.chat.completions.create({ model, messages: question, temperature: 0 });
  assert.strictEqual(whole.choices[0].message.content, '17 + 25 = 42.');
  assert.strictEqual(whole.choices[0].finish_reason, 'stop');

  const stream = await client.chat.completions.create({
    model, messages: question, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let text = '', usage = null, finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content || '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.strictEqual(text, '17 + 25 = 42.');
  assert.strictEqual(finish, 'stop');
  assert.strictEqual(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);

  // a tool-calling conversation: tools offered, an earlier call and its result
  const tool = await client.chat.completions.create({
    model, temperature: 0, max_tokens: 16, tools, tool_choice: 'auto',
    messages: question.concat([
      { role: 'assistant', content: null, tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'add', arguments: '{"a": 17, "b": 25}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '42' }]),
  });
  assert.ok(['stop', 'length', 'tool_calls'].includes(tool.choices[0].finish_reason));

  // a forced call, whole and streamed (the deltas assembled by index, as clients do)
  const forced = { model, temperature: 0, tools, tool_choice: { type: 'function', function: { name: 'add' } },
    messages: question };
  const call = await client.chat.completions.create(forced);
  assert.strictEqual(call.choices[0].finish_reason, 'tool_calls');
  const calls = call.choices[0].message.tool_calls;
  assert.ok(calls.length >= 1 && calls.every((c) => c.function.name === 'add'));
  const parsed = calls.map((c) => JSON.parse(c.function.arguments));
  const assembled = [];
  let callFinish = null;
  for await (const chunk of await client.chat.completions.create({ ...forced, stream: true })) {
    for (const c of chunk.choices) {
      for (const d of c.delta.tool_calls || []) {
        if (!assembled[d.index]) assembled[d.index] = { name: '', arguments: '' };
        assembled[d.index].name += (d.function && d.function.name) || '';
        assembled[d.index].arguments += (d.function && d.function.arguments) || '';
      }
      if (c.finish_reason) callFinish = c.finish_reason;
    }
  }
  assert.strictEqual(callFinish, 'tool_calls');
  assert.deepStrictEqual(assembled.map((c) => c.name), calls.map((c) => c.function.name));
  assert.deepStrictEqual(assembled.map((c) => JSON.parse(c.arguments)), parsed);

  // JSON output under a schema
  const schema = { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'],
    additionalProperties: false };
  const js = await client.chat.completions.create({
    model, temperature: 0, messages: question,
    response_format: { type: 'json_schema', json_schema: { name: 'sum', strict: true, schema } },
  });
  assert.strictEqual(typeof JSON.parse(js.choices[0].message.content).answer, 'number');

  const cmpl = await client.completions.create({ model, prompt: '17 + 25 =', max_tokens: 4, temperature: 0 });
  assert.strictEqual(cmpl.choices[0].finish_reason, 'length');

  await assert.rejects(
    client.chat.completions.create({ model, messages: question, temperature: 'hot' }),
    (e) => e.status === 400 && /temperature/.test(e.message));
  console.log('openai node client: all requests completed');
}

main().catch((e) => { console.error(e); process.exit(1); });
