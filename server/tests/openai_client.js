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

  const cmpl = await client.completions.create({ model, prompt: '17 + 25 =', max_tokens: 4, temperature: 0 });
  assert.strictEqual(cmpl.choices[0].finish_reason, 'length');

  await assert.rejects(
    client.chat.completions.create({ model, messages: question, temperature: 'hot' }),
    (e) => e.status === 400 && /temperature/.test(e.message));
  console.log('openai node client: all requests completed');
}

main().catch((e) => { console.error(e); process.exit(1); });
