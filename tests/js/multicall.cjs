// viem's multicall against the L2 RPC: it batches reads through Multicall3 at its usual address
// (0xcA11bde05977b3631167028862bE2a173976CA11). Prints one JSON line for the Python test to check.
// usage: node tests/js/multicall.cjs HTTP_URL ADDRESS
"use strict";
const path = require("path");
const { createRequire } = require("module");
const load = createRequire(path.join(__dirname, "..", "..", "tools", "package.json"));
const viem = load("viem");

const [httpUrl, address] = process.argv.slice(2);
const MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11";

(async () => {
  const probe = viem.createPublicClient({ transport: viem.http(httpUrl) });
  const chain = viem.defineChain({
    id: await probe.getChainId(), name: "devnet-l2", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [httpUrl] } }, contracts: { multicall3: { address: MULTICALL3 } },
  });
  const client = viem.createPublicClient({ chain, transport: viem.http(httpUrl) });
  const calls = [
    { address: MULTICALL3, abi: viem.multicall3Abi, functionName: "getEthBalance", args: [address] },
    { address: MULTICALL3, abi: viem.multicall3Abi, functionName: "getCurrentBlockTimestamp" },
  ];
  const [balance, timestamp] = await client.multicall({ contracts: calls, allowFailure: false, blockTag: "latest" });
  console.log(JSON.stringify({ balance: balance.toString(), timestamp: Number(timestamp) }));
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
