// viem's simulateBlocks and simulateCalls (eth_simulateV1) against the L2 RPC: a block with a state
// override and block overrides, a call that emits a log, one that reverts. Prints one JSON line.
// usage: node tests/js/simulate.cjs HTTP_URL FROM_ADDRESS
"use strict";
const path = require("path");
const { createRequire } = require("module");
const load = createRequire(path.join(__dirname, "..", "..", "tools", "package.json"));
const viem = load("viem");

const [httpUrl, from] = process.argv.slice(2);
const EMITTER = "0x00000000000000000000000000000000000e0001";
const REVERTER = "0x00000000000000000000000000000000000e0002";
// LOG0 of the word 42, then return it
const EMITS = "0x602a60005260206000a060206000f3";
// revert with the word 0xdead
const REVERTS = "0x61dead60005260206000fd";

async function main() {
  const client = viem.createPublicClient({ transport: viem.http(httpUrl, { timeout: 60000 }) });
  const head = await client.getBlock();
  const blocks = await client.simulateBlocks({
    blockNumber: head.number, // on the block just read: a new head must not race the overrides
    blocks: [{
      blockOverrides: { number: head.number + 1n, time: head.timestamp + 60n },
      stateOverrides: [{ address: EMITTER, code: EMITS }, { address: REVERTER, code: REVERTS }],
      calls: [{ account: from, to: EMITTER }, { account: from, to: REVERTER }],
    }],
  });
  // one block per request block: viem pairs results with its blocks by index, so no skipped numbers
  const [block] = blocks;
  const [ok, bad] = block.calls;
  const calls = await client.simulateCalls({
    account: from,
    calls: [{ to: EMITTER }],
    stateOverrides: [{ address: EMITTER, code: EMITS }],
  });
  console.log(JSON.stringify({
    blocks: blocks.length, number: Number(block.number - head.number), timestamp: Number(block.timestamp - head.timestamp),
    ok: { status: ok.status, data: ok.data, logs: ok.logs.length, gasUsed: Number(ok.gasUsed) },
    bad: { status: bad.status, data: bad.data, error: String(bad.error && bad.error.name) },
    simulateCalls: { status: calls.results[0].status, data: calls.results[0].data },
  }, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
